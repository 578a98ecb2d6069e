// Local differential privacy on the agent side: clip the update, add Gaussian
// noise, then send (Flower's LocalDpMod). The server never sees an un-noised
// update, at the price of far more noise than central DP.
import { DomainError } from '../errors';
import { clipL2, gaussianNoise, type UniformSource } from './gaussian';

/** Calibrate by (ε, δ) with the classic Gaussian mechanism, or directly by a noise multiplier. */
export type LocalDpConfig =
  | {
      /** L2 bound of the update (model units). */
      clipNorm: number;
      /** Per-release ε, 0 < ε < 1 (the classic bound holds only there). */
      epsilon: number;
      delta: number;
      /** L2 sensitivity; default clipNorm (add/remove one agent's update). */
      sensitivity?: number;
    }
  | {
      clipNorm: number;
      /** Noise std = noiseMultiplier × sensitivity; use with the RDP accountant (q = 1). */
      noiseMultiplier: number;
      sensitivity?: number;
    };

/** Noise std of one local release: Δ·√(2 ln(1.25/δ))/ε (Dwork & Roth, Thm A.1), or σ·Δ. */
export function localDpStd(config: LocalDpConfig): number {
  const sensitivity = config.sensitivity ?? config.clipNorm;
  if (!(config.clipNorm > 0)) throw new DomainError('INVALID_ARGUMENT', 'clip norm must be positive');
  if (!(sensitivity > 0)) throw new DomainError('INVALID_ARGUMENT', 'sensitivity must be positive');
  if ('noiseMultiplier' in config) {
    if (!(config.noiseMultiplier >= 0)) throw new DomainError('INVALID_ARGUMENT', 'noise multiplier must be non-negative');
    return config.noiseMultiplier * sensitivity;
  }
  const { epsilon, delta } = config;
  if (!(epsilon > 0 && epsilon < 1)) {
    throw new DomainError('INVALID_ARGUMENT', `the classic Gaussian mechanism needs 0 < ε < 1, got ${epsilon}; calibrate with a noise multiplier instead`);
  }
  if (!(delta > 0 && delta < 1)) throw new DomainError('INVALID_ARGUMENT', `delta must be in (0, 1), got ${delta}`);
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / epsilon;
}

/** Clips an agent's update (params − global) to clipNorm and adds the local noise; returns the release and what was done. */
export function applyLocalDp(
  update: Float32Array,
  config: LocalDpConfig,
  random: UniformSource,
): { update: Float32Array; norm: number; clipped: boolean; std: number } {
  const std = localDpStd(config);
  const { vector, norm, clipped } = clipL2(update, config.clipNorm);
  return { update: gaussianNoise(vector, std, random), norm, clipped, std };
}
