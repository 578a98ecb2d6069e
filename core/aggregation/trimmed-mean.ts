// FedTrimmedAvg (Yin et al. 2018) as Flower's aggregate_trimmed_avg (scipy's trim_mean): per
// coordinate, sort the n values, drop floor(β·n) from each end, average the rest, unweighted.
// β = trimFraction in [0, 0.5], Flower's default 0.2; a cut that leaves nothing (β = 0.5 with
// an even count) is refused at finish.
// Buffers every update (see buffered.ts).
import { DomainError } from '../errors';
import { BufferedRound, forEachColumn } from './buffered';
import type { ModelUpdate, Strategy, StrategyOptions } from './types';
import { checkOption } from './validate';

/** Flower's FedTrimmedAvg default beta. */
export const TRIM_FRACTION_DEFAULT = 0.2;

/** Coordinate-wise mean after cutting floor(fraction · n) values from each end (params units). */
export function coordinateTrimmedMean(updates: readonly ModelUpdate[], dimension: number, fraction: number): Float32Array {
  const n = updates.length;
  const cut = Math.floor(fraction * n);
  const keep = n - 2 * cut;
  if (keep <= 0) throw new DomainError('INVALID_ARGUMENT', `trimming ${cut} of ${n} values from each end leaves none`);
  const out = new Float32Array(dimension);
  forEachColumn(updates, dimension, (column, i) => {
    column.sort();
    let sum = 0;
    for (let k = cut; k < n - cut; k++) sum += column[k];
    out[i] = sum / keep;
  });
  return out;
}

/** FedTrimmedAvg with trimFraction β in [0, 0.5] cut from each end (default 0.2); O(agents × model) memory. */
export function createFedTrimmedAvg(options: StrategyOptions = {}): Strategy {
  const fraction = checkOption('trimFraction', options.trimFraction ?? TRIM_FRACTION_DEFAULT, 0, 0.5);
  return {
    name: 'fedtrimmedavg',
    streaming: false,
    start: (global, state) =>
      new BufferedRound(global, state, (updates) => coordinateTrimmedMean(updates, global.length, fraction)),
  };
}
