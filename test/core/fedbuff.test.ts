import { StalenessWeightedBuffer } from '../../core/aggregation/fedbuff';
import { admissibleBase, stalenessWeight } from '../../core/async-tuning';

describe('staleness weighting', () => {
  it('is 1/sqrt(1 + staleness) at the default exponent, and 1 with the discount off', () => {
    expect(stalenessWeight(0, 0.5)).toBe(1);
    expect(stalenessWeight(3, 0.5)).toBe(0.5);
    expect(stalenessWeight(8, 0.5)).toBeCloseTo(1 / 3, 15);
    expect(stalenessWeight(5, 0)).toBe(1);
    expect(() => stalenessWeight(-1, 0.5)).toThrow(RangeError);
  });

  it('admits a base at most maxStaleness versions old, and no version from the future', () => {
    expect(admissibleBase(7, 9, 2)).toBe('ok');
    expect(admissibleBase(6, 9, 2)).toBe('stale');
    expect(admissibleBase(10, 9, 2)).toBe('future');
  });
});

describe('a buffer of stale updates (FedBuff server step)', () => {
  const f32 = (...values: number[]) => Float32Array.from(values);

  it('moves the model by Σ n·s·Δ / Σ n on a hand-computed case', () => {
    // global (version 3) = [1, 1]; update A (10 examples) trained on version 3: Δ = [2, 0], s = 1;
    // update B (30 examples) trained on version 0 ([0, 0]): Δ = [0, 4], staleness 3, s = 1/2.
    // next = [1, 1] + (10·[2, 0] + 30·0.5·[0, 4]) / 40 = [1.5, 2.5]
    const buffer = new StalenessWeightedBuffer(2, 0.5);
    buffer.add({ params: f32(3, 1), base: f32(1, 1), examples: 10, staleness: 0 });
    buffer.add({ params: f32(0, 4), base: f32(0, 0), examples: 30, staleness: 3 });
    expect(Array.from(buffer.apply(f32(1, 1)))).toEqual([1.5, 2.5]);
    expect(buffer.meanStaleness).toBe(1.5);
  });

  it('with every update fresh is FedAvg of the deltas, scaled by the server learning rate', () => {
    const buffer = new StalenessWeightedBuffer(1, 0.5);
    buffer.add({ params: f32(4), base: f32(2), examples: 1, staleness: 0 });
    buffer.add({ params: f32(8), base: f32(2), examples: 3, staleness: 0 });
    // mean Δ = (2 + 18) / 4 = 5; lr 0.5 → 2 + 2.5
    expect(Array.from(buffer.apply(f32(2), 0.5))).toEqual([4.5]);
  });

  it('gives the same bits for any arrival order', () => {
    let state = 7;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const dimension = 300;
    const global = Float32Array.from({ length: dimension }, () => random());
    const updates = Array.from({ length: 9 }, (_, k) => ({
      params: Float32Array.from({ length: dimension }, () => random() * 10 ** (k % 4)),
      base: Float32Array.from({ length: dimension }, () => random()),
      examples: 1 + k * 17,
      staleness: k % 4,
    }));
    const run = (order: number[]) => {
      const buffer = new StalenessWeightedBuffer(dimension, 0.5);
      for (const k of order) buffer.add(updates[k]);
      return Buffer.from(buffer.apply(global).buffer).toString('hex');
    };
    const forward = run([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(run([8, 7, 6, 5, 4, 3, 2, 1, 0])).toBe(forward);
    expect(run([4, 0, 8, 2, 6, 1, 7, 3, 5])).toBe(forward);
  });
});
