// The exact, order-independent weighted mean the aggregation activity runs: against an
// independent BigInt reference, across arrival orders, on both backends (WebAssembly SIMD and
// plain JS), with the magnitudes and weights that broke the fixed-point version.
import { ExactWeightedMean, ExactSum } from '../../core/aggregation/exact-mean';
import { exactKernelModule, exactModuleBytes } from '../../core/aggregation/exact-kernel';
import { wasmApi } from '../../core/aggregation/kernel';
import { seededRandom } from '../../core/random';
import { BACKENDS, expectSameBits, hardUpdates, referenceMean, shuffled, type Update } from '../support/exact-mean-fixtures';

function meanOf(updates: Update[], dimension: number, backend: 'wasm' | 'js', tile?: number): Float32Array {
  const mean = new ExactWeightedMean(dimension, { backend, tile });
  for (const u of updates) mean.add(u);
  return mean.mean();
}

describe('the exact kernel module', () => {
  it('assembles a valid WebAssembly SIMD module', () => {
    expect(wasmApi?.validate(exactModuleBytes())).toBe(true);
    expect(exactKernelModule()).toBeDefined();
  });
});

describe('ExactWeightedMean', () => {
  it('takes 3,001 updates of 1,000,000 examples with parameters of magnitude 3 and returns the exact mean', () => {
    const dimension = 67;
    const next = seededRandom(11);
    const updates: Update[] = Array.from({ length: 3001 }, () => ({
      examples: 1_000_000,
      params: Float32Array.from({ length: dimension }, () => (next() < 0.5 ? -3 : 3) * (0.9 + 0.1 * next())),
    }));
    const expected = referenceMean(updates, dimension);
    for (const backend of BACKENDS) {
      const mean = new ExactWeightedMean(dimension, { backend });
      for (const u of updates) mean.add(u);
      expect(mean.updates).toBe(3001);
      expect(mean.totalExamples).toBe(3_001_000_000);
      expectSameBits(mean.mean(), expected);
    }
    // all 3s: exactly 3
    const threes = new ExactWeightedMean(8);
    for (let k = 0; k < 3001; k++) threes.add({ examples: 1_000_000, params: new Float32Array(8).fill(3) });
    expectSameBits(threes.mean(), new Float32Array(8).fill(3));
  });

  it('returns a mean of 1e-7 as Math.fround(1e-7) exactly, whatever the weights', () => {
    const dimension = 11;
    const updates: Update[] = [1, 2, 999, 1_000_000, 2 ** 35 + 3].map((examples) => ({
      examples,
      params: new Float32Array(dimension).fill(1e-7),
    }));
    for (const backend of BACKENDS) {
      expectSameBits(meanOf(updates, dimension, backend), new Float32Array(dimension).fill(Math.fround(1e-7)));
    }
    // and a small value beside large ones in other coordinates of the same tile
    const mixed = updates.map((u, k) => {
      const params = u.params.slice();
      params[k] = 1e6;
      params[dimension - 1 - k] = -1e6;
      return { ...u, params };
    });
    const mean = meanOf(mixed, dimension, 'wasm');
    expect(mean[5]).toBe(Math.fround(1e-7));
    expectSameBits(mean, referenceMean(mixed, dimension));
  });

  it('gives bit-identical means across arrival orders and backends: magnitudes 1e-30..1e30, signs, cancellation, weights 1..1.2e11', () => {
    // Small tiles, and a dimension no multiple of 8, so tile edges and the scalar tail are covered.
    const dimension = 5 * 64 + 11;
    const tile = 64;
    const updates = hardUpdates(23, dimension, 5);
    const expected = referenceMean(updates, dimension);
    expect(expected[0]).not.toBe(0); // cancellation left the 1e-30s and the rest
    const next = seededRandom(99);
    for (let trial = 0; trial < 4; trial++) {
      const order = trial === 0 ? updates : shuffled(updates, next);
      for (const backend of BACKENDS) expectSameBits(meanOf(order, dimension, backend, tile), expected);
    }
  });

  it('folds ordinary updates over several default-size tiles and a tail exactly (the fast fold)', () => {
    const dimension = 2 * 32768 + 13;
    const next = seededRandom(21);
    const updates: Update[] = Array.from({ length: 9 }, () => ({
      examples: 1 + Math.floor(next() * 5000),
      params: Float32Array.from({ length: dimension }, () => next() * 2 - 1),
    }));
    const expected = referenceMean(updates, dimension);
    expectSameBits(meanOf(updates, dimension, 'wasm'), expected);
    expectSameBits(meanOf([...updates].reverse(), dimension, 'wasm'), expected);
    expectSameBits(meanOf(updates, dimension, 'js'), expected);
  });

  it('a released mean hands its working memory to the next one of the same size, which gives the same bits as fresh memory', () => {
    const dimension = 32768 + 21;
    const next = seededRandom(33);
    const round = (scale: number): Update[] =>
      Array.from({ length: 11 }, () => ({
        examples: 1 + Math.floor(next() * 900),
        params: Float32Array.from({ length: dimension }, () => (next() * 2 - 1) * scale),
      }));
    const first = round(1e6);
    const second = round(1e-3);
    const used = new ExactWeightedMean(dimension, { backend: 'wasm' });
    for (const update of first) used.add(update);
    expectSameBits(used.mean(), referenceMean(first, dimension));
    used.release();
    expect(() => used.mean()).toThrow(/released/);
    // The next mean reuses that memory: nothing of the first round's bins may show.
    const reused = new ExactWeightedMean(dimension, { backend: 'wasm' });
    for (const update of second) reused.add(update);
    expectSameBits(reused.mean(), referenceMean(second, dimension));
    expectSameBits(reused.mean(), meanOf(second, dimension, 'js'));
  });

  it('keeps the bits when bins are re-based many times: growing magnitudes, and more values than a low bin holds between re-basings', () => {
    const dimension = 9;
    const growing: Update[] = Array.from({ length: 40 }, (_, k) => ({
      examples: 1 + (k % 7),
      params: Float32Array.from({ length: dimension }, (_, i) => (i % 2 ? -1 : 1) * 2 ** (k * 6 - 120) * (1 + i / 8)),
    }));
    const expected = referenceMean(growing, dimension);
    for (const backend of BACKENDS) {
      expectSameBits(meanOf(growing, dimension, backend), expected);
      expectSameBits(meanOf([...growing].reverse(), dimension, backend), expected);
    }
    const next = seededRandom(3);
    const many: Update[] = Array.from({ length: 40_000 }, () => ({
      examples: 1 + Math.floor(next() * 1000),
      params: Float32Array.from({ length: 4 }, () => next() * 2 - 1),
    }));
    expectSameBits(meanOf(many, 4, 'wasm'), referenceMean(many, 4));
  });

  it('weights that are not integers are split exactly: the mean equals the exact rational rounded once', () => {
    const updates: Update[] = [
      { examples: 0.1, params: Float32Array.of(1, 3) },
      { examples: 0.7, params: Float32Array.of(2, -1) },
    ];
    for (const backend of BACKENDS) {
      const mean = meanOf(updates, 2, backend);
      const total = 0.1 + 0.7; // both weights are doubles; their exact sum is not 0.8
      const exact0 = new ExactSum();
      exact0.add(0.1);
      exact0.add(1.4);
      expect(mean[0]).toBe(Math.fround(exact0.toNumber() / total));
      const exact1 = new ExactSum();
      for (let k = 0; k < 3; k++) exact1.add(0.1); // 0.1 × 1 three times is 0.1 × 3 exactly
      exact1.add(-0.7);
      expect(mean[1]).toBe(Math.fround(exact1.toNumber() / total));
    }
  });

  it('refuses a wrong size, a non-positive or non-finite weight, an empty mean, and non-finite parameters', () => {
    for (const backend of BACKENDS) {
      const mean = new ExactWeightedMean(3, { backend });
      expect(() => mean.mean()).toThrow('no updates');
      expect(() => mean.add({ examples: 1, params: new Float32Array(4) })).toThrow('expected 3 parameters');
      expect(() => mean.add({ examples: 0, params: new Float32Array(3) })).toThrow('examples');
      expect(() => mean.add({ examples: Number.NaN, params: new Float32Array(3) })).toThrow('examples');
      expect(() => mean.add({ examples: Infinity, params: new Float32Array(3) })).toThrow('examples');
      const broken = new ExactWeightedMean(3, { backend });
      expect(() => {
        broken.add({ examples: 1, params: Float32Array.of(1, Number.NaN, 2) });
        broken.mean();
      }).toThrow('non-finite');
      expect(() => broken.mean()).toThrow('non-finite');
    }
  });
});

describe('ExactSum', () => {
  it('adds doubles exactly and rounds once: 1e30 + 1e-30 − 1e30 = 1e-30; 2^53 + 1 + 1 = 2^53 + 2', () => {
    const a = new ExactSum();
    a.add(1e30);
    a.add(1e-30);
    a.add(-1e30);
    expect(a.toNumber()).toBe(1e-30);
    const b = new ExactSum();
    b.add(2 ** 53);
    b.add(1);
    b.add(1);
    expect(b.toNumber()).toBe(2 ** 53 + 2);
    const c = new ExactSum();
    c.add(2 ** 53);
    c.add(1);
    expect(c.toNumber()).toBe(2 ** 53); // a tie, to even
    c.add(2 ** -1074);
    expect(c.toNumber()).toBe(2 ** 53 + 2); // just past the tie
  });
});
