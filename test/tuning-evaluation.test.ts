// Server-side and federated evaluation of tuning jobs on the real Temporal dev
// server, with a worker whose evaluator registry the suite controls.
import { DigitsEvaluator } from '../adapters/datasets/digits-evaluator';
import { digitsSplit, loadDigits } from '../adapters/datasets/digits';
import { EvaluatorRegistry } from '../adapters/evaluation/registry';
import { digitsHeldOut, digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Trainer } from '../agents/sdk';
import { evaluateSoftmax } from '../core/models/softmax';
import { bytesToParams, type TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { createPorts } from '../workers/ports';
import { ADMIN_TOKEN, startTestEmbedded, testConfig, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const AGENTS = 5;

describe('evaluation of tuning jobs on a real Temporal server', () => {
  let stack: Embedded;
  let swarm: SwarmSimulation;
  let swarmId: string;
  const registry = new EvaluatorRegistry(); // empty until a test registers digits

  beforeAll(async () => {
    stack = await startTestEmbedded({}, { ...(await createPorts(testConfig())), evaluator: registry });
    swarmId = uniqueId('eval');
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: AGENTS,
      swarmId,
      idPrefix: swarmId,
      trainers: digitsTrainers({ agents: AGENTS, seed: 3 }),
      heartbeatIntervalMs: 5_000,
    });
    expect(swarm.failed).toEqual([]);
    await waitFor('visibility to list every agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 500 });
      return page.agents.length === AGENTS ? true : undefined;
    });
  });
  afterAll(async () => {
    await swarm?.stop();
    await stack?.stop();
  });

  async function run(extra: Record<string, unknown>): Promise<TuningProgress> {
    const body = {
      swarmId,
      model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
      rounds: 2,
      minParticipants: AGENTS,
      roundTimeoutMs: 20_000,
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      ...extra,
    };
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    const json = (await res.json()) as { jobId: string };
    if (res.status !== 202) throw new Error(`start failed ${res.status}: ${JSON.stringify(json)}`);
    return stack.client.workflow.getHandle(tuningWorkflowId(json.jobId)).result();
  }

  const heldOut = digitsHeldOut({ agents: AGENTS, seed: 3 });
  const heldBySwarm = heldOut.reduce((n, part) => n + part.length, 0);

  it('with no evaluator registered for the kind there is no server-side score, while the agents’ federated scores are reported', async () => {
    const result = await run({});
    expect(result.status).toBe('COMPLETED');
    for (const round of result.recentRounds) {
      expect(round.accuracy).toBeUndefined();
      expect(round.loss).toBeUndefined();
      expect(round.agentEvalExamples).toBe(heldBySwarm);
    }
    // Round 1 scores the zero model (one class in ten right), round 2 the model one round trained.
    expect(result.recentRounds[0].agentAccuracy).toBeLessThan(0.2);
    expect(result.recentRounds[1].agentAccuracy).toBeGreaterThan(0.5);
    // The agents scored round 1's model on their held-out examples only, weighted by their number.
    const roundOneModel = bytesToParams((await stack.ports.blobs.get(result.recentRounds[0].globalDigest))!);
    const scores = heldOut.map((part) => evaluateSoftmax(roundOneModel, loadDigits(), part));
    const weighted = (key: 'accuracy' | 'loss') => scores.reduce((sum, score, i) => sum + score[key] * heldOut[i].length, 0) / heldBySwarm;
    expect(result.recentRounds[1].agentAccuracy).toBeCloseTo(weighted('accuracy'), 12);
    expect(result.recentRounds[1].agentLoss).toBeCloseTo(weighted('loss'), 12);
    // Through the API the round's accuracy is absent, never a number from some other data.
    const progress = (await (await fetch(`${stack.api.url}/api/v1/tuning/${result.jobId}`, { headers: admin })).json()) as TuningProgress;
    expect(progress.recentRounds.every((round) => !('accuracy' in round))).toBe(true);
  }, 120_000);

  it('an evaluator registered with the worker scores its kind from then on, and a job may turn server-side evaluation off', async () => {
    registry.register('softmax-digits', new DigitsEvaluator());
    const [scored, off] = await Promise.all([run({ seed: 1 }), run({ seed: 1, evaluation: { server: false } })]);
    const finalModel = bytesToParams((await stack.ports.blobs.get(scored.globalDigest))!);
    const expected = evaluateSoftmax(finalModel, loadDigits(), digitsSplit().test);
    expect(scored.recentRounds[1]).toMatchObject({ accuracy: expected.accuracy, loss: expected.loss });
    expect(off.recentRounds.map((round) => round.accuracy)).toEqual([undefined, undefined]);
  }, 120_000);

  it('federated evaluation runs on its cadence: only rounds divisible by everyRounds carry the agents’ scores', async () => {
    const result = await run({ rounds: 4, evaluation: { federated: { everyRounds: 2 } } });
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds.map((round) => round.agentEvalExamples)).toEqual([undefined, heldBySwarm, undefined, heldBySwarm]);
    expect(result.recentRounds.map((round) => round.agentAccuracy === undefined)).toEqual([true, false, true, false]);
    // After the last round the agents score the final model in an evaluation-only round, weighted by their examples.
    const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
    const scores = heldOut.map((part) => evaluateSoftmax(finalModel, loadDigits(), part));
    const weighted = (key: 'accuracy' | 'loss') => scores.reduce((sum, score, i) => sum + score[key] * heldOut[i].length, 0) / heldBySwarm;
    expect(result.finalEvaluation).toEqual({
      loss: expect.closeTo(weighted('loss'), 12),
      accuracy: expect.closeTo(weighted('accuracy'), 12),
      examples: heldBySwarm,
      agents: AGENTS,
    });
    expect(result.finalEvaluationMissing).toBeUndefined();
    // The evaluation round trained nothing: the job's model is the last training round's.
    expect(result.globalDigest).toBe(result.recentRounds[3].globalDigest);
    const status = (await (await fetch(`${stack.api.url}/api/v1/tuning/${result.jobId}`, { headers: admin })).json()) as TuningProgress;
    expect(status.finalEvaluation).toEqual(result.finalEvaluation);
  }, 120_000);

  it('when too few agents answer the evaluation-only round the job still completes, without finalEvaluation and saying why', async () => {
    // Agents whose trainer scores the model while training but not in the evaluation-only round: they answer nothing there.
    const mute = uniqueId('mute');
    const trainers = digitsTrainers({ agents: 2, seed: 5 }).map(
      (train): Trainer => async (task) => {
        const result = await train(task);
        return task.evaluateOnly && result ? { ...result, evaluation: undefined } : result;
      },
    );
    const quiet = await simulateSwarm({ apiUrl: stack.api.url, messaging: stack.ports.messaging, count: 2, swarmId: mute, idPrefix: mute, trainers, heartbeatIntervalMs: 5_000 });
    try {
      await waitFor('visibility to list both agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: mute, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 2 ? true : undefined;
      });
      const result = await run({ swarmId: mute, minParticipants: 2, rounds: 1, roundTimeoutMs: 3_000, evaluation: { federated: { everyRounds: 1 } } });
      expect(result.status).toBe('COMPLETED');
      expect(result.round).toBe(1);
      expect(result.recentRounds[0].agentEvalExamples).toBeGreaterThan(0);
      expect(result.finalEvaluation).toBeUndefined();
      expect(result.finalEvaluationMissing).toBe('evaluation round: 0 agents answered, fewer than 2');
    } finally {
      await quiet.stop();
    }
  }, 120_000);

  it('a job without federated evaluation runs no evaluation-only round', async () => {
    const result = await run({ rounds: 1, evaluation: { server: false } });
    expect(result.status).toBe('COMPLETED');
    expect(result.finalEvaluation).toBeUndefined();
    expect(result.finalEvaluationMissing).toBeUndefined();
  }, 120_000);
});
