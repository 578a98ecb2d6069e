// Asynchronous (FedBuff-style) tuning end to end on the real Temporal dev
// server: the worker, the API and reference agents (the SDK) that really train
// on the digits data, some of them slower than the model's versions advance.
import { digitsTrainers, DIGITS_DIMENSION, noopTrainer } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { swarmTopics } from '../core/topics';
import { encodeUpdateHeader, paramsToBytes, type TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('asynchronous tuning on a real Temporal server', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${stack.api.url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function progressOf(jobId: string): Promise<TuningProgress> {
    return stack.client.workflow.getHandle(tuningWorkflowId(jobId)).query<TuningProgress>('tuningProgress');
  }

  it('refuses an async job without its buffer size or staleness bound, naming the field', async () => {
    const missing = await post('/api/v1/tuning/start', { swarmId: 'nobody', mode: 'async', maxStaleness: 2 });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toContain('bufferSize');
    const syncWithBuffer = await post('/api/v1/tuning/start', { swarmId: 'nobody', bufferSize: 2 });
    expect(syncWithBuffer.status).toBe(400);
    expect(JSON.stringify(syncWithBuffer.json)).toContain('bufferSize');
  });

  it('advances a version every K updates; a slightly stale update is taken and discounted, a too stale one refused and counted', async () => {
    const swarmId = uniqueId('fedbuff');
    let jobId = '';
    const trained = digitsTrainers({ agents: 4, seed: 3 });
    /** Trains on version v, then holds the update until the job has made version v + lag (or finished). */
    const lagging =
      (train: Trainer, lag: number): Trainer =>
      async (task) => {
        const result = await train(task);
        await waitFor(
          `version ${task.round + lag}`,
          async () => {
            const progress = await progressOf(jobId);
            return progress.round >= task.round + lag || progress.status !== 'RUNNING' ? true : undefined;
          },
          60_000,
          20,
        );
        return result;
      };
    /**
     * The fast agents: a pause, so the lagging agents' updates land between theirs. Two versions take
     * at least 3 s, which is how long the agent one version behind has to get its update counted
     * (from seeing version v + 1 to the job recording it) before it is too stale: on a loaded machine
     * a query, a publish and a collection can take a second or more.
     */
    const fast =
      (train: Trainer): Trainer =>
      async (task) => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        return train(task);
      };
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 4,
      swarmId,
      idPrefix: swarmId,
      trainers: [fast(trained[0]), fast(trained[1]), lagging(trained[2], 1), lagging(trained[3], 3)],
      heartbeatIntervalMs: 5_000,
    });
    swarms.push(swarm);
    expect(swarm.failed).toEqual([]);
    await waitFor('every agent ACTIVE', async () =>
      (await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 4 ? true : undefined,
    );
    const started = await post('/api/v1/tuning/start', {
      swarmId,
      mode: 'async',
      bufferSize: 2,
      maxStaleness: 2,
      rounds: 10,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      seed: 7,
    });
    expect(started.status).toBe(202);
    expect(started.json.message).toContain('asynchronous');
    jobId = started.json.jobId as string;
    // The SDK abandons work that falls more than maxStaleness behind, so the lagging agent may never send
    // its too stale update: one based on version 0 is put on the topic once version 3 exists, while the
    // job is paused (it cannot finish before reading it, and reads it at version 3 or later).
    await waitFor('version 3', async () => ((await progressOf(jobId)).round >= 3 ? true : undefined), 300_000, 20);
    expect((await post(`/api/v1/tuning/${jobId}/pause`, {})).status).toBe(200);
    const tooStale = `${swarmId}-0003`;
    await stack.ports.messaging.publish(swarmTopics(swarmId).updates(jobId), paramsToBytes(new Float32Array(DIGITS_DIMENSION)), {
      key: tooStale,
      properties: encodeUpdateHeader({ jobId, round: 0, attempt: 0, agentId: tooStale, examples: 1 }),
    });
    expect((await post(`/api/v1/tuning/${jobId}/resume`, {})).status).toBe(200);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();

    expect(result.status).toBe('COMPLETED');
    expect(result.mode).toBe('async');
    expect(result.round).toBe(10);
    const versions = result.recentVersions!;
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const v of versions) {
      expect(v.buffered).toBe(2);
      expect(v.maxStaleness).toBeLessThanOrEqual(2);
      expect(v.meanStaleness).toBeGreaterThanOrEqual(0);
      expect(v.accuracy).toBeGreaterThan(0);
    }
    expect(result.globalDigest).toBe(versions[9].globalDigest);
    // The agent one version behind was taken (staleness 1 or 2); the one three behind never was.
    expect(Math.max(...versions.map((v) => v.maxStaleness))).toBeGreaterThanOrEqual(1);
    expect(versions.reduce((n, v) => n + v.refusedStale, 0)).toBeGreaterThanOrEqual(1);
    expect(versions.every((v) => v.refusedStale === (v.rejected.stale ?? 0))).toBe(true);
    expect(versions[9].accuracy!).toBeGreaterThan(0.6);
    // Each refusal also went to the swarm's rounds topic for the analytics, from the agent the update named.
    const rounds = await stack.ports.messaging.subscribe(swarmTopics(swarmId).rounds, uniqueId('watch'), { initialPosition: 'earliest' });
    const refusals: { jobId: string; reason: string; agentId: string; round: number }[] = [];
    for (let m = await rounds.receive(500); m; m = await rounds.receive(200)) refusals.push(JSON.parse(Buffer.from(m.payload).toString('utf8')));
    await rounds.close();
    const stale = refusals.filter((r) => r.jobId === jobId && r.reason === 'stale');
    expect(stale.length).toBeGreaterThanOrEqual(versions.reduce((n, v) => n + v.refusedStale, 0));
    // the agent three versions behind (simulateSwarm names it <prefix>-0003)
    expect(stale.map((r) => r.agentId)).toContain(`${swarmId}-0003`);
    expect(stale.every((r) => r.round >= 1)).toBe(true);
  }, 600_000);

  it('continues as new after 100 collections, carrying the model and the metrics of recent versions across', async () => {
    const swarmId = uniqueId('fedbuff-can');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 1,
      swarmId,
      idPrefix: swarmId,
      trainers: [noopTrainer],
      heartbeatIntervalMs: 5_000,
    });
    swarms.push(swarm);
    await waitFor('the agent ACTIVE', async () =>
      (await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 1 ? true : undefined,
    );
    const versions = 105;
    const started = await post('/api/v1/tuning/start', {
      swarmId,
      mode: 'async',
      bufferSize: 1,
      maxStaleness: 0,
      rounds: versions,
      model: { kind: 'vector', dimension: 8 },
      evaluateEvery: 1000,
    });
    const jobId = started.json.jobId as string;
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    expect(result.status).toBe('COMPLETED');
    expect(result.round).toBe(versions);
    expect(result.recentVersions!.map((v) => v.version)).toEqual(Array.from({ length: 50 }, (_, i) => versions - 49 + i));
    expect(result.globalDigest).toBe(result.recentVersions!.at(-1)!.globalDigest);
    // The first run ended in continue-as-new; the last one is a later run of the same workflow id.
    const runs = await waitFor('visibility to list both runs', async () => {
      const statuses: string[] = [];
      for await (const execution of stack.client.workflow.list({ query: `WorkflowId = '${tuningWorkflowId(jobId)}'` })) {
        statuses.push(execution.status.name);
      }
      return statuses.includes('CONTINUED_AS_NEW') && statuses.includes('COMPLETED') ? statuses : undefined;
    });
    expect(runs.length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('pauses between buffers, resumes, and cancels with the job-finished announcement', async () => {
    const swarmId = uniqueId('fedbuff-ctl');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 2,
      swarmId,
      idPrefix: swarmId,
      trainers: [noopTrainer, noopTrainer],
      heartbeatIntervalMs: 5_000,
    });
    swarms.push(swarm);
    await waitFor('every agent ACTIVE', async () =>
      (await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 50 })).agents.length === 2 ? true : undefined,
    );
    const started = await post('/api/v1/tuning/start', {
      swarmId,
      mode: 'async',
      bufferSize: 2,
      maxStaleness: 1,
      rounds: 100_000,
      model: { kind: 'vector', dimension: 8 },
      evaluateEvery: 1000,
    });
    const jobId = started.json.jobId as string;
    await waitFor('version 2', async () => ((await progressOf(jobId)).round >= 2 ? true : undefined), 30_000);
    const paused = await post(`/api/v1/tuning/${jobId}/pause`, {});
    expect(paused.json.status).toBe('PAUSED');
    expect(paused.json.mode).toBe('async');
    const resumed = await post(`/api/v1/tuning/${jobId}/resume`, {});
    expect(resumed.json.status).toBe('RUNNING');
    const from = resumed.json.round as number;
    await waitFor('two more versions', async () => ((await progressOf(jobId)).round >= from + 2 ? true : undefined), 30_000);
    expect((await post(`/api/v1/tuning/${jobId}/cancel`, {})).status).toBe(202);
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    expect(result.status).toBe('CANCELLED');
    expect(result.round).toBeGreaterThanOrEqual(from + 2);
    const control = await stack.ports.messaging.subscribe(swarmTopics(swarmId).control, uniqueId('watch'), { initialPosition: 'earliest' });
    const finished = await waitFor('job-finished on the control topic', async () => {
      const message = await control.receive(500);
      return message?.properties.type === 'job-finished' ? JSON.parse(Buffer.from(message.payload).toString('utf8')) : undefined;
    });
    await control.close();
    expect(finished).toMatchObject({ jobId, status: 'CANCELLED', globalDigest: result.globalDigest });
  }, 90_000);
});
