// Chaos: the worker process is killed (SIGKILL) in the middle of a round's
// aggregation and started again. Updates travel over a real Pulsar broker and
// models live in a filesystem blob store, so nothing of the round lives only
// in the dead process. The job must finish with a final model bit-identical
// to an undisturbed run of the same job.
import { temporal } from '@temporalio/proto';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import { uniqueId, waitFor } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

describe('a worker killed mid-aggregation', () => {
  const stack = new WorkerChaosStack('chaos');
  const swarms: SwarmSimulation[] = [];

  beforeAll(() => stack.start());
  afterAll(() => stack.close(swarms));

  /** Six agents on digits; agent i answers i x 250 ms late, so a round's updates trickle in. */
  async function swarm(swarmId: string): Promise<void> {
    const trainers = digitsTrainers({ agents: 6, alpha: 0.5, seed: 21 }).map(
      (train, i): Trainer =>
        async (task) => {
          await new Promise((resolve) => setTimeout(resolve, i * 250));
          return train(task);
        },
    );
    const simulation = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.agentMessaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 2000,
    });
    swarms.push(simulation);
    expect(simulation.failed).toEqual([]);
    await waitFor(
      'every agent ACTIVE',
      async () => ((await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 6 ? true : undefined),
      60_000,
    );
  }

  async function startJob(swarmId: string): Promise<string> {
    const { jobId } = await stack.api.tuning.start({
      swarmId,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      rounds: 3,
      fraction: 1,
      minParticipants: 6,
      roundTimeoutMs: 30_000,
      maxRoundAttempts: 2,
      strategy: 'fedavg',
      strategyOptions: {},
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: 3,
      seed: 5,
    });
    return jobId;
  }

  it('loses no update, counts none twice, and ends on the same bits as an undisturbed run', async () => {
    const calm = uniqueId('calm');
    await swarm(calm);
    const reference: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(await startJob(calm))).result();
    expect(reference.status).toBe('COMPLETED');

    const stormy = uniqueId('storm');
    await swarm(stormy);
    const jobId = await startJob(stormy);
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    // Kill the worker while round 2's aggregation has taken in some updates but not all.
    await waitFor(
      'round 2 aggregation in progress',
      async () => {
        const described = await handle.describe();
        const progress = await handle.query<TuningProgress>('tuningProgress');
        const pending = described.raw.pendingActivities?.find(
          (a) => a.activityType?.name === 'collectAndAggregate' && a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
        );
        return progress.round === 1 && pending ? true : undefined;
      },
      60_000,
      50,
    );
    // Fault injection, not a wait for a condition: soon enough that the aggregation is still
    // collecting (on a quiet machine 600 ms was enough for it to finish, and the kill missed it).
    await new Promise((resolve) => setTimeout(resolve, 150));
    await stack.restartWorker();

    const result: TuningProgress = await handle.result();
    // The aggregation really was cut short and run again by the new worker.
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([6, 6, 6]);
    expect(result.globalDigest).toBe(reference.globalDigest);
    expect(result.recentRounds.at(-1)!.accuracy).toBe(reference.recentRounds.at(-1)!.accuracy);
  }, 240_000);
});
