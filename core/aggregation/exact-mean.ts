// An example-weighted mean that does not depend on the order the updates
// arrive in: contributions are rounded to a fixed-point grid and summed as
// integers held exactly in float64. A retried aggregation that sees the same
// updates in another order therefore produces the same bits.
import type { ModelUpdate } from './types';

/** Grid of 2^-20 per unit of (examples x parameter): far below float32 resolution of a mean. */
const SCALE = 2 ** 20;
/** Sums stay exact while below 2^53. */
const EXACT_LIMIT = 2 ** 53;

export class ExactWeightedMean {
  private readonly sum: Float64Array;
  private examples = 0;
  private count = 0;
  private largest = 0;

  constructor(readonly dimension: number) {
    this.sum = new Float64Array(dimension);
  }

  /** Adds examples x params; throws when the sum could no longer be held exactly. */
  add(update: Pick<ModelUpdate, 'examples' | 'params'>): void {
    const { params, examples } = update;
    if (params.length !== this.dimension) {
      throw new Error(`expected ${this.dimension} parameters, got ${params.length}`);
    }
    const factor = examples * SCALE;
    let largest = 0;
    for (let i = 0; i < params.length; i++) {
      const scaled = Math.round(params[i] * factor);
      const magnitude = Math.abs(scaled);
      if (magnitude > largest) largest = magnitude;
      this.sum[i] += scaled;
    }
    this.largest = Math.max(this.largest, largest);
    this.count++;
    this.examples += examples;
    if (this.largest * this.count >= EXACT_LIMIT) {
      throw new Error('update magnitudes too large for exact aggregation (|examples x parameter| * count >= 2^33)');
    }
  }

  get totalExamples(): number {
    return this.examples;
  }

  get updates(): number {
    return this.count;
  }

  /** The weighted mean as float32 parameters. */
  mean(): Float32Array {
    if (this.examples === 0) throw new Error('no updates to average');
    const divisor = this.examples * SCALE;
    const out = new Float32Array(this.dimension);
    for (let i = 0; i < this.dimension; i++) out[i] = this.sum[i] / divisor;
    return out;
  }
}
