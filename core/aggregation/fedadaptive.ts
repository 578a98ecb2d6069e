// Adaptive server optimizers (Reddi et al. 2021, "Adaptive Federated Optimization") as
// Flower's FedOpt family does them. With Δ = mean − global (the weighted mean of the agents'
// parameters minus the round's global model) and t = Flower's 1-based server_round
// (= state.round + 1), per coordinate:
//   FedAdam:    m ← β1·m + (1−β1)·Δ;  v ← β2·v + (1−β2)·Δ²
//               η_t = η·√(1 − β2^(t+1)) / (1 − β1^(t+1))      (Flower's exponent t + 1, kept as is)
//               x ← global + η_t·m / (√v + τ)
//   FedYogi:    m ← β1·m + (1−β1)·Δ;  v ← v − (1−β2)·Δ²·sign(v − Δ²);  x ← global + η·m / (√v + τ)
//   FedAdagrad: m ← Δ (Flower fixes β1 = 0); v ← v + Δ²;         x ← global + η·m / (√v + τ)
// m and v start at zero and live in ServerState.vectors ('m', 'v') as float32. Arithmetic is
// float64 per coordinate from the float64 mean (Flower runs float32 throughout, so results
// agree to float32 rounding, not bit for bit). Streaming: O(model) memory.
import { StreamingRound, type WeightedMeanOptions } from './fedavg';
import type { ServerState, Strategy, StrategyOptions } from './types';
import { checkOption, stateVector } from './validate';

export type AdaptiveName = 'fedadam' | 'fedyogi' | 'fedadagrad';

export interface AdaptiveParams {
  /** Server learning rate η (dimensionless). */
  eta: number;
  beta1: number;
  beta2: number;
  /** Adaptivity τ (parameter units). */
  tau: number;
}

/** Flower's defaults per optimizer (flwr 1.42 FedAdam, FedYogi, FedAdagrad). */
export const ADAPTIVE_DEFAULTS: Record<AdaptiveName, AdaptiveParams> = {
  fedadam: { eta: 1e-1, beta1: 0.9, beta2: 0.99, tau: 1e-9 },
  fedyogi: { eta: 1e-2, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { eta: 1e-1, beta1: 0, beta2: 0, tau: 1e-9 },
};

class AdaptiveRound extends StreamingRound {
  constructor(
    global: Float32Array,
    state: ServerState,
    private readonly kind: AdaptiveName,
    private readonly params: AdaptiveParams,
    options: WeightedMeanOptions,
  ) {
    super(global, state, options);
    stateVector(state, 'm', global.length); // fail at start, not after the round's updates
    stateVector(state, 'v', global.length);
  }

  protected complete(): { params: Float32Array; state: ServerState } {
    const { eta, beta1, beta2, tau } = this.params;
    const global = this.global;
    const n = global.length;
    const sums = this.sum.sums();
    const total = this.sum.total;
    const m0 = stateVector(this.state, 'm', n);
    const v0 = stateVector(this.state, 'v', n);
    const m1 = new Float32Array(n);
    const v1 = new Float32Array(n);
    const next = new Float32Array(n);
    const t = this.state.round + 1;
    switch (this.kind) {
      case 'fedadam': {
        const rate = (eta * Math.sqrt(1 - Math.pow(beta2, t + 1))) / (1 - Math.pow(beta1, t + 1));
        for (let i = 0; i < n; i++) {
          const d = sums[i] / total - global[i];
          const m = beta1 * (m0 ? m0[i] : 0) + (1 - beta1) * d;
          const v = beta2 * (v0 ? v0[i] : 0) + (1 - beta2) * d * d;
          m1[i] = m;
          v1[i] = v;
          next[i] = global[i] + (rate * m) / (Math.sqrt(v) + tau);
        }
        break;
      }
      case 'fedyogi': {
        for (let i = 0; i < n; i++) {
          const d = sums[i] / total - global[i];
          const m = beta1 * (m0 ? m0[i] : 0) + (1 - beta1) * d;
          const vPrev = v0 ? v0[i] : 0;
          const d2 = d * d;
          const v = vPrev - (1 - beta2) * d2 * Math.sign(vPrev - d2);
          m1[i] = m;
          v1[i] = v;
          next[i] = global[i] + (eta * m) / (Math.sqrt(v) + tau);
        }
        break;
      }
      case 'fedadagrad': {
        for (let i = 0; i < n; i++) {
          const d = sums[i] / total - global[i];
          const v = (v0 ? v0[i] : 0) + d * d;
          m1[i] = d;
          v1[i] = v;
          next[i] = global[i] + (eta * d) / (Math.sqrt(v) + tau);
        }
        break;
      }
    }
    return { params: next, state: { round: t, vectors: { ...this.state.vectors, m: m1, v: v1 } } };
  }
}

/** FedAdam / FedYogi / FedAdagrad with Flower's defaults; options override η, β1, β2, τ (FedAdagrad ignores β1, β2 as Flower does). */
export function createAdaptive(kind: AdaptiveName, options: StrategyOptions = {}, mean: WeightedMeanOptions = {}): Strategy {
  const defaults = ADAPTIVE_DEFAULTS[kind];
  const fixedBetas = kind === 'fedadagrad';
  const params: AdaptiveParams = {
    eta: checkOption('serverLearningRate', options.serverLearningRate ?? defaults.eta, 0, Infinity, true),
    beta1: fixedBetas ? 0 : checkOption('beta1', options.beta1 ?? defaults.beta1, 0, 1),
    beta2: fixedBetas ? 0 : checkOption('beta2', options.beta2 ?? defaults.beta2, 0, 1),
    tau: checkOption('tau', options.tau ?? defaults.tau, 0, Infinity, true),
  };
  if (kind === 'fedadam') {
    // η_t divides by 1 − β1^(t+1): β1 = 1 would divide by zero, β2 = 1 would zero the step.
    checkOption('beta1', params.beta1, 0, 1 - Number.EPSILON);
    checkOption('beta2', params.beta2, 0, 1 - Number.EPSILON);
  }
  return {
    name: kind,
    streaming: true,
    start: (global, state) => new AdaptiveRound(global, state, kind, params, mean),
  };
}
