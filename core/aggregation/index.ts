// The server-side aggregation strategies by name (semantics and defaults follow Flower's
// server strategies, flwr 1.42). Streaming ones (fedavg, fedprox, fedavgm, fedadam, fedyogi,
// fedadagrad) keep memory O(model); robust ones (fedmedian, fedtrimmedavg, krum, multikrum,
// bulyan) buffer the round's updates.
import { DomainError } from '../errors';
import { createBulyan } from './bulyan';
import { createAdaptive } from './fedadaptive';
import { createFedAvg } from './fedavg';
import { createFedAvgM } from './fedavgm';
import { createFedNova } from './fednova';
import { createKrum, createMultiKrum } from './krum';
import { createFedMedian } from './median';
import { createFedTrimmedAvg } from './trimmed-mean';
import { STRATEGY_NAMES, type Strategy, type StrategyName, type StrategyOptions } from './types';
import { checkOption } from './validate';

export * from './types';
export { validateUpdate, type UpdateLimits, type UpdateRejection, type UpdateRejectionCode } from './validate';
export { WeightedMean, type WeightedMeanOptions, type WeightedSumBackend } from './fedavg';

/** The named strategy with Flower's defaults for every option not given; throws INVALID_ARGUMENT on a bad option. */
export function createStrategy(name: StrategyName, options: StrategyOptions = {}): Strategy {
  if (options.proximalMu !== undefined) checkOption('proximalMu', options.proximalMu, 0);
  switch (name) {
    case 'fedavg':
    case 'fedprox':
      return createFedAvg(name);
    case 'fedavgm':
      return createFedAvgM(options);
    case 'fedadam':
    case 'fedyogi':
    case 'fedadagrad':
      return createAdaptive(name, options);
    case 'fedmedian':
      return createFedMedian();
    case 'fedtrimmedavg':
      return createFedTrimmedAvg(options);
    case 'krum':
      return createKrum(options);
    case 'multikrum':
      return createMultiKrum(options);
    case 'bulyan':
      return createBulyan(options);
    case 'fednova':
      return createFedNova();
    default:
      throw new DomainError('INVALID_ARGUMENT', `unknown strategy '${String(name)}', expected one of ${STRATEGY_NAMES.join(', ')}`, {
        field: 'strategy',
      });
  }
}
