// FedBuff's server step (Nguyen et al. 2022): the buffered updates' changes from
// the model versions they were trained on, each weighed by its examples and
// discounted by its staleness, move the current global model:
//   next = global + serverLearningRate · Σ n_k s(t_k) Δ_k / Σ n_k
// Normalising by Σ n_k (not Σ n_k s_k) keeps the discount: a buffer of stale
// updates moves the model less. With every update fresh it is FedAvg of the deltas.
// The weighted sum is exact (ExactWeightedMean), so the result does not depend on
// the order in which the buffer's updates arrived.
import { DomainError } from '../errors';
import { stalenessWeight } from '../async-tuning';
import { ExactSum, ExactWeightedMean } from './exact-mean';

export interface StaleUpdate {
  /** The update's parameters. */
  params: Float32Array;
  /** The global parameters of the version it was trained on. */
  base: Float32Array;
  examples: number;
  /** Versions made since its base. */
  staleness: number;
}

export class StalenessWeightedBuffer {
  private readonly weighted: ExactWeightedMean;
  private readonly examples = new ExactSum();
  private stalenessSum = 0;
  private count = 0;

  constructor(
    readonly dimension: number,
    private readonly stalenessExponent: number,
  ) {
    this.weighted = new ExactWeightedMean(dimension);
  }

  add(update: StaleUpdate): void {
    if (update.params.length !== this.dimension || update.base.length !== this.dimension) {
      throw new DomainError('INVALID_ARGUMENT', `expected ${this.dimension} parameters`);
    }
    const delta = Float32Array.from(update.params, (value, i) => value - update.base[i]);
    this.weighted.add({ examples: update.examples * stalenessWeight(update.staleness, this.stalenessExponent), params: delta });
    this.examples.add(update.examples);
    this.stalenessSum += update.staleness;
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Mean staleness of the buffered updates, in versions. */
  get meanStaleness(): number {
    return this.count === 0 ? 0 : this.stalenessSum / this.count;
  }

  /** The next global parameters (float32, rounded once from float64). */
  apply(global: Float32Array, serverLearningRate = 1): Float32Array {
    if (this.count === 0) throw new DomainError('INVALID_ARGUMENT', 'no updates to apply');
    const meanDelta = this.weighted.mean();
    // Σ n s / Σ n, both exact sums rounded once: the same for any arrival order.
    const discount = this.weighted.totalExamples / this.examples.toNumber();
    const step = serverLearningRate * discount;
    const next = new Float32Array(this.dimension);
    for (let i = 0; i < this.dimension; i++) next[i] = global[i] + step * meanDelta[i];
    return next;
  }
}
