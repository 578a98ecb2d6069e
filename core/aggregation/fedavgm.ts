// FedAvgM (Hsu et al. 2019) as Flower's FedAvgM does it: server SGD with momentum on the
// pseudo-gradient g = global − mean (Flower's sign: updates are the opposite of gradients),
//   v ← momentum·v + g   (v ← g on the first round with momentum)
//   global ← global − lr·v
// With Flower's defaults (lr = 1, momentum = 0) the result is the plain weighted mean, and
// like Flower we then return that mean itself rather than global − (global − mean).
// Streaming (O(model)); per-coordinate arithmetic in float64, the momentum kept as float32
// in ServerState.vectors.momentum.
import { StreamingRound, type WeightedMeanOptions } from './fedavg';
import type { ServerState, Strategy, StrategyOptions } from './types';
import { checkOption, stateVector } from './validate';

export interface FedAvgMParams {
  serverLearningRate: number;
  momentum: number;
}

/** Flower's FedAvgM defaults: server_learning_rate = 1.0, server_momentum = 0.0. */
export const FEDAVGM_DEFAULTS: FedAvgMParams = { serverLearningRate: 1.0, momentum: 0.0 };

class FedAvgMRound extends StreamingRound {
  constructor(
    global: Float32Array,
    state: ServerState,
    private readonly params: FedAvgMParams,
    options: WeightedMeanOptions,
  ) {
    super(global, state, options);
    stateVector(state, 'momentum', global.length); // fail at start, not after the round's updates
  }

  protected complete(): { params: Float32Array; state: ServerState } {
    const { serverLearningRate: lr, momentum } = this.params;
    const round = this.state.round + 1;
    if (lr === 1 && momentum === 0) {
      return { params: this.sum.mean(), state: { round, vectors: this.state.vectors } };
    }
    const global = this.global;
    const n = global.length;
    const sums = this.sum.sums();
    const total = this.sum.total;
    const previous = momentum > 0 ? stateVector(this.state, 'momentum', n) : undefined;
    const velocity = momentum > 0 ? new Float32Array(n) : undefined;
    const next = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let g = global[i] - sums[i] / total;
      if (velocity) {
        g = previous ? momentum * previous[i] + g : g;
        velocity[i] = g;
      }
      next[i] = global[i] - lr * g;
    }
    const vectors = velocity ? { ...this.state.vectors, momentum: velocity } : this.state.vectors;
    return { params: next, state: { round, vectors } };
  }
}

/** FedAvgM: example-weighted mean, then server SGD with momentum (learning rate dimensionless). */
export function createFedAvgM(options: StrategyOptions = {}, mean: WeightedMeanOptions = {}): Strategy {
  const params: FedAvgMParams = {
    serverLearningRate: checkOption('serverLearningRate', options.serverLearningRate ?? FEDAVGM_DEFAULTS.serverLearningRate, 0, Infinity, true),
    momentum: checkOption('momentum', options.momentum ?? FEDAVGM_DEFAULTS.momentum, 0, 1),
  };
  return {
    name: 'fedavgm',
    streaming: true,
    start: (global, state) => new FedAvgMRound(global, state, params, mean),
  };
}
