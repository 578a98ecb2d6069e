// The aggregation activity's intake: an update offered as its message payload's bytes is checked
// (size, examples, finite, norm) and folded in one pass. Offered updates must give the same bits
// as the same updates added as Float32Arrays, whatever the arrival order, on both backends, and a
// refused update must leave no trace in the mean.
import { validateUpdate } from '../../core/aggregation';
import { ExactWeightedMean } from '../../core/aggregation/exact-mean';
import { exactKernelModule, instantiateExactKernel, squaredDistanceJs, tileMaxJs } from '../../core/aggregation/exact-kernel';
import { wasmApi } from '../../core/aggregation/kernel';
import { seededRandom } from '../../core/random';
import { BACKENDS, expectSameBits, hardUpdates, referenceMean, shuffled, type Update } from '../support/exact-mean-fixtures';

/** The update's bytes as a message payload: at `misalign` bytes into a larger buffer (0: aligned). */
function payloadOf(params: Float32Array, misalign = 0): Uint8Array {
  const buffer = new Uint8Array(params.byteLength + misalign + 3);
  buffer.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), misalign);
  return buffer.subarray(misalign, misalign + params.byteLength);
}

function offeredMean(updates: Update[], dimension: number, backend: 'wasm' | 'js', tile?: number): Float32Array {
  const mean = new ExactWeightedMean(dimension, { backend, tile });
  updates.forEach((u, k) => expect(mean.offer(payloadOf(u.params, k % 4), u.examples)).toBeUndefined());
  expect(mean.updates).toBe(updates.length);
  const out = mean.mean();
  mean.release();
  return out;
}

describe('ExactWeightedMean.offer (message payload bytes)', () => {
  it('gives the bits of the exact mean across arrival orders and backends, aligned or not: magnitudes 1e-30..1e30, weights 1..1.2e11', () => {
    const dimension = 5 * 64 + 11;
    const tile = 64;
    const updates = hardUpdates(23, dimension, 5);
    const expected = referenceMean(updates, dimension);
    const next = seededRandom(7);
    for (let trial = 0; trial < 4; trial++) {
      const order = trial === 0 ? updates : shuffled(updates, next);
      for (const backend of BACKENDS) expectSameBits(offeredMean(order, dimension, backend, tile), expected);
    }
  });

  it('over default-size tiles and a tail, more updates than one batch: the same bits as add() in another order', () => {
    const dimension = 2 * 32768 + 13;
    const next = seededRandom(31);
    const updates: Update[] = Array.from({ length: 19 }, () => ({
      examples: 1 + Math.floor(next() * 5000),
      params: Float32Array.from({ length: dimension }, () => next() * 2 - 1),
    }));
    const added = new ExactWeightedMean(dimension);
    for (const u of [...updates].reverse()) added.add(u);
    const expected = added.mean();
    expectSameBits(offeredMean(updates, dimension, 'wasm'), expected);
    expectSameBits(offeredMean(shuffled(updates, next), dimension, 'js'), expected);
    expectSameBits(expected, referenceMean(updates, dimension));
  });

  it('refuses what validateUpdate refuses, with the same codes, and a refused update leaves no trace in the mean', () => {
    const dimension = 3 * 64 + 5;
    const next = seededRandom(3);
    const global = Float32Array.from({ length: dimension }, () => next() - 0.5);
    const good: Update[] = Array.from({ length: 11 }, (_, k) => ({
      examples: 10 + k,
      params: Float32Array.from(global, (g) => g + (next() - 0.5) * 0.01),
    }));
    const far = Float32Array.from(global, (g) => g + 1);
    const withNaN = good[0].params.slice();
    withNaN[70] = Number.NaN;
    const withInf = good[1].params.slice();
    withInf[dimension - 1] = -Infinity;
    const bad: Array<{ params: Float32Array; examples: number; bytes?: Uint8Array; code: string }> = [
      { params: withNaN, examples: 5, code: 'not-finite' },
      { params: withInf, examples: 5, code: 'not-finite' },
      { params: far, examples: 5, code: 'norm-exceeded' },
      { params: good[2].params, examples: 0, code: 'bad-examples' },
      { params: good[2].params, examples: 2.5, code: 'bad-examples' },
      { params: new Float32Array(dimension + 1), examples: 5, code: 'wrong-dimension' },
      { params: good[2].params, examples: 5, bytes: payloadOf(good[2].params).subarray(1), code: 'wrong-dimension' },
    ];
    const maxUpdateNorm = 1; // the good ones are ~0.04 away, `far` is √197 away
    for (const b of bad) {
      const expectedCode = b.bytes ? 'wrong-dimension' : validateUpdate({ agentId: 'a', examples: b.examples, params: b.params }, global, maxUpdateNorm)?.code;
      expect(expectedCode).toBe(b.code);
    }
    const expected = referenceMean(good, dimension);
    for (const backend of BACKENDS) {
      for (const tile of [64, undefined]) {
        const mean = new ExactWeightedMean(dimension, { backend, tile });
        const order = shuffled([...good.map((u) => ({ ...u, code: undefined as string | undefined, bytes: undefined as Uint8Array | undefined })), ...bad], next);
        for (const u of order) {
          const refusal = mean.offer(u.bytes ?? payloadOf(u.params, 1), u.examples, { reference: global, maxUpdateNorm });
          expect(refusal?.code).toBe(u.code);
        }
        expect(mean.updates).toBe(good.length);
        expect(mean.totalExamples).toBe(good.reduce((n, u) => n + u.examples, 0));
        expectSameBits(mean.mean(), expected);
        mean.release();
      }
    }
    const refusal = new ExactWeightedMean(dimension).offer(payloadOf(withNaN), 1);
    expect(refusal).toEqual({ code: 'not-finite', message: 'params[70] is NaN (not finite)' });
  });

  it('decides the norm bound with the same bits on both backends: the squared distance of the kernel equals the plain-JS sum', () => {
    expect(exactKernelModule()).toBeDefined();
    const memory = new wasmApi!.Memory({ initial: 2, maximum: 2 });
    const kernel = instantiateExactKernel(memory);
    const count = 1003;
    const next = seededRandom(17);
    const x = new Float32Array(memory.buffer, 0, count);
    const g = new Float32Array(memory.buffer, 8192, count);
    for (let i = 0; i < count; i++) {
      x[i] = (next() - 0.5) * 10 ** (next() * 12 - 6);
      g[i] = (next() - 0.5) * 10 ** (next() * 12 - 6);
    }
    kernel.squaredDistance(0, 8192, 1000, 16384);
    const fromKernel = squaredDistanceJs(x, g, 1000, new Float64Array(memory.buffer, 16384, 8));
    expect(Object.is(fromKernel, squaredDistanceJs(x, g))).toBe(true);
    // and it is the squared norm to within float64 rounding
    let plain = 0;
    for (let i = 0; i < count; i++) plain += (x[i] - g[i]) ** 2;
    expect(Math.abs(fromKernel - plain) / plain).toBeLessThan(1e-12);
    // an update just inside and just outside the bound is decided alike on both backends
    const dimension = 37;
    const params = Float32Array.from({ length: dimension }, () => next());
    const reference = Float32Array.from({ length: dimension }, () => next());
    const norm = Math.sqrt(squaredDistanceJs(params, reference));
    for (const backend of BACKENDS) {
      const mean = new ExactWeightedMean(dimension, { backend });
      expect(mean.offer(payloadOf(params), 3, { reference, maxUpdateNorm: norm })).toBeUndefined();
      expect(mean.offer(payloadOf(params), 3, { reference, maxUpdateNorm: norm * (1 - 1e-15) })?.code).toBe('norm-exceeded');
      expect(mean.updates).toBe(1);
    }
  });

  it('the kernel measures a tile as the plain-JS code does: largest |x|·n (NaN or ∞ when there is one) and least nonzero |x|, over zeros, -0, subnormals, ±∞ and NaN', () => {
    const memory = new wasmApi!.Memory({ initial: 2, maximum: 2 });
    const kernel = instantiateExactKernel(memory);
    const count = 96;
    const x = new Float32Array(memory.buffer, 1024, count);
    const table = new Int32Array(memory.buffer, 0, 1);
    const weights = new Float64Array(memory.buffer, 64, 1);
    const mins = new Float32Array(memory.buffer, 128, 1);
    table[0] = 1024;
    weights[0] = 1000;
    const next = seededRandom(23);
    const specials = [0, -0, 2 ** -149, -(2 ** -140), 3.4e38, -1e-30, 7];
    for (const special of [undefined, Infinity, -Infinity, Number.NaN]) {
      for (let i = 0; i < count; i++) x[i] = i % 5 === 0 ? specials[i % specials.length] : (next() - 0.5) * 10 ** (next() * 20 - 10);
      if (special !== undefined) x[41] = special;
      mins[0] = 0;
      const fromKernel = kernel.tileMax(0, 64, 1, 0, count, 128);
      const jsMins = new Float32Array(1);
      const fromJs = tileMaxJs([Float32Array.from(x)], [1000], 1, 0, count, jsMins);
      expect(fromKernel).toBe(fromJs); // toBe: Object.is, so NaN equals NaN
      expect(mins[0]).toBe(jsMins[0]);
      if (special === undefined) expect(Number.isFinite(fromKernel)).toBe(true);
      else expect(Number.isNaN(special) ? Number.isNaN(fromKernel) : fromKernel === Infinity).toBe(true);
    }
  });
});
