// Asynchronous (FedBuff-style) tuning on the real Temporal dev server: updates that come after the
// job's last version is made are drained from its topic before the topic goes, and reported.
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { noopTrainer } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { tuningProgressQuery, tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('asynchronous tuning: updates after the last version', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function swarmOf(trainers: Trainer[]): Promise<string> {
    const swarmId = uniqueId('fedbuff-finish');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 5_000,
    });
    swarms.push(swarm);
    expect(swarm.failed).toEqual([]);
    await waitFor(
      'every agent ACTIVE',
      async () =>
        (await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === trainers.length ? true : undefined,
      180_000,
    );
    return swarmId;
  }

  async function startJob(swarmId: string, rounds: number): Promise<string> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        swarmId,
        mode: 'async',
        bufferSize: 1,
        maxStaleness: 0,
        rounds,
        roundTimeoutMs: 60_000,
        model: { kind: 'vector', dimension: 8 },
        evaluateEvery: 1000,
      }),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  it('an update sent after the last version is made is refused after-finish, counted once, and the history replays', async () => {
    let jobId = '';
    // Trains on the version it was sent, and sends its update only once the job's last version exists.
    const afterLast =
      (rounds: number): Trainer =>
      async (task) => {
        await waitFor(
          'the last version',
          async () => ((await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).query(tuningProgressQuery)).round >= rounds ? true : undefined),
          300_000,
          20,
        );
        return noopTrainer(task);
      };
    // One version: the late agent is sent version 0 only, so it owes exactly one update.
    const rounds = 1;
    const swarmId = await swarmOf([noopTrainer, afterLast(rounds)]);
    const lateAgent = `${swarmId}-0001`;
    jobId = await startJob(swarmId, rounds);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();

    expect(result.status).toBe('COMPLETED');
    expect(result.round).toBe(rounds);
    const versions = result.recentVersions!;
    // The quick agent's update made version 1; the late one's (also trained on version 0) came after it.
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ version: 1, buffered: 1 });
    expect(result.refusedAfterFinish).toEqual({ [lateAgent]: 1 });
    expect(versions[0].rejected).toEqual({ 'after-finish': 1 });

    // The count is a recorded activity result behind a patch marker, and the history replays.
    const history = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled.filter((name) => name === 'drainFinishedUpdates')).toHaveLength(1);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! }, sinks: metricsSinks(createWorkerMetrics(new Registry())) },
      history,
      tuningWorkflowId(jobId),
    );
  }, 600_000);

  it('an update left on the topic by a full last buffer is refused after-finish; the one taken is not counted again', async () => {
    // Both agents train version 0 at once; the buffer of one takes the first read, the other stays on the topic.
    const swarmId = await swarmOf([noopTrainer, noopTrainer]);
    const jobId = await startJob(swarmId, 1);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    expect(result.status).toBe('COMPLETED');
    const agents = [`${swarmId}-0000`, `${swarmId}-0001`];
    const refused = Object.keys(result.refusedAfterFinish ?? {});
    expect(refused).toHaveLength(1);
    expect(agents).toContain(refused[0]);
    expect(result.refusedAfterFinish![refused[0]]).toBe(1);
    expect(result.recentVersions).toHaveLength(1);
    expect(result.recentVersions![0]).toMatchObject({ buffered: 1, rejected: { 'after-finish': 1 } });
  }, 600_000);

  it('a job whose agents all kept up drains nothing and reports no refusal', async () => {
    const swarmId = await swarmOf([noopTrainer]);
    const jobId = await startJob(swarmId, 3);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    expect(result.status).toBe('COMPLETED');
    expect(result.round).toBe(3);
    expect(result.refusedAfterFinish).toEqual({});
    expect(result.recentVersions!.every((v) => Object.keys(v.rejected).length === 0)).toBe(true);
  }, 600_000);
});
