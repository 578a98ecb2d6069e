// Local trainers for simulated agents: real training on a slice of the digits
// data, or a no-op that hands the global model back (for load tests).
import { dirichletPartition, iidPartition } from '../core/partition';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { evaluateSoftmax, parameterCount, plannedSteps, SoftmaxTraining } from '../core/models/softmax';
import { DIGITS_CLASSES, DIGITS_FEATURES, digitsSplit, loadDigits } from '../adapters/datasets/digits';
import type { Trainer } from './sdk';

export const DIGITS_DIMENSION = parameterCount(DIGITS_FEATURES, DIGITS_CLASSES);

export interface DigitsSplitOptions {
  agents: number;
  /** Dirichlet concentration; omitted means IID. */
  alpha?: number;
  seed: number;
  /** Simulated devices of different speeds: milliseconds agent i waits after each local step (default none). */
  stepDelayMs?: (agent: number) => number;
}

/** How long a trainer computes before letting the event loop run (an abandoned round or a spent budget is seen then). */
const COMPUTE_SLICE_MS = 5;

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

/**
 * A trainer per agent, each holding its own shard; examples are visited in index order. Each
 * runs the steps its round budget plans, one at a time, and stops early when the SDK says so
 * (time budget spent, round superseded), reporting the steps it completed.
 */
export function digitsTrainers(options: DigitsSplitOptions): Trainer[] {
  const data = loadDigits();
  return digitsShards(options).map((examples, agent): Trainer => async (task) => {
    const evaluation = task.evaluate === false ? undefined : evaluateSoftmax(task.global, data, examples);
    const steps = plannedSteps({ ...task.budget, batchSize: task.training.batchSize }, examples.length);
    const training = new SoftmaxTraining(task.global, data, examples, task.training, steps);
    const delay = options.stepDelayMs?.(agent) ?? 0;
    let sliceStart = Date.now();
    while (!task.shouldStop() && training.step()) {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      else if (Date.now() - sliceStart >= COMPUTE_SLICE_MS) {
        await yieldToEvents();
        sliceStart = Date.now();
      }
    }
    const result = training.result();
    return {
      params: result.params,
      examples: examples.length,
      loss: result.loss,
      accuracy: result.accuracy,
      evaluation,
      stepsCompleted: training.stepsCompleted,
      stepsPlanned: training.stepsPlanned,
    };
  });
}

/** Returns the global model unchanged, as if trained on one example. */
export const noopTrainer: Trainer = async (task) => ({ params: task.global, examples: 1 });
