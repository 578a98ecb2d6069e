// Central differential privacy on the server: per-update L2 clipping and
// Gaussian noise on the average, with fixed clipping (Flower's
// DifferentialPrivacyServerSideFixedClipping; McMahan et al. 2018) or
// adaptive clipping (Andrew et al. 2021; Flower's
// DifferentialPrivacyServerSideAdaptiveClipping).
//
// Randomness seam: every noisy function takes a UniformSource, a () => number
// uniform in [0, 1). Tests and simulations pass core/random's seededRandom;
// production passes cryptoUniform(). Noise is Box–Muller in float64.
import { createCipheriv, randomBytes } from 'node:crypto';
import { DomainError } from '../errors';

/** Uniform numbers in [0, 1). */
export type UniformSource = () => number;

/** Uniform [0, 1) with 53 random bits from the OS CSPRNG, buffered; the production noise source. */
export function cryptoUniform(bufferBytes = 64 * 1024): UniformSource {
  let buffer = randomBytes(bufferBytes);
  let offset = 0;
  return () => {
    if (offset + 8 > buffer.length) {
      buffer = randomBytes(bufferBytes);
      offset = 0;
    }
    const hi = buffer.readUInt32LE(offset) >>> 5; // 27 bits
    const lo = buffer.readUInt32LE(offset + 4) >>> 6; // 26 bits
    offset += 8;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/**
 * Uniform [0, 1) from AES-256-CTR keyed by a 32-byte secret: unpredictable
 * without the key, yet the same stream for the same key, so a retried
 * aggregation adds the same noise and produces the same model.
 */
export function keyedUniform(key: Uint8Array): UniformSource {
  if (key.length !== 32) throw new DomainError('INVALID_ARGUMENT', 'keyedUniform needs a 32-byte key');
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  let buffer = cipher.update(zeros);
  let offset = 0;
  return () => {
    if (offset + 8 > buffer.length) {
      buffer = cipher.update(zeros);
      offset = 0;
    }
    const hi = buffer.readUInt32LE(offset) >>> 5;
    const lo = buffer.readUInt32LE(offset + 4) >>> 6;
    offset += 8;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/** A standard-normal sampler (mean 0, std 1) from a uniform source: Box–Muller, both outputs used. */
export function normalSampler(random: UniformSource): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** L2 norm of a vector (float64 accumulation). */
export function l2Norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}

/** Result of clipping one vector. */
export interface Clipped {
  vector: Float32Array;
  /** L2 norm before clipping. */
  norm: number;
  /** True when the vector was scaled down (norm > clipNorm). */
  clipped: boolean;
}

/** Scales `v` by min(1, clipNorm/‖v‖₂) into a new array (FlatClip); the float32 result's norm never exceeds clipNorm. */
export function clipL2(v: Float32Array, clipNorm: number): Clipped {
  if (!(clipNorm > 0)) throw new DomainError('INVALID_ARGUMENT', `clip norm must be positive, got ${clipNorm}`);
  const norm = l2Norm(v);
  if (!Number.isFinite(norm)) throw new DomainError('INVALID_ARGUMENT', 'vector has a non-finite element');
  if (norm <= clipNorm) return { vector: Float32Array.from(v), norm, clipped: false };
  let scale = clipNorm / norm;
  let out = v.map((x) => x * scale);
  // Float32 rounding can leave the norm a hair above the bound: shrink until it is not.
  while (l2Norm(out) > clipNorm) {
    scale *= 1 - 2 ** -23;
    out = v.map((x) => x * scale);
  }
  return { vector: out, norm, clipped: true };
}

/** `v` clipped to L2 norm `clipNorm` (a new array). */
export function clipToNorm(v: Float32Array, clipNorm: number): Float32Array {
  return clipL2(v, clipNorm).vector;
}

/** Noise std on the average of `sampledAgents` clipped updates: σ·C/m (Flower's compute_stdv). */
export function centralNoiseStd(noiseMultiplier: number, clipNorm: number, sampledAgents: number): number {
  if (!(noiseMultiplier >= 0)) throw new DomainError('INVALID_ARGUMENT', 'noise multiplier must be non-negative');
  if (!(clipNorm > 0)) throw new DomainError('INVALID_ARGUMENT', 'clip norm must be positive');
  if (!(Number.isInteger(sampledAgents) && sampledAgents > 0)) throw new DomainError('INVALID_ARGUMENT', 'sampled agents must be a positive integer');
  return (noiseMultiplier * clipNorm) / sampledAgents;
}

/** `v` plus i.i.d. N(0, std²) per element (a new array); `random` is uniform in [0, 1). */
export function gaussianNoise(v: Float32Array, std: number, random: UniformSource): Float32Array {
  if (!(std >= 0) || !Number.isFinite(std)) throw new DomainError('INVALID_ARGUMENT', `noise std must be finite and non-negative, got ${std}`);
  const out = Float32Array.from(v);
  if (std === 0) return out;
  const normal = normalSampler(random);
  for (let i = 0; i < out.length; i++) out[i] += std * normal();
  return out;
}

/** The outcome of one central-DP round. */
