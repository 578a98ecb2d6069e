// Oort's statistical utility from the root-mean-square of the per-example losses
// (Lai et al., OSDI 2021): agents report the mean squared loss in their signed update header.
import { generateKeyPairSync } from 'node:crypto';
import { loadDigits } from '../../adapters/datasets/digits';
import { signAsAgent, verifyProof } from '../../core/message-proof';
import { SoftmaxTraining, evaluateSoftmax } from '../../core/models/softmax';
import { recordFeedback, statisticalUtility } from '../../core/selection';
import { decodeUpdateHeader, encodeUpdateHeader } from '../../core/tuning';
import { DIGITS_DIMENSION, digitsAgentData } from '../../agents/trainers';

describe("Oort's statistical utility", () => {
  it('is |B| × sqrt(Σ loss² / |B|) when the agent reports the mean squared loss, examples × mean loss otherwise', () => {
    // Per-example losses 1, 2, 2, 4 over |B| = 4: Σ loss² = 25, mean square 6.25, root 2.5; mean loss 2.25.
    expect(statisticalUtility(4, 2.25, 6.25)).toBe(10);
    expect(statisticalUtility(4, 2.25)).toBe(9);
    expect(statisticalUtility(4)).toBe(4);
    expect(statisticalUtility(4, 2.25, Number.NaN)).toBe(9);
  });

  it('is what Oort learns from a round: the root-mean-square when reported, the mean loss from older agents', () => {
    const next = recordFeedback(undefined, 2, ['new', 'old'], [
      { agentId: 'new', examples: 4, loss: 2.25, lossSquared: 6.25, durationMs: 100 },
      { agentId: 'old', examples: 4, loss: 2.25, durationMs: 100 },
    ], 5000);
    expect(next).toEqual({ new: { round: 2, utility: 10, durationMs: 100 }, old: { round: 2, utility: 9, durationMs: 100 } });
  });
});

describe('the mean squared training loss', () => {
  it('is the mean over the epoch of each example’s squared cross-entropy, at least the square of the mean loss', () => {
    const data = loadDigits();
    const [{ train }] = digitsAgentData({ agents: 10, seed: 1 });
    const global = new Float32Array(DIGITS_DIMENSION).map((_, i) => Math.cos(i) / 20);
    // Full batch, one step: the epoch's losses are those of the incoming model on each example.
    const training = new SoftmaxTraining(global, data, train, { learningRate: 0.1, epochs: 1, batchSize: train.length });
    training.step();
    const result = training.result();
    const perExample = train.map((example) => evaluateSoftmax(global, data, [example]).loss);
    const meanSquare = perExample.reduce((sum, loss) => sum + loss * loss, 0) / perExample.length;
    expect(result.loss).toBeCloseTo(perExample.reduce((a, b) => a + b, 0) / perExample.length, 12);
    expect(result.lossSquared).toBeCloseTo(meanSquare, 12);
    expect(result.lossSquared).toBeGreaterThanOrEqual(result.loss ** 2);
  });

  it('travels in the update header as an optional property, signed like the others; headers without it still decode', () => {
    const keys = generateKeyPairSync('ed25519');
    const topic = 'swarm/s/updates-j';
    const payload = Buffer.from('params');
    const header = { jobId: 'j', round: 1, attempt: 1, agentId: 'a', examples: 4, trainLoss: 2.25, trainLossSquared: 6.25 };
    const properties = signAsAgent(keys.privateKey, 'a', topic, encodeUpdateHeader(header), payload, 1_000);
    expect(decodeUpdateHeader(properties)).toMatchObject({ trainLoss: 2.25, trainLossSquared: 6.25 });
    const proofKeys = { secret: 's', agentKey: () => keys.publicKey };
    expect(verifyProof({ topic, payload, publishTime: 1_000, properties }, proofKeys)).toMatchObject({ ok: true });
    const inflated = { ...properties, trainLossSquared: '100' };
    expect(verifyProof({ topic, payload, publishTime: 1_000, properties: inflated }, proofKeys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    const { trainLossSquared: _omitted, ...older } = header;
    expect(decodeUpdateHeader(encodeUpdateHeader(older))?.trainLossSquared).toBeUndefined();
  });
});
