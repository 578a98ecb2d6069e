// Federated tuning for heterogeneous swarms on the real Temporal dev server: work budgets
// (localSteps or epochs, a time budget, budgets scaled by declared capacity), partial work
// kept or dropped by the job's straggler policy, rounds that close early, late updates counted
// in their own round, and agents that abandon a round superseded by the next.
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import type { AgentResources } from '../core/agents';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { RoundTask, Trainer } from '../agents/sdk';
import { digitsTrainers, DIGITS_DIMENSION, noopTrainer } from '../agents/trainers';
import { swarmTopics } from '../core/topics';
import { encodeSecAggHeader, encodeUpdateHeader, paramsToBytes, type TuningProgress } from '../core/tuning';
import { tuningProgressQuery, tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** Resolves when the signal aborts (a trainer that would otherwise run on). */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));

/** Takes `steps` steps of 20 ms each unless stopped: moves the model by +1 a step. */
function steppingTrainer(stepMs = 20): Trainer {
  return async (task: RoundTask) => {
    const planned = task.budget.localSteps ?? 1;
    let done = 0;
    while (done < planned && !task.shouldStop()) {
      await new Promise((resolve) => setTimeout(resolve, stepMs));
      done++;
    }
    return { params: task.global.map((v) => v + done), examples: 10, stepsCompleted: done, stepsPlanned: planned };
  };
}

describe('federated tuning of heterogeneous swarms on a real Temporal server', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function swarmOf(trainers: Trainer[], resources?: AgentResources[]): Promise<string> {
    const swarmId = uniqueId('het');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      resources,
      heartbeatIntervalMs: 5_000,
    });
    swarms.push(swarm);
    expect(swarm.failed).toEqual([]);
    await waitFor('visibility to list every agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 500 });
      return page.agents.length === trainers.length ? true : undefined;
    });
    return swarmId;
  }

  async function post(body: Record<string, unknown>): Promise<{ status: number; json: any }> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  }

  async function startJob(body: Record<string, unknown>): Promise<string> {
    const { status, json } = await post(body);
    if (status !== 202) throw new Error(`start failed ${status}: ${JSON.stringify(json)}`);
    return json.jobId;
  }

  const finished = (jobId: string): Promise<TuningProgress> => stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();

  const vectorJob = (swarmId: string, extra: Record<string, unknown> = {}) => ({
    swarmId,
    model: { kind: 'vector', dimension: 4 },
    rounds: 1,
    fraction: 1,
    minParticipants: 2,
    roundTimeoutMs: 20_000,
    seed: 3,
    ...extra,
  });

  const cpu = (n: number): AgentResources => ({ cpu: n, memoryMb: 1024 });

  it('refuses localSteps with epochs, and the proximal coefficient in two places, naming the field', async () => {
    const swarmId = uniqueId('het');
    const both = await post({ swarmId, training: { localSteps: 5, epochs: 2 } });
    expect(both.status).toBe(400);
    expect(JSON.stringify(both.json)).toContain('training.localSteps');
    const mu = await post({ swarmId, strategy: 'fedprox', strategyOptions: { proximalMu: 0.1 }, training: { proximalMu: 0.1 } });
    expect(mu.status).toBe(400);
    expect(JSON.stringify(mu.json)).toContain('training.proximalMu');
    const scaled = await post({ swarmId, training: { scaleByCapacity: true } });
    expect(scaled.status).toBe(400);
    expect(JSON.stringify(scaled.json)).toContain('training.scaleByCapacity');
  });

  it('hands each agent localSteps scaled by its declared cpu, and the digits trainers report the steps they completed', async () => {
    const budgets: Record<string, RoundTask['budget']> = {};
    const trainers = digitsTrainers({ agents: 3, seed: 2 }).map(
      (train, i): Trainer =>
        async (task) => {
          budgets[i] = task.budget;
          return train(task);
        },
    );
    const swarmId = await swarmOf(trainers, [cpu(4), cpu(2), cpu(1)]);
    const jobId = await startJob(
      vectorJob(swarmId, {
        model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
        minParticipants: 3,
        training: { learningRate: 0.1, batchSize: 32, localSteps: 6, scaleByCapacity: true },
      }),
    );
    const result = await finished(jobId);
    expect(budgets).toEqual({ 0: { localSteps: 6 }, 1: { localSteps: 3 }, 2: { localSteps: 2 } });
    expect(result.recentRounds[0]).toMatchObject({ accepted: 3, partial: 0, dropped: 0, stepsCompleted: 11, stepsPlanned: 11 });
  });

  it('a time budget stops the trainer; accept-partial keeps the partial work and counts it', async () => {
    // 50 planned steps of 20 ms cannot finish in a 300 ms budget.
    const swarmId = await swarmOf([steppingTrainer(), steppingTrainer(), steppingTrainer()]);
    const jobId = await startJob(
      vectorJob(swarmId, {
        minParticipants: 3,
        training: { learningRate: 0.1, batchSize: 32, localSteps: 50, timeBudgetMs: 300 },
        stragglers: { policy: 'accept-partial' },
      }),
    );
    const [round] = (await finished(jobId)).recentRounds;
    expect(round).toMatchObject({ accepted: 3, partial: 3, dropped: 0, stepsPlanned: 150, closedBy: 'all-reported' });
    expect(round.stepsCompleted).toBeGreaterThan(0);
    expect(round.stepsCompleted).toBeLessThan(150);
  });

  it("'drop' refuses partial work and counts it dropped; FedNova scales the full updates' moves", async () => {
    const quick = steppingTrainer(1);
    const slow = steppingTrainer(100);
    const swarmId = await swarmOf([quick, quick, slow]);
    const jobId = await startJob(
      vectorJob(swarmId, {
        strategy: 'fednova',
        training: { learningRate: 0.1, batchSize: 32, localSteps: 4, timeBudgetMs: 250 },
        stragglers: { policy: 'drop' },
      }),
    );
    const result = await finished(jobId);
    const [round] = result.recentRounds;
    expect(round).toMatchObject({ participants: 3, accepted: 2, partial: 0, dropped: 1, rejected: { partial: 1 } });
    // Both full updates moved every coordinate by 4 in 4 steps: FedNova moves the model by 4.
    const params = new Float32Array((await stack.ports.blobs.get(result.globalDigest))!.buffer.slice(0));
    expect(Array.from(params)).toEqual([4, 4, 4, 4]);
  });

  it('a round closes once the fraction of its policy has reported, not at its deadline', async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, noopTrainer, noopTrainer, noopTrainer, silent]);
    const jobId = await startJob(
      vectorJob(swarmId, { roundTimeoutMs: 60_000, stragglers: { policy: 'drop', closeWhen: { fraction: 0.8 } } }),
    );
    const [round] = (await finished(jobId)).recentRounds;
    expect(round).toMatchObject({ participants: 5, accepted: 4, dropped: 1, closedBy: 'fraction' });
    expect(round.durationMs).toBeLessThan(30_000);
  });

  it('a round closes at its cutoff once its quorum has reported', async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, noopTrainer, silent]);
    const jobId = await startJob(
      vectorJob(swarmId, { roundTimeoutMs: 60_000, stragglers: { policy: 'accept-partial', closeWhen: { afterMs: 1_000 } } }),
    );
    const [round] = (await finished(jobId)).recentRounds;
    expect(round).toMatchObject({ participants: 3, accepted: 2, dropped: 1, closedBy: 'cutoff' });
    expect(round.durationMs).toBeGreaterThanOrEqual(1_000);
    expect(round.durationMs).toBeLessThan(30_000);
  });

  it('an update that arrives after its round closed is counted late in that round, not stale in the next', async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, noopTrainer, silent]);
    const jobId = await startJob(vectorJob(swarmId, { rounds: 2, roundTimeoutMs: 4_000 }));
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    await waitFor('round 1 to close', async () => ((await handle.query(tuningProgressQuery)).round >= 1 ? true : undefined));
    const agentId = `${swarmId}-0002`;
    await stack.ports.messaging.publish(swarmTopics(swarmId).updates(jobId), paramsToBytes(new Float32Array(4)), {
      key: agentId,
      properties: encodeUpdateHeader({ jobId, round: 1, attempt: 1, agentId, examples: 1 }),
    });
    const result = await finished(jobId);
    expect(result.recentRounds[0].rejected).toEqual({ late: 1 });
    expect(result.recentRounds[1].rejected).toEqual({});
  });

  it("updates that arrive after the job's last round closed are counted late in it when the job finishes", async () => {
    let jobId = '';
    // Sends its update only once the round has closed without it (it closes when 2 of 3 reported).
    const behind: Trainer = async (task) => {
      await waitFor('the round to close', async () =>
        (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).query(tuningProgressQuery)).round >= task.round ? true : undefined,
      );
      return noopTrainer(task);
    };
    const swarmId = await swarmOf([noopTrainer, noopTrainer, behind]);
    jobId = await startJob(vectorJob(swarmId, { stragglers: { policy: 'accept-partial', closeWhen: { fraction: 0.6 } } }));
    const result = await finished(jobId);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds).toHaveLength(1);
    expect(result.recentRounds[0]).toMatchObject({ accepted: 2, closedBy: 'fraction', rejected: { late: 1 } });
    // The count is a recorded activity result behind a patch marker, and the history replays.
    const history = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toContain('drainLateUpdates');
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! }, sinks: metricsSinks(createWorkerMetrics(new Registry())) },
      history,
      tuningWorkflowId(jobId),
    );
  });

  it("with secure aggregation a round's late protocol message is counted late in it, the last round's too, and the history replays", async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, noopTrainer, silent]);
    const jobId = await startJob(
      vectorJob(swarmId, { rounds: 2, roundTimeoutMs: 10_000, secureAggregation: { stageTimeoutMs: 5_000, clipRange: 4 } }),
    );
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    const agentId = `${swarmId}-0002`;
    // The silent participant's key advertisement for a round, sent once that round has closed without it.
    const lateFor = async (round: number) => {
      await waitFor(`round ${round} to close`, async () => ((await handle.query(tuningProgressQuery)).round >= round ? true : undefined), 180_000);
      await stack.ports.messaging.publish(swarmTopics(swarmId).updates(jobId), Buffer.from('{}'), {
        key: agentId,
        properties: encodeSecAggHeader({ jobId, round, attempt: 1, agentId }),
      });
    };
    // Round 1's reaches round 2's collection; round 2's, the job's last, the drain before the topic goes.
    await lateFor(1);
    await lateFor(2);
    const result = await finished(jobId);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([2, 2]);
    expect(result.recentRounds.map((r) => r.rejected)).toEqual([{ late: 1 }, { late: 1 }]);
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toContain('drainLateUpdates');
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! }, sinks: metricsSinks(createWorkerMetrics(new Registry())) },
      history,
      tuningWorkflowId(jobId),
    );
  }, 600_000);

  it('an agent still training round r abandons it and trains round r+1 when that arrives', async () => {
    const rounds: number[] = [];
    // Round 1 never ends on its own: only the SDK's abort stops it (and its work is not sent).
    const stuck: Trainer = async (task) => {
      rounds.push(task.round);
      if (task.round === 1) await aborted(task.signal);
      return noopTrainer(task);
    };
    const swarmId = await swarmOf([noopTrainer, noopTrainer, stuck]);
    const jobId = await startJob(vectorJob(swarmId, { rounds: 2, roundTimeoutMs: 1_500 }));
    const result = await finished(jobId);
    expect(result.recentRounds.map((r) => r.accepted)).toEqual([2, 3]);
    expect(rounds).toEqual([1, 2]);
    expect(result.recentRounds[1].rejected).toEqual({});
  });
});
