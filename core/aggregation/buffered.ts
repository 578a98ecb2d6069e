// What the robust strategies (median, trimmed mean, Krum, Multi-Krum, Bulyan) share. They
// need every update at once — an order statistic or a pairwise distance cannot be folded
// in one at a time — so they buffer: memory is O(agents × model). The buffer keeps
// references to the callers' params (no copy), which must not change until `finish`.
import { DomainError } from '../errors';
import type { ModelUpdate, RoundAggregator, ServerState } from './types';
import { assertFoldable, assertNotEmpty } from './validate';

/** Reduces the buffered updates (at least one, all of the model's dimension) to the next global parameters. */
export type RobustRule = (updates: readonly ModelUpdate[], global: Float32Array) => Float32Array;

/** A round that buffers its updates and applies `rule` at finish; the server state passes through. */
export class BufferedRound implements RoundAggregator {
  private readonly updates: ModelUpdate[] = [];
  private finished = false;

  constructor(
    private readonly global: Float32Array,
    private readonly state: ServerState,
    private readonly rule: RobustRule,
  ) {}

  add(update: ModelUpdate): void {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertFoldable(update, this.global.length);
    this.updates.push(update);
  }

  finish(): { params: Float32Array; state: ServerState } {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertNotEmpty(this.updates.length);
    this.finished = true;
    const params = this.rule(this.updates, this.global);
    this.updates.length = 0;
    return { params, state: { round: this.state.round + 1, vectors: this.state.vectors } };
  }
}

/**
 * Calls `visit(column, i)` for every coordinate i with column[k] = updates[k].params[i]
 * (float64 scratch, reused: copy what you keep). Sorting the column in place is allowed.
 */
export function forEachColumn(
  updates: readonly ModelUpdate[],
  dimension: number,
  visit: (column: Float64Array, i: number) => void,
): void {
  const params = updates.map((u) => u.params);
  const column = new Float64Array(params.length);
  for (let i = 0; i < dimension; i++) {
    for (let k = 0; k < params.length; k++) column[k] = params[k][i];
    visit(column, i);
  }
}

/** Median of an ascending-sorted column: the middle value, or the mean of the two middle ones (numpy's rule). */
export function sortedMedian(sorted: Float64Array, length = sorted.length): number {
  const mid = length >> 1;
  return length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Squared L2 distances between all pairs of updates (parameter units squared), float64, symmetric n × n. */
export function squaredDistances(updates: readonly ModelUpdate[]): Float64Array[] {
  const n = updates.length;
  const matrix = Array.from({ length: n }, () => new Float64Array(n));
  for (let a = 0; a < n; a++) {
    const x = updates[a].params;
    for (let b = a + 1; b < n; b++) {
      const y = updates[b].params;
      let sum = 0;
      for (let i = 0; i < x.length; i++) {
        const d = x[i] - y[i];
        sum += d * d;
      }
      matrix[a][b] = sum;
      matrix[b][a] = sum;
    }
  }
  return matrix;
}

/** Example-weighted mean (float64 sums in the given order, rounded once to float32). */
export function weightedAverage(updates: readonly ModelUpdate[], dimension: number): Float32Array {
  const sums = new Float64Array(dimension);
  let total = 0;
  for (const update of updates) {
    const w = update.examples;
    const x = update.params;
    for (let i = 0; i < dimension; i++) sums[i] += w * x[i];
    total += w;
  }
  const out = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) out[i] = sums[i] / total;
  return out;
}
