// Fixed-point encoding for SecAgg: clip to [−c, c], scale by the agent's
// weight ratio, map to integers in [0, R], and back. Sums live in Z_{2^k}.
import { DomainError } from '../errors';
import type { RandomSource } from './crypto';

export interface QuantizeOptions {
  clipRange: number;
  levels: number;
  rounding: 'stochastic' | 'nearest';
  /** Multiplier in [0, 1] applied after clipping (weight / maxWeight, itself quantised). */
  scale: number;
}

/** Clips, scales and quantises a float vector into `out` (integers in [0, levels]); `random` drives stochastic rounding. */
export function quantizeInto(x: Float32Array, out: Uint32Array, options: QuantizeOptions, random: RandomSource): void {
  const { clipRange: c, levels, rounding, scale } = options;
  if (!(scale >= 0 && scale <= 1)) throw new DomainError('INVALID_ARGUMENT', 'quantisation scale must be in [0, 1]');
  const step = levels / (2 * c);
  const noise = rounding === 'stochastic' ? random(4 * x.length) : undefined;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) throw new DomainError('INVALID_ARGUMENT', `update element ${i} is not finite`);
    const clipped = v > c ? c : v < -c ? -c : v;
    const t = (clipped * scale + c) * step;
    let q: number;
    if (noise) {
      const o = 4 * i;
      const u = ((noise[o] | (noise[o + 1] << 8) | (noise[o + 2] << 16) | (noise[o + 3] << 24)) >>> 0) / 0x1_0000_0000;
      q = Math.floor(t + u);
    } else {
      q = Math.round(t);
    }
    out[i] = q < 0 ? 0 : q > levels ? levels : q;
  }
}

/** Dequantises a sum of `count` quantised vectors (Σq · 2c/R − count·c), float64 in, float64 out. */
export function dequantizeSum(sum: Uint32Array, length: number, count: number, clipRange: number, levels: number): Float64Array {
  const out = new Float64Array(length);
  const unit = (2 * clipRange) / levels;
  const offset = count * clipRange;
  for (let i = 0; i < length; i++) out[i] = sum[i] * unit - offset;
  return out;
}

/** Bit mask of Z_{2^k}. */
export function modMask(modBits: number): number {
  return modBits === 32 ? 0xffffffff : (1 << modBits) - 1;
}

/** acc += v (mod 2^k), in place. */
export function addInto(acc: Uint32Array, v: Uint32Array, mask: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] = ((acc[i] + v[i]) & mask) >>> 0;
}

/** acc −= v (mod 2^k), in place. */
export function subInto(acc: Uint32Array, v: Uint32Array, mask: number): void {
  for (let i = 0; i < acc.length; i++) acc[i] = ((acc[i] - v[i]) & mask) >>> 0;
}

/**
 * Worst-case |error| per element of a dequantised sum of `count` vectors, in
 * the units of the (clipped) inputs: one step 2c/R per agent with stochastic
 * rounding, half a step with rounding to nearest.
 */
export function quantizationErrorBound(count: number, clipRange: number, levels: number, rounding: 'stochastic' | 'nearest'): number {
  const step = (2 * clipRange) / levels;
  return count * (rounding === 'stochastic' ? step : step / 2);
}
