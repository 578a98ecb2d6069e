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
export interface CentralDpOutcome {
  /** Noised mean of the clipped deltas. */
  average: Float32Array;
  /** Deltas averaged. */
  count: number;
  /** Clip norm applied this round. */
  clipNorm: number;
  /** Std of the noise added to each element of the average. */
  noiseStd: number;
  /** Deltas that were scaled down. */
  clippedCount: number;
  /** Clip norm for the next round (equal to clipNorm with fixed clipping). */
  nextClipNorm: number;
}

/**
 * One round of central DP, streaming: memory O(dimension). Deltas are
 * params − global. The mean is unweighted: σ·C/m calibrates the sensitivity
 * C/m of a uniform mean over m sampled agents; a mean weighted by example
 * counts (as Flower gets when wrapping FedAvg) has sensitivity C·w_max/Σw and
 * needs proportionally more noise.
 */
export interface CentralDpRound {
  /** Clips one agent's delta and folds it in. */
  add(delta: Float32Array): { norm: number; clipped: boolean };
  readonly count: number;
  /** Mean of the clipped deltas plus N(0, (σ·C/m)²) per element. */
  finish(random: UniformSource): CentralDpOutcome;
}

class Round implements CentralDpRound {
  count = 0;
  private clippedCount = 0;
  private readonly sum: Float64Array;

  constructor(
    dimension: number,
    private readonly clipNorm: number,
    private readonly noiseStd: number,
    private readonly onFinish: (count: number, clippedCount: number, random: UniformSource) => number,
  ) {
    this.sum = new Float64Array(dimension);
  }

  add(delta: Float32Array): { norm: number; clipped: boolean } {
    if (delta.length !== this.sum.length) throw new DomainError('INVALID_ARGUMENT', `delta has ${delta.length} elements, expected ${this.sum.length}`);
    const { vector, norm, clipped } = clipL2(delta, this.clipNorm);
    for (let i = 0; i < vector.length; i++) this.sum[i] += vector[i];
    this.count++;
    if (clipped) this.clippedCount++;
    return { norm, clipped };
  }

  finish(random: UniformSource): CentralDpOutcome {
    if (this.count === 0) throw new DomainError('UNAVAILABLE', 'no updates to aggregate');
    const mean = Float32Array.from(this.sum, (s) => s / this.count);
    const average = gaussianNoise(mean, this.noiseStd, random);
    const nextClipNorm = this.onFinish(this.count, this.clippedCount, random);
    return { average, count: this.count, clipNorm: this.clipNorm, noiseStd: this.noiseStd, clippedCount: this.clippedCount, nextClipNorm };
  }
}

export interface FixedClippingConfig {
  /** σ: noise std / clip norm. */
  noiseMultiplier: number;
  /** C: L2 bound per update (model units). */
  clipNorm: number;
  /** m: agents sampled per round (the noise denominator, as Flower's num_sampled_clients). */
  sampledAgents: number;
}

/** Central DP with a fixed clip norm: clip each delta to C, average, add N(0, (σC/m)²). */
export class FixedClippingDp {
  readonly noiseStd: number;

  constructor(readonly config: FixedClippingConfig) {
    this.noiseStd = centralNoiseStd(config.noiseMultiplier, config.clipNorm, config.sampledAgents);
  }

  /** Starts one round over deltas of `dimension` elements. */
  startRound(dimension: number): CentralDpRound {
    return new Round(dimension, this.config.clipNorm, this.noiseStd, () => this.config.clipNorm);
  }
}

export interface AdaptiveClippingConfig {
  /** z: the overall noise multiplier the accountant should see (split between updates and the clipped count). */
  noiseMultiplier: number;
  /** m: agents sampled per round. */
  sampledAgents: number;
  /** Initial clip norm C₀. Default 0.1 (Andrew et al.). */
  initialClipNorm?: number;
  /** γ: target fraction of updates at or under the clip norm. Default 0.5. */
  targetQuantile?: number;
  /** η_C: geometric learning rate of the clip norm. Default 0.2 (Andrew et al.). */
  clipLearningRate?: number;
  /** σ_b: std of the noise on the count of unclipped updates. Default m/20 (Andrew et al.). */
  clippedCountStddev?: number;
}

/** Serialisable adaptive-clipping state (carried between rounds). */
export interface AdaptiveClippingState {
  clipNorm: number;
}

/**
 * Central DP with adaptive clipping (Andrew et al. 2021, Alg. 1 with geometric
 * updates): b̃ = (Σ 1[‖Δᵢ‖ ≤ C] + N(0, σ_b²))/n, then C ← C·exp(−η_C(b̃ − γ)),
 * so C tracks the γ-quantile of update norms. The update noise uses
 * z_Δ = (z⁻² − (2σ_b)⁻²)^{−½} so that both releases together are a Gaussian
 * mechanism with multiplier z.
 *
 * Two deliberate differences from Flower's DifferentialPrivacyServerSideAdaptiveClipping
 * (as read in framework/py/flwr/server/strategy/dp_adaptive_clipping.py): Flower counts
 * the *clipped* updates in that same update rule, which pushes C away from the target
 * (more clipping shrinks C further); and it scales this round's noise by the already
 * updated C although the updates were clipped to the old one. Here the bit is "not
 * clipped", as in the paper, and the noise uses the C that was applied.
 */
export class AdaptiveClippingDp {
  readonly updateNoiseMultiplier: number;
  readonly clippedCountStddev: number;
  private clip: number;
  private readonly target: number;
  private readonly learningRate: number;

  constructor(
    readonly config: AdaptiveClippingConfig,
    state?: AdaptiveClippingState,
  ) {
    const { noiseMultiplier, sampledAgents } = config;
    const initial = state?.clipNorm ?? config.initialClipNorm ?? 0.1;
    this.target = config.targetQuantile ?? 0.5;
    this.learningRate = config.clipLearningRate ?? 0.2;
    if (!(noiseMultiplier >= 0)) throw new DomainError('INVALID_ARGUMENT', 'noise multiplier must be non-negative');
    if (!(Number.isInteger(sampledAgents) && sampledAgents > 0)) throw new DomainError('INVALID_ARGUMENT', 'sampled agents must be a positive integer');
    if (!(initial > 0)) throw new DomainError('INVALID_ARGUMENT', 'clip norm must be positive');
    if (!(this.target >= 0 && this.target <= 1)) throw new DomainError('INVALID_ARGUMENT', 'target quantile must be in [0, 1]');
    if (!(this.learningRate > 0)) throw new DomainError('INVALID_ARGUMENT', 'clip learning rate must be positive');
    if (config.clippedCountStddev !== undefined && !(config.clippedCountStddev >= 0)) {
      throw new DomainError('INVALID_ARGUMENT', 'clipped count stddev must be non-negative');
    }
    this.clip = initial;
    if (noiseMultiplier > 0) {
      this.clippedCountStddev = config.clippedCountStddev ?? sampledAgents / 20;
      if (noiseMultiplier >= 2 * this.clippedCountStddev) {
        throw new DomainError(
          'INVALID_ARGUMENT',
          `clipped count stddev ${this.clippedCountStddev} is too small for noise multiplier ${noiseMultiplier}: need σ_b > z/2`,
        );
      }
      this.updateNoiseMultiplier = (noiseMultiplier ** -2 - (2 * this.clippedCountStddev) ** -2) ** -0.5;
    } else {
      this.clippedCountStddev = config.clippedCountStddev ?? 0;
      this.updateNoiseMultiplier = 0;
    }
  }

  /** The clip norm the next round will apply. */
  get clipNorm(): number {
    return this.clip;
  }

  /** Starts one round; its finish() also moves the clip norm. */
  startRound(dimension: number): CentralDpRound {
    const applied = this.clip;
    const std = (this.updateNoiseMultiplier * applied) / this.config.sampledAgents;
    return new Round(dimension, applied, std, (count, clippedCount, random) => {
      const unclipped = count - clippedCount + this.clippedCountStddev * normalSampler(random)();
      this.clip = applied * Math.exp(-this.learningRate * (unclipped / count - this.target));
      return this.clip;
    });
  }

  /** Plain-JSON state for continue-as-new. */
  state(): AdaptiveClippingState {
    return { clipNorm: this.clip };
  }
}
