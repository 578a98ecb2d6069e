// Asynchronous (FedBuff-style) tuning on the real Temporal dev server: updates that come after the
// job's last version is made are drained from its topic before the topic goes, and reported.
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { noopTrainer } from '../agents/trainers';
import type { UpdateRejectedMessage } from '../core/analytics/round-events';
import { analyticsTopics } from '../core/analytics/topics';
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

  /** Reads the swarm's rounds topic from its start until `done` holds for the update-rejected events read so far. */
  async function rejectionEventsUntil(swarmId: string, done: (events: UpdateRejectedMessage[]) => boolean): Promise<UpdateRejectedMessage[]> {
    const consumer = await stack.ports.messaging.subscribe(analyticsTopics(swarmId).rounds, uniqueId('rounds-reader'), { initialPosition: 'earliest' });
    const events: UpdateRejectedMessage[] = [];
    try {
      return await waitFor(
        'the update-rejected events',
        async () => {
          const message = await consumer.receive(500);
          if (message) {
            await consumer.ack(message);
            const event = JSON.parse(Buffer.from(message.payload).toString('utf8')) as { type: string };
            if (event.type === 'update-rejected') events.push(event as UpdateRejectedMessage);
          }
          return done(events) ? events : undefined;
        },
        180_000,
        1,
      );
    } finally {
      await consumer.close();
    }
  }

  async function startJob(swarmId: string, rounds: number, bufferSize = 1): Promise<string> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        swarmId,
        mode: 'async',
        bufferSize,
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
    // The analytics hear of it as of the collection's refusals: one update-rejected event, round = the last version,
    // named by the update's message id (a retried drain's copy counts once).
    const events = await rejectionEventsUntil(swarmId, (read) => read.some((e) => e.reason === 'after-finish'));
    expect(events.filter((e) => e.reason === 'after-finish')).toEqual([
      { type: 'update-rejected', jobId, round: rounds, agentId: lateAgent, reason: 'after-finish', rejectedAt: expect.any(Number), updateId: expect.any(String) },
    ]);

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

  it('a cancelled job refuses the update left on its topic after-finish, reports it to the analytics, and the history replays', async () => {
    // The agent holds its update for version 0 until the paused job's collection has stopped.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let training = false;
    const gated: Trainer = async (task) => {
      training = true;
      await released;
      return noopTrainer(task);
    };
    const swarmId = uniqueId('fedbuff-cancel');
    const trained: string[] = [];
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 1,
      swarmId,
      idPrefix: swarmId,
      trainers: [gated],
      heartbeatIntervalMs: 5_000,
      onEvent: (agentId, event) => {
        if (event.type === 'round-trained') trained.push(agentId);
      },
    });
    swarms.push(swarm);
    await waitFor(
      'the agent ACTIVE',
      async () => ((await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 5 })).agents.length === 1 ? true : undefined),
      180_000,
    );
    const agentId = `${swarmId}-0000`;
    const jobId = await startJob(swarmId, 3);
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    await waitFor('the agent training version 0', () => (training ? true : undefined), 180_000);
    // Paused during a collection, the job waits once that returns: no read of the topic after that.
    await waitFor(
      'a collection running',
      async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'collectBufferedUpdates') || undefined,
      180_000,
    );
    expect((await fetch(`${stack.api.url}/api/v1/tuning/${jobId}/pause`, { method: 'POST', headers: admin })).status).toBe(200);
    // Paused, the job runs no collection once the current one returns (idle): nothing reads the topic then.
    await waitFor(
      'the paused job to stop collecting',
      async () => {
        const description = await handle.describe();
        const progress = await handle.query(tuningProgressQuery);
        return progress.status === 'PAUSED' && (description.raw.pendingActivities?.length ?? 0) === 0 ? true : undefined;
      },
      300_000,
      200,
    );
    release();
    await waitFor('the update published', () => (trained.includes(agentId) ? true : undefined), 180_000);
    await handle.cancel();
    const result: TuningProgress = await handle.result();

    expect(result.status).toBe('CANCELLED');
    expect(result.round).toBe(0);
    expect(result.refusedAfterFinish).toEqual({ [agentId]: 1 });
    // Reported as a refusal while version 1's buffer filled, as the collection reports its own.
    const events = await rejectionEventsUntil(swarmId, (read) => read.some((e) => e.reason === 'after-finish'));
    expect(events.filter((e) => e.reason === 'after-finish')).toEqual([
      { type: 'update-rejected', jobId, round: 1, agentId, reason: 'after-finish', rejectedAt: expect.any(Number), updateId: expect.any(String) },
    ]);

    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled.filter((name) => name === 'drainFinishedUpdates')).toHaveLength(1);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! }, sinks: metricsSinks(createWorkerMetrics(new Registry())) },
      history,
      tuningWorkflowId(jobId),
    );
  }, 600_000);

  it('an agent still training a version that falls more than maxStaleness behind abandons it, sends nothing for it, and trains the newest', async () => {
    const aborted = (signal: AbortSignal) =>
      new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));
    const versionsTrained: number[] = [];
    // Version 0's training never ends on its own: only the SDK's abandonment stops it.
    const stuck: Trainer = async (task) => {
      versionsTrained.push(task.round);
      if (task.round === 0) await aborted(task.signal);
      return noopTrainer(task);
    };
    const swarmId = uniqueId('fedbuff-abandon');
    const abandoned: number[] = [];
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 2,
      swarmId,
      idPrefix: swarmId,
      trainers: [noopTrainer, stuck],
      heartbeatIntervalMs: 5_000,
      onEvent: (agentId, event) => {
        if (agentId === `${swarmId}-0001` && event.type === 'round-abandoned') abandoned.push(event.round);
      },
    });
    swarms.push(swarm);
    await waitFor(
      'every agent ACTIVE',
      async () => ((await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 5 })).agents.length === 2 ? true : undefined),
      180_000,
    );
    // maxStaleness 0: version 1, made from the other agent's update, leaves version 0's work nothing to count for.
    const jobId = await startJob(swarmId, 2);
    await waitFor('the stuck agent training version 1', () => (versionsTrained.includes(1) ? true : undefined), 300_000);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();

    expect(result.status).toBe('COMPLETED');
    expect(versionsTrained.slice(0, 2)).toEqual([0, 1]);
    expect(abandoned).toEqual([0]);
    // Its version-0 work was never sent, so nothing was refused as stale.
    expect(result.recentVersions!.every((v) => v.refusedStale === 0)).toBe(true);
  }, 600_000);
});
