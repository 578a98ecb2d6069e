// FedMedian (Yin et al. 2018) as Flower's aggregate_median: the coordinate-wise median of the
// agents' parameters, unweighted (examples are ignored, as in Flower), the mean of the two
// middle values when the count is even. Buffers every update (see buffered.ts).
import { BufferedRound, forEachColumn, sortedMedian } from './buffered';
import type { ModelUpdate, Strategy } from './types';

/** Coordinate-wise median of the updates' params (parameter units). */
export function coordinateMedian(updates: readonly ModelUpdate[], dimension: number): Float32Array {
  const out = new Float32Array(dimension);
  forEachColumn(updates, dimension, (column, i) => {
    column.sort();
    out[i] = sortedMedian(column);
  });
  return out;
}

/** FedMedian: robust to a minority of arbitrary updates; O(agents × model) memory. */
export function createFedMedian(): Strategy {
  return {
    name: 'fedmedian',
    streaming: false,
    start: (global, state) => new BufferedRound(global, state, (updates) => coordinateMedian(updates, global.length)),
  };
}
