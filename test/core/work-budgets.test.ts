// Work budgets and partial work, the pure parts: the budget an agent is handed, the steps a
// training plans, step-wise training equal to the whole, and the signed steps headers.
import { generateKeyPairSync } from 'node:crypto';
import { digitsShards } from '../../agents/trainers';
import { loadDigits } from '../../adapters/datasets/digits';
import { signAsAgent, verifyProof } from '../../core/message-proof';
import { plannedSteps, SoftmaxTraining, trainSoftmax } from '../../core/models/softmax';
import { agentBudget, decodeUpdateHeader, encodeUpdateHeader, isPartial } from '../../core/tuning';

describe('work budgets', () => {
  it('an agent gets localSteps scaled by its capacity share (at least one), or the epochs, and the time budget', () => {
    const training = { learningRate: 0.1, batchSize: 32, localSteps: 10, timeBudgetMs: 500 };
    expect(agentBudget(training)).toEqual({ localSteps: 10, timeBudgetMs: 500 });
    expect(agentBudget(training, 0.25)).toEqual({ localSteps: 3, timeBudgetMs: 500 });
    expect(agentBudget(training, 0.01)).toEqual({ localSteps: 1, timeBudgetMs: 500 });
    expect(agentBudget({ learningRate: 0.1, batchSize: 32, epochs: 2 }, 0.5)).toEqual({ epochs: 2 });
    expect(agentBudget({ learningRate: 0.1, batchSize: 32 })).toEqual({ epochs: 1 });
  });

  it('plans localSteps, or epochs × batches per epoch, and nothing without examples', () => {
    expect(plannedSteps({ localSteps: 7, batchSize: 32 }, 100)).toBe(7);
    expect(plannedSteps({ epochs: 2, batchSize: 32 }, 100)).toBe(8);
    expect(plannedSteps({ batchSize: 32 }, 64)).toBe(2);
    expect(plannedSteps({ localSteps: 7, batchSize: 32 }, 0)).toBe(0);
  });

  it('training step by step gives the bits of training at once, and stopping early keeps the steps done', () => {
    const data = loadDigits();
    const [examples] = digitsShards({ agents: 8, seed: 4 });
    const options = { learningRate: 0.1, epochs: 2, batchSize: 32, proximalMu: 0.01 };
    const global = new Float32Array(650).map((_, i) => ((i % 7) - 3) / 100);
    const whole = trainSoftmax(global, data, examples, options);
    const stepped = new SoftmaxTraining(global, data, examples, options);
    while (stepped.step());
    expect(stepped.stepsCompleted).toBe(stepped.stepsPlanned);
    expect(Buffer.from(stepped.result().params.buffer)).toEqual(Buffer.from(whole.params.buffer));
    expect(stepped.result().loss).toBe(whole.loss);

    const partial = new SoftmaxTraining(global, data, examples, { ...options, epochs: undefined, localSteps: 50 });
    for (let i = 0; i < 3; i++) partial.step();
    expect(partial.stepsCompleted).toBe(3);
    expect(partial.stepsPlanned).toBe(50);
    expect(partial.result().params).not.toEqual(global);
  });

  it('steps travel in the update header, signed like every other property', () => {
    const keys = generateKeyPairSync('ed25519');
    const topic = 'swarm/s/updates-j';
    const payload = Buffer.from('params');
    const header = { jobId: 'j', round: 2, attempt: 1, agentId: 'a', examples: 10, stepsCompleted: 4, stepsPlanned: 20 };
    const properties = signAsAgent(keys.privateKey, 'a', topic, encodeUpdateHeader(header), payload, 1_000);
    const decoded = decodeUpdateHeader(properties)!;
    expect(decoded).toMatchObject({ stepsCompleted: 4, stepsPlanned: 20 });
    expect(isPartial(decoded)).toBe(true);
    expect(isPartial({ stepsCompleted: 20, stepsPlanned: 20 })).toBe(false);
    expect(isPartial({})).toBe(false);
    const proofKeys = { secret: 's', agentKey: () => keys.publicKey };
    expect(verifyProof({ topic, payload, publishTime: 1_000, properties }, proofKeys)).toMatchObject({ ok: true });
    const inflated = { ...properties, stepsCompleted: '20' };
    expect(verifyProof({ topic, payload, publishTime: 1_000, properties: inflated }, proofKeys)).toMatchObject({ ok: false, reason: 'bad-proof' });
  });
});
