// Local trainers for simulated agents: real training on a slice of the digits
// data, or a no-op that hands the global model back (for load tests).
import { dirichletPartition, iidPartition } from '../core/partition';
import { evaluateSoftmax, parameterCount, trainSoftmax } from '../core/models/softmax';
import { DIGITS_CLASSES, DIGITS_FEATURES, digitsSplit, loadDigits } from '../adapters/datasets/digits';
import type { Trainer } from './sdk';

export const DIGITS_DIMENSION = parameterCount(DIGITS_FEATURES, DIGITS_CLASSES);

export interface DigitsSplitOptions {
  agents: number;
  /** Dirichlet concentration; omitted means IID. */
  alpha?: number;
  seed: number;
}

/** Each agent's training examples (indices into the digits data). */
export function digitsShards(options: DigitsSplitOptions): number[][] {
  const data = loadDigits();
  const { train } = digitsSplit();
  const parts =
    options.alpha === undefined
      ? iidPartition(train.length, options.agents, options.seed)
      : dirichletPartition(
          train.map((i) => data.labels[i]),
          options.agents,
          options.alpha,
          options.seed,
        );
  return parts.map((part) => part.map((i) => train[i]));
}

/** A trainer per agent, each holding its own shard; examples are visited in index order. */
export function digitsTrainers(options: DigitsSplitOptions): Trainer[] {
  const data = loadDigits();
  return digitsShards(options).map((examples): Trainer => async (task) => {
    const evaluation = task.evaluate === false ? undefined : evaluateSoftmax(task.global, data, examples);
    const result = trainSoftmax(task.global, data, examples, task.training);
    return { params: result.params, examples: examples.length, loss: result.loss, accuracy: result.accuracy, evaluation };
  });
}

/** Returns the global model unchanged, as if trained on one example. */
export const noopTrainer: Trainer = async (task) => ({ params: task.global, examples: 1 });
