// Simulated agents keep part of their data out of training and score the global model on it.
import { DIGITS_CLASSES, DIGITS_FEATURES, digitsSplit, loadDigits } from '../../adapters/datasets/digits';
import { digitsAgentData, digitsHeldOut, digitsShards, digitsTrainers, splitHeldOut } from '../../agents/trainers';
import type { RoundTask } from '../../agents/sdk';
import { evaluateSoftmax, parameterCount } from '../../core/models/softmax';

describe("a simulated agent's held-out data", () => {
  it('holds out floor(n × fraction) examples spread evenly over the shard, disjoint from what it trains on', () => {
    const shard = Array.from({ length: 23 }, (_, i) => 100 + i);
    const { train, heldOut } = splitHeldOut(shard, 0.2);
    expect(heldOut).toHaveLength(Math.floor(23 * 0.2));
    expect(heldOut).toEqual([104, 109, 114, 119]);
    expect([...train, ...heldOut].sort((a, b) => a - b)).toEqual(shard);
    expect(splitHeldOut(shard, 0).heldOut).toEqual([]);
    expect(() => splitHeldOut(shard, 1)).toThrow(RangeError);
  });

  it('is the same split every time, inside the training part of digits, and never overlaps another agent or the server test set', () => {
    const options = { agents: 6, alpha: 0.5, seed: 4 };
    const parts = digitsAgentData(options);
    expect(digitsAgentData(options)).toEqual(parts);
    expect(digitsShards(options)).toEqual(parts.map((p) => p.train));
    expect(digitsHeldOut(options)).toEqual(parts.map((p) => p.heldOut));
    const all = parts.flatMap((p) => [...p.train, ...p.heldOut]);
    expect(new Set(all).size).toBe(all.length);
    expect(all.sort((a, b) => a - b)).toEqual([...digitsSplit().train].sort((a, b) => a - b));
    const test = new Set(digitsSplit().test);
    expect(all.some((i) => test.has(i))).toBe(false);
    for (const part of parts) expect(part.heldOut.length).toBe(Math.floor((part.train.length + part.heldOut.length) * 0.2));
  });

  it("the digits trainer reports its score of the incoming model on the held-out part, and trains on the rest", async () => {
    const options = { agents: 3, seed: 2 };
    const [trainer] = digitsTrainers(options);
    const [{ train, heldOut }] = digitsAgentData(options);
    const global = new Float32Array(parameterCount(DIGITS_FEATURES, DIGITS_CLASSES)).map((_, i) => Math.sin(i) / 10);
    const task: RoundTask = {
      jobId: 'job',
      round: 1,
      attempt: 1,
      global,
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      deadlineAt: Date.now() + 60_000,
      budget: { epochs: 1 },
      shouldStop: () => false,
      signal: new AbortController().signal,
    };
    const result = await trainer(task);
    expect(result?.evaluation).toEqual(evaluateSoftmax(global, loadDigits(), heldOut));
    expect(result?.evaluation?.examples).toBe(heldOut.length);
    expect(result?.examples).toBe(train.length);
  });
});
