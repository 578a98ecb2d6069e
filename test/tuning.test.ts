// Federated tuning end to end on the real Temporal dev server: the worker,
// the API and reference agents that really train on the digits data.
import { loadDigits } from '../adapters/datasets/digits';
import { digitsShards, digitsTrainers, DIGITS_DIMENSION, noopTrainer } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { trainSoftmax } from '../core/models/softmax';
import { swarmTopics } from '../core/topics';
import { bytesToParams, encodeUpdateHeader, type TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('federated tuning on a real Temporal server', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function swarmOf(trainers: Trainer[], swarmId = uniqueId('fl')): Promise<string> {
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: trainers.length,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 5_000,
      // Sixty handshakes at once on a loaded 2-core machine took over 30 s in one full run.
      handshakeTimeoutMs: 90_000,
    });
    swarms.push(swarm);
    expect(swarm.failed).toEqual([]);
    await waitFor('visibility to list every agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 500 });
      return page.agents.length === trainers.length ? true : undefined;
    });
    return swarmId;
  }

  async function startJob(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { jobId: string; error?: unknown };
    if (res.status !== 202) throw new Error(`start failed ${res.status}: ${JSON.stringify(json)}`);
    return json.jobId;
  }

  async function finished(jobId: string): Promise<TuningProgress> {
    return stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
  }

  const digitsJob = (swarmId: string, extra: Record<string, unknown> = {}) => ({
    swarmId,
    model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
    rounds: 3,
    fraction: 1,
    minParticipants: 2,
    roundTimeoutMs: 20_000,
    training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    seed: 7,
    ...extra,
  });

  it('agents training on a Dirichlet(0.5) split of digits reach 80% test accuracy in three rounds', async () => {
    const swarmId = await swarmOf(digitsTrainers({ agents: 20, alpha: 0.5, seed: 3 }));
    const jobId = await startJob(digitsJob(swarmId));
    const result = await finished(jobId);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds).toHaveLength(3);
    for (const round of result.recentRounds) {
      expect(round.accepted).toBe(20);
      expect(round.rejected).toEqual({});
    }
    expect(result.recentRounds[2].accuracy).toBeGreaterThanOrEqual(0.8);
    // The agents scored each round's incoming model on their own data: round 1's is the zero model.
    expect(result.recentRounds[0].agentAccuracy).toBeLessThan(0.2);
    expect(result.recentRounds[2].agentAccuracy).toBeGreaterThan(0.8);

    const res = await fetch(`${stack.api.url}/api/v1/tuning/${jobId}/model`, { headers: admin });
    expect(res.headers.get('x-model-digest')).toBe(result.globalDigest);
    expect(bytesToParams(new Uint8Array(await res.arrayBuffer()))).toHaveLength(DIGITS_DIMENSION);
  });

  it('FedAvg over an IID split with under one batch per agent equals one full-batch gradient step', async () => {
    const agents = 60; // 1,437 examples, 23 or 24 per agent, of which each trains on 19 or 20 (a fifth held out): below the batch of 32
    const shards = digitsShards({ agents, seed: 11 });
    expect(Math.max(...shards.map((s) => s.length))).toBeLessThan(32);
    const swarmId = await swarmOf(digitsTrainers({ agents, seed: 11 }));
    const jobId = await startJob(digitsJob(swarmId, { rounds: 1, minParticipants: agents }));
    const result = await finished(jobId);
    const federated = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);

    // One full-batch step over every example some agent trains on (not their held-out parts).
    const train = shards.flat();
    const central = trainSoftmax(new Float32Array(DIGITS_DIMENSION), loadDigits(), train, {
      learningRate: 0.1,
      epochs: 1,
      batchSize: train.length,
    }).params;
    let worst = 0;
    for (let i = 0; i < DIGITS_DIMENSION; i++) worst = Math.max(worst, Math.abs(federated[i] - central[i]));
    expect(worst).toBeLessThan(1e-6);
  });

  it('a round closes at its deadline without the stragglers, who do not count', async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, noopTrainer, noopTrainer, silent, silent]);
    const jobId = await startJob(
      digitsJob(swarmId, { rounds: 1, minParticipants: 3, roundTimeoutMs: 1500, model: { kind: 'vector', dimension: DIGITS_DIMENSION } }),
    );
    const result = await finished(jobId);
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds[0]).toMatchObject({ participants: 5, accepted: 3, attempts: 1 });
  });

  it('a round without quorum is retried with fresh participants and then succeeds', async () => {
    let refusals = 0;
    const flaky: Trainer = async (task) => {
      if (task.attempt === 1) {
        refusals++;
        return undefined;
      }
      return noopTrainer(task);
    };
    const swarmId = await swarmOf([noopTrainer, noopTrainer, noopTrainer, flaky]);
    const jobId = await startJob(
      digitsJob(swarmId, {
        rounds: 1,
        participantsPerRound: 4,
        fraction: undefined,
        minParticipants: 4,
        roundTimeoutMs: 1000,
        model: { kind: 'vector', dimension: DIGITS_DIMENSION },
      }),
    );
    const result = await finished(jobId);
    expect(refusals).toBe(1);
    expect(result.recentRounds[0]).toMatchObject({ attempts: 2, accepted: 4 });
  });

  it('a job whose quorum is never met fails with a clear reason', async () => {
    const silent: Trainer = async () => undefined;
    const swarmId = await swarmOf([noopTrainer, silent, silent]);
    const jobId = await startJob(
      digitsJob(swarmId, {
        rounds: 1,
        minParticipants: 2,
        roundTimeoutMs: 500,
        maxRoundAttempts: 2,
        model: { kind: 'vector', dimension: DIGITS_DIMENSION },
      }),
    );
    await expect(finished(jobId)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/fewer than 2 valid updates after 2 attempts/) },
    });
  });

  it('poisoned and forged updates are rejected and counted, never aggregated', async () => {
    const nan: Trainer = async (task) => ({ params: task.global.map(() => Number.NaN), examples: 10 });
    const huge: Trainer = async (task) => ({ params: task.global.map(() => 1e6), examples: 10 });
    const wrongSize: Trainer = async () => ({ params: new Float32Array(3), examples: 10 });
    const swarmId = await swarmOf([noopTrainer, noopTrainer, nan, huge, wrongSize]);
    // An outsider who is not a participant and has no key has written to the topic already.
    const jobId = uniqueId('poison');
    for (let i = 0; i < 3; i++) {
      await stack.ports.messaging.publish(swarmTopics(swarmId).updates(jobId), new Uint8Array(DIGITS_DIMENSION * 4), {
        properties: encodeUpdateHeader({
          jobId,
          round: 1,
          attempt: 1,
          agentId: 'intruder',
          examples: 1000,
        }),
      });
    }
    await startJob(
      digitsJob(swarmId, {
        jobId,
        rounds: 1,
        roundTimeoutMs: 1500,
        maxUpdateNorm: 100,
        model: { kind: 'vector', dimension: DIGITS_DIMENSION },
      }),
    );
    const result = await finished(jobId);
    const round = result.recentRounds[0];
    expect(round.accepted).toBe(2);
    expect(round.rejected).toMatchObject({ 'not-selected': 3, 'not-finite': 1, 'norm-exceeded': 1, 'wrong-dimension': 1 });
    const model = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
    expect(model.every((v) => v === 0)).toBe(true);
  });

  it.each([
    ['fedmedian', {}],
    ['krum', { byzantine: 1 }],
    ['fedtrimmedavg', { trimFraction: 0.2 }],
  ])('%s keeps one poisoned agent from dragging the model, where FedAvg follows it', async (strategy, options) => {
    const honest: Trainer = async (task) => ({ params: task.global.map((v, i) => v + 0.01 * ((i % 3) - 1)), examples: 10 });
    const attacker: Trainer = async (task) => ({ params: task.global.map((v) => v + 50), examples: 10 });
    const swarmId = await swarmOf([honest, honest, honest, honest, attacker]);
    const job = (s: string, o: object) =>
      digitsJob(swarmId, { rounds: 1, minParticipants: 5, strategy: s, strategyOptions: o, model: { kind: 'vector', dimension: 32 } });
    const robust = await finished(await startJob(job(strategy, options)));
    const plain = await finished(await startJob(job('fedavg', {})));
    const largest = async (digest: string) =>
      Math.max(...bytesToParams((await stack.ports.blobs.get(digest))!).map(Math.abs));
    expect(await largest(robust.globalDigest)).toBeLessThanOrEqual(0.01 + 1e-6);
    expect(await largest(plain.globalDigest)).toBeGreaterThan(9);
  });

  it('FedProx sends its proximal coefficient to the agents with the round', async () => {
    const seen: (number | undefined)[] = [];
    const recording: Trainer = async (task) => {
      seen.push(task.training.proximalMu);
      return noopTrainer(task);
    };
    const swarmId = await swarmOf([recording, recording]);
    await finished(
      await startJob(
        digitsJob(swarmId, { rounds: 1, strategy: 'fedprox', strategyOptions: { proximalMu: 0.01 }, model: { kind: 'vector', dimension: 8 } }),
      ),
    );
    expect(seen).toEqual([0.01, 0.01]);
  });

  it('a long job continues as new to keep its history bounded and still finishes every round', async () => {
    const swarmId = await swarmOf([noopTrainer, noopTrainer]);
    const jobId = await startJob(
      digitsJob(swarmId, { rounds: 30, evaluateEvery: 10, model: { kind: 'vector', dimension: 8 } }),
    );
    const result = await finished(jobId);
    expect(result).toMatchObject({ status: 'COMPLETED', round: 30 });
    const handle = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    const description = await handle.describe();
    expect(description.runId).not.toBe(description.raw.workflowExecutionInfo?.firstRunId);
    const history = await handle.fetchHistory();
    expect(history.events?.length ?? 0).toBeLessThan(500);
  });

  it('with secure aggregation the manager learns only the sum, and the model equals plain FedAvg within quantisation', async () => {
    const trainers = digitsTrainers({ agents: 5, alpha: 0.5, seed: 9 });
    const plainSwarm = await swarmOf(trainers);
    const secureSwarm = await swarmOf(digitsTrainers({ agents: 5, alpha: 0.5, seed: 9 }));
    const plain = await finished(await startJob(digitsJob(plainSwarm, { rounds: 2, minParticipants: 5 })));
    const secureJob = await startJob(
      digitsJob(secureSwarm, { rounds: 2, minParticipants: 5, secureAggregation: { stageTimeoutMs: 5000, clipRange: 4 } }),
    );
    // What crosses the updates topic is protocol messages, never a float32 update.
    const spy = await stack.ports.messaging.subscribe(swarmTopics(secureSwarm).updates(secureJob), 'test-spy', {
      initialPosition: 'earliest',
    });
    const types = new Set<string>();
    let running = true;
    // Read while the job runs: when it finishes, its updates topic is deleted and this consumer closed.
    const reading = (async () => {
      try {
        while (running) {
          const m = await spy.receive(200);
          if (!m) continue;
          types.add(m.properties.type);
          await spy.ack(m);
        }
      } catch {
        // closed with the deleted topic
      }
    })();
    const secure = await finished(secureJob);
    running = false;
    await reading;
    await spy.close().catch(() => undefined);
    expect([...types]).toEqual(['secagg']);
    expect(secure.recentRounds.map((r) => r.accepted)).toEqual([5, 5]);
    const a = bytesToParams((await stack.ports.blobs.get(plain.globalDigest))!);
    const b = bytesToParams((await stack.ports.blobs.get(secure.globalDigest))!);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-3);
    expect(Math.abs(secure.recentRounds[1].accuracy! - plain.recentRounds[1].accuracy!)).toBeLessThanOrEqual(0.01);
  });

  it('reports the privacy spent per round when differential privacy is on', async () => {
    const swarmId = await swarmOf(digitsTrainers({ agents: 4, alpha: 0.5, seed: 5 }));
    const jobId = await startJob(
      digitsJob(swarmId, { rounds: 2, privacy: { clipNorm: 5, noiseMultiplier: 1.0, delta: 1e-5 } }),
    );
    const result = await finished(jobId);
    const [first, second] = result.recentRounds;
    expect(first.epsilon).toBeGreaterThan(0);
    expect(second.epsilon!).toBeGreaterThan(first.epsilon!);
  });

  it('with local differential privacy the agents noise their own change, and the loss per agent is reported', async () => {
    const swarmId = await swarmOf(digitsTrainers({ agents: 4, alpha: 0.5, seed: 5 }));
    const job = (extra: object) => digitsJob(swarmId, { rounds: 2, minParticipants: 4, ...extra });
    const noisy = await finished(await startJob(job({ localPrivacy: { clipNorm: 1, noiseMultiplier: 0.5, delta: 1e-5 } })));
    const plain = await finished(await startJob(job({})));
    expect(noisy.recentRounds[1].localEpsilon!).toBeGreaterThan(noisy.recentRounds[0].localEpsilon!);
    expect(noisy.globalDigest).not.toBe(plain.globalDigest);
    const a = bytesToParams((await stack.ports.blobs.get(noisy.globalDigest))!);
    const b = bytesToParams((await stack.ports.blobs.get(plain.globalDigest))!);
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-3)).toBe(true);
  });

  it("removes a finished job's updates topic with the aggregator's subscription", async () => {
    const swarmId = await swarmOf([noopTrainer, noopTrainer]);
    const jobId = uniqueId('cleanup');
    await startJob(digitsJob(swarmId, { jobId, rounds: 1, model: { kind: 'vector', dimension: 8 } }));
    expect((await finished(jobId)).status).toBe('COMPLETED');
    // Had the topic stayed, a new subscription from the earliest message would see the round's updates.
    const reader = await stack.ports.messaging.subscribe(swarmTopics(swarmId).updates(jobId), uniqueId('late-reader'), {
      initialPosition: 'earliest',
    });
    expect(await reader.receive(300)).toBeUndefined();
    await reader.close();
  });

  it('pauses between rounds, resumes, and can be cancelled', async () => {
    const swarmId = await swarmOf([noopTrainer, noopTrainer]);
    const jobId = await startJob(
      digitsJob(swarmId, { rounds: 1000, evaluateEvery: 1000, model: { kind: 'vector', dimension: 8 } }),
    );
    const post = (path: string) => fetch(`${stack.api.url}/api/v1/tuning/${jobId}/${path}`, { method: 'POST', headers: admin });
    expect((await post('pause')).status).toBe(200);
    const paused = await waitFor('the job to report PAUSED', async () => {
      const res = await fetch(`${stack.api.url}/api/v1/tuning/${jobId}`, { headers: admin });
      const progress = (await res.json()) as TuningProgress;
      return progress.status === 'PAUSED' ? progress : undefined;
    });
    const heldAt = paused.round;
    expect((await post('resume')).status).toBe(200);
    await waitFor('rounds to advance after resume', async () => {
      const res = await fetch(`${stack.api.url}/api/v1/tuning/${jobId}`, { headers: admin });
      return ((await res.json()) as TuningProgress).round > heldAt + 1 ? true : undefined;
    });
    expect((await post('cancel')).status).toBe(202);
    const result = await finished(jobId);
    expect(result.status).toBe('CANCELLED');
  });

  it.each([
    ['swarmId', { swarmId: '../x' }],
    ['model.dimension', { model: { kind: 'softmax-digits', dimension: 10 } }],
    ['minParticipants', { fraction: undefined, participantsPerRound: 2, minParticipants: 3 }],
    ['rounds', { rounds: 0 }],
    ['strategyOptions.byzantine', { strategy: 'krum' }],
    ['strategy', { strategy: 'fedmagic' }],
  ])('a job with a bad %s is refused with 400 and nothing starts', async (field, patch) => {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ ...digitsJob('some-swarm'), ...patch }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe(field);
  });

  it('only the admin starts jobs; progress of an unknown job is 404', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(digitsJob('s')),
    });
    expect(res.status).toBe(401);
    const unknown = await fetch(`${stack.api.url}/api/v1/tuning/${uniqueId('nojob')}`, { headers: admin });
    expect(unknown.status).toBe(404);
  });
});
