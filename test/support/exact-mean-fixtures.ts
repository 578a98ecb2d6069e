// Inputs and checks shared by the exact mean's tests: an independent BigInt reference, bit
// comparison, shuffling, and updates with the magnitudes and weights that are hard to sum exactly.
import { seededRandom } from '../../core/random';

export interface Update {
  examples: number;
  params: Float32Array;
}

export const BACKENDS = ['wasm', 'js'] as const;

/**
 * The reference: every float32 is an integer multiple of 2^-149, so Σ n·x is an exact BigInt
 * multiple of 2^-149 (n is an integer here); the mean is f32(fl(Σ n·x) / fl(Σ n)).
 */
export function referenceMean(updates: Update[], dimension: number): Float32Array {
  const scale = 2 ** 149;
  const sums = new Array<bigint>(dimension).fill(0n);
  let total = 0n;
  for (const { examples, params } of updates) {
    const n = BigInt(examples);
    total += n;
    for (let i = 0; i < dimension; i++) sums[i] += n * BigInt(params[i] * scale);
  }
  const out = new Float32Array(dimension);
  const t = Number(total);
  for (let i = 0; i < dimension; i++) out[i] = (Number(sums[i]) / scale) / t;
  return out;
}

/** Identical bits (±0 and NaN payloads included), reporting the first difference. */
export function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let first = -1;
  for (let i = 0; i < a.length && first < 0; i++) if (a[i] !== b[i]) first = i;
  expect(first === -1 ? 'identical' : `differ at [${first}]: ${actual[first]} vs ${expected[first]}`).toBe('identical');
}

export function shuffled<T>(items: T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Mixed magnitudes 1e-30..1e30, both signs, some zeros, exact cancellations, varied weights. */
export function hardUpdates(count: number, dimension: number, seed: number): Update[] {
  const next = seededRandom(seed);
  const weights = [1, 3, 17, 1000, 65_537, 1_000_000, 2 ** 29 + 1, 2 ** 40 + 7, 123_456_789_012];
  const updates = Array.from({ length: count }, (_, k) => {
    const params = new Float32Array(dimension);
    for (let i = 0; i < dimension; i++) {
      const magnitude = 10 ** (next() * 60 - 30);
      params[i] = next() < 0.05 ? 0 : (next() < 0.5 ? -1 : 1) * magnitude;
    }
    return { examples: weights[k % weights.length], params };
  });
  // Cancellation: two equal-weight updates whose huge values cancel, leaving tiny ones visible.
  updates[1].examples = updates[2].examples = 5;
  for (let i = 0; i < dimension; i += 3) {
    updates[1].params[i] = 1e30;
    updates[2].params[i] = -1e30;
    updates[3].params[i] = 1e-30;
  }
  return updates;
}

