// Chaos for asynchronous tuning: the worker process is killed (SIGKILL) while a
// model version's buffer is part full and started again. Updates travel over a
// real Pulsar broker, models and buffered updates live in a filesystem blob
// store, and the buffer itself (digests) in workflow history, so nothing of it
// lives only in the dead process. The agents follow a script (each update a
// function of its agent and base version, the same list per version in both
// runs), so the job must end on a model bit-identical to an undisturbed run.
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import { scriptedSwarm, type ScriptedSwarm, type ScriptedUpdate } from './support/async-script';
import { uniqueId, waitFor } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';
const VERSIONS = 6;
const KILLED_IN_VERSION = 3;

/**
 * The updates sent while version v is the newest, in this order: three that
 * count (fresh, one version old, two versions old once there are such
 * versions) and, from version 3 on, one three versions old that is refused.
 * No agent sends two updates on one base.
 */
function updatesFor(v: number): ScriptedUpdate[] {
  return [
    ...(v >= 3 ? [{ agent: 5, base: v - 3 }] : []),
    { agent: 0, base: v },
    v >= 1 ? { agent: 1, base: v - 1 } : { agent: 3, base: 0 },
    v >= 2 ? { agent: 2, base: v - 2 } : { agent: 4, base: v },
  ];
}

describe('a worker killed while an asynchronous buffer is part full', () => {
  const stack = new WorkerChaosStack('async-chaos');
  const swarms: ScriptedSwarm[] = [];

  beforeAll(() => stack.start());
  afterAll(() => stack.close(swarms));

  /** Runs the job on a fresh scripted swarm; `midBuffer` runs once the killed version's buffer holds one update and a second is on the topic. */
  async function run(midBuffer?: () => Promise<void>): Promise<{ result: TuningProgress; maxAttempt: number }> {
    const swarmId = uniqueId('fedbuff-chaos');
    const swarm = await scriptedSwarm({
      apiUrl: stack.api.url,
      messaging: stack.agentMessaging,
      swarmId,
      trainers: digitsTrainers({ agents: 6, alpha: 0.5, seed: 21 }),
    });
    swarms.push(swarm);
    await waitFor(
      'every agent ACTIVE',
      async () => ((await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 6 ? true : undefined),
      60_000,
    );
    const { jobId } = await stack.api.tuning.start({
      swarmId,
      mode: 'async',
      bufferSize: 3,
      maxStaleness: 2,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      rounds: VERSIONS,
      fraction: 1,
      minParticipants: 1,
      roundTimeoutMs: 30_000,
      maxRoundAttempts: 1,
      strategy: 'fedavg',
      strategyOptions: {},
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: VERSIONS,
      seed: 5,
    });
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    for (let v = 0; v < VERSIONS; v++) {
      await swarm.version(v);
      const updates = updatesFor(v);
      if (v !== KILLED_IN_VERSION) {
        for (const update of updates) await swarm.publish(jobId, update);
        continue;
      }
      // The refused update and the first that counts, recorded in the buffer...
      await swarm.publish(jobId, updates[0]);
      await swarm.publish(jobId, updates[1]);
      await waitFor(
        'the buffer to record its first update',
        async () => ((await handle.query<TuningProgress>('tuningProgress')).buffered === 1 ? true : undefined),
        30_000,
        50,
      );
      // ...a second on the topic, possibly read but not yet recorded, and the last still to come.
      await swarm.publish(jobId, updates[2]);
      await midBuffer?.();
      await swarm.publish(jobId, updates[3]);
    }
    const result: TuningProgress = await handle.result();
    const events = (await handle.fetchHistory()).events ?? [];
    const maxAttempt = Math.max(...events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
    return { result, maxAttempt };
  }

  it('loses no buffered update, counts none twice, and ends on the same bits as an undisturbed run', async () => {
    const calm = await run();
    expect(calm.result.status).toBe('COMPLETED');

    const stormy = await run(async () => {
      await stack.restartWorker();
    });

    expect(stormy.maxAttempt).toBeGreaterThanOrEqual(2); // the collection was cut short and run again
    expect(stormy.result.status).toBe('COMPLETED');
    const summary = (progress: TuningProgress) => progress.recentVersions!.map(({ durationMs: _, ...version }) => version);
    expect(summary(calm.result).map((v) => [v.buffered, v.refusedStale, v.meanStaleness])).toEqual([
      [3, 0, 0],
      [3, 0, 1 / 3],
      [3, 0, 1],
      [3, 1, 1],
      [3, 1, 1],
      [3, 1, 1],
    ]);
    expect(stormy.result.globalDigest).toBe(calm.result.globalDigest);
    expect(summary(stormy.result)).toEqual(summary(calm.result));
  }, 300_000);
});
