// Bulyan (El Mhamdi et al. 2018) as Flower's aggregate_bulyan with Krum as the first rule:
// with n updates and f Byzantine agents tolerated (n ≥ 4f + 3),
//   1. select θ = n − 2f updates by applying Krum again and again to those not yet selected;
//   2. per coordinate, take the median of the selected values and average the β = θ − 2f
//      values closest to it.
// Unweighted, as in Flower. Ties in step 2 go to the smaller value (Flower's argpartition
// leaves them unspecified), so the result does not depend on arrival order there.
// trimFraction does not apply: Bulyan's trim follows from f. Buffers every update.
import { DomainError } from '../errors';
import { BufferedRound, sortedMedian, squaredDistances } from './buffered';
import { krumScores, lowestScores } from './krum';
import type { ModelUpdate, Strategy, StrategyOptions } from './types';
import { checkCount } from './validate';

/** Bulyan over the updates' params with f = byzantine; throws INVALID_ARGUMENT when n < 4f + 3. */
export function bulyan(updates: readonly ModelUpdate[], byzantine: number): Float32Array {
  const n = updates.length;
  const f = byzantine;
  if (n < 4 * f + 3) {
    throw new DomainError('INVALID_ARGUMENT', `Bulyan needs at least 4f + 3 = ${4 * f + 3} updates for f = ${f}, got ${n}`);
  }
  const theta = n - 2 * f;
  const beta = theta - 2 * f;
  const distances = squaredDistances(updates);
  const remaining = updates.map((_, k) => k);
  const selected: number[] = [];
  for (let s = 0; s < theta; s++) {
    const [best] = lowestScores(krumScores(distances, remaining, f), 1);
    selected.push(remaining[best]);
    remaining.splice(best, 1);
  }

  const dimension = updates[0].params.length;
  const params = selected.map((k) => updates[k].params);
  const column = new Float64Array(theta);
  const byCloseness = new Float64Array(theta);
  const out = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) {
    for (let k = 0; k < theta; k++) column[k] = params[k][i];
    column.sort();
    const median = sortedMedian(column);
    // The β values closest to the median form a contiguous run of the sorted column:
    // grow it from the middle, taking the nearer end each time (the lower one on a tie).
    let lo = theta >> 1;
    let hi = lo; // the run is column[lo, hi), empty at first
    let taken = 0;
    while (taken < beta) {
      const below = lo > 0 ? median - column[lo - 1] : Infinity;
      const above = hi < theta ? column[hi] - median : Infinity;
      if (below <= above) byCloseness[taken++] = column[--lo];
      else byCloseness[taken++] = column[hi++];
    }
    let sum = 0;
    for (let k = 0; k < beta; k++) sum += byCloseness[k];
    out[i] = sum / beta;
  }
  return out;
}

/** Bulyan with byzantine = f (default 0 as in Flower, which makes it the plain mean); O(agents × model) memory. */
export function createBulyan(options: StrategyOptions = {}): Strategy {
  const byzantine = checkCount('byzantine', options.byzantine ?? 0);
  return {
    name: 'bulyan',
    streaming: false,
    start: (global, state) => new BufferedRound(global, state, (updates) => bulyan(updates, byzantine)),
  };
}
