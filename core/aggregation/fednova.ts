// FedNova (Wang et al. 2020, "Tackling the Objective Inconsistency Problem in Heterogeneous
// Federated Optimization"), for agents running plain local SGD: an agent that ran tau_k local
// steps moved the model by x_k - g; FedAvg weighs that move by n_k alone, so agents that ran
// more steps pull the model toward their own objective. FedNova averages the moves per step
// and scales the mean back by the effective number of steps:
//   p_k = n_k / N,  d_k = (x_k - g) / tau_k,  tau_eff = Σ p_k tau_k,  g' = g + tau_eff Σ p_k d_k.
// With w_k = n_k / tau_k and W = Σ w_k, Σ p_k d_k = (W / N)(m - g), m = Σ w_k x_k / W, so
//   g' = g + s (m - g),  s = tau_eff W / N.
// m is the order-independent exact weighted mean (exact-mean.ts) and N, Σ n_k tau_k and W are
// exact sums (W is rounded once), so the result does not depend on arrival order either. When
// every agent ran the same number of steps, s = 1 and FedNova is FedAvg: the mean is returned.
// Streaming: memory O(model).
import { DomainError } from '../errors';
import { ExactWeightedMean } from './exact-mean';
import type { ModelUpdate, RoundAggregator, ServerState, Strategy } from './types';
import { assertFoldable, assertNotEmpty } from './validate';

/** A round's updates folded for FedNova: the step-normalised exact mean and the step counts. */
export class FedNovaAccumulator {
  private readonly mean: ExactWeightedMean;
  private examples = 0;
  private weightedSteps = 0;
  private firstSteps?: number;
  private sameSteps = true;

  constructor(readonly dimension: number) {
    this.mean = new ExactWeightedMean(dimension);
  }

  /** Folds one update in; its `steps` (tau, ≥ 1) defaults to 1 when the agent did not say. */
  add(update: Pick<ModelUpdate, 'examples' | 'params' | 'steps'>): void {
    const steps = update.steps ?? 1;
    if (!Number.isSafeInteger(steps) || steps < 1) {
      throw new DomainError('INVALID_ARGUMENT', `FedNova needs at least one completed local step, got ${steps}`);
    }
    this.mean.add({ examples: update.examples / steps, params: update.params });
    this.examples += update.examples;
    this.weightedSteps += update.examples * steps;
    if (this.firstSteps === undefined) this.firstSteps = steps;
    else if (steps !== this.firstSteps) this.sameSteps = false;
  }

  get count(): number {
    return this.mean.updates;
  }

  get totalExamples(): number {
    return this.examples;
  }

  /** The next global parameters g + tau_eff (W / N)(m - g), float32. */
  combine(global: Float32Array): Float32Array {
    if (this.sameSteps) return this.mean.mean();
    const mean = this.mean.mean64();
    const n = this.examples;
    const scale = (this.weightedSteps / n) * (this.mean.totalExamples / n);
    const out = new Float32Array(global.length);
    for (let i = 0; i < out.length; i++) out[i] = global[i] + scale * (mean[i] - global[i]);
    return out;
  }

  release(): void {
    this.mean.release();
  }
}

class FedNovaRound implements RoundAggregator {
  private readonly folded: FedNovaAccumulator;
  private finished = false;

  constructor(
    private readonly global: Float32Array,
    private readonly state: ServerState,
  ) {
    this.folded = new FedNovaAccumulator(global.length);
  }

  add(update: ModelUpdate): void {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertFoldable(update, this.global.length);
    this.folded.add(update);
  }

  finish(): { params: Float32Array; state: ServerState } {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertNotEmpty(this.folded.count);
    this.finished = true;
    const params = this.folded.combine(this.global);
    this.folded.release();
    return { params, state: { round: this.state.round + 1, vectors: this.state.vectors } };
  }
}

/** FedNova with vanilla local SGD (a_k = tau_k): streaming and order-independent. */
export function createFedNova(): Strategy {
  return { name: 'fednova', streaming: true, start: (global, state) => new FedNovaRound(global, state) };
}
