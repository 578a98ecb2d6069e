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
  /** Share of each agent's examples it keeps out of training to score the global model on (default 0.2). */
  heldOutFraction?: number;
}

export const DEFAULT_HELD_OUT_FRACTION = 0.2;

/** How long a trainer computes before letting the event loop run (an abandoned round or a spent budget is seen then). */
const COMPUTE_SLICE_MS = 5;

/** Each agent's examples (indices into the digits data), split into what it trains on and what it holds out. */
export function digitsAgentData(options: DigitsSplitOptions): { train: number[]; heldOut: number[] }[] {
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
  const fraction = options.heldOutFraction ?? DEFAULT_HELD_OUT_FRACTION;
  return parts.map((part) => splitHeldOut(part.map((i) => train[i]), fraction));
}

/**
 * Deterministic split of one agent's examples: position i is held out when floor((i + 1) f) > floor(i f),
 * so floor(n f) examples spread evenly over the shard (its class mix) are kept for scoring.
 */
export function splitHeldOut(examples: number[], fraction: number): { train: number[]; heldOut: number[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`heldOutFraction must be in [0, 1), got ${fraction}`);
  const train: number[] = [];
  const heldOut: number[] = [];
  examples.forEach((example, i) => (Math.floor((i + 1) * fraction) > Math.floor(i * fraction) ? heldOut : train).push(example));
  return { train, heldOut };
}

/** Each agent's training examples (indices into the digits data), without its held-out part. */
export function digitsShards(options: DigitsSplitOptions): number[][] {
  return digitsAgentData(options).map((part) => part.train);
}

/** Each agent's held-out examples, on which it scores the incoming global model. */
export function digitsHeldOut(options: DigitsSplitOptions): number[][] {
  return digitsAgentData(options).map((part) => part.heldOut);
}

/**
 * A trainer per agent, each holding its own shard; examples are visited in index order. Each
 * scores the incoming global model on its held-out examples (federated evaluation), then runs
 * the steps its round budget plans on the rest, one at a time, and stops early when the SDK
 * says so (time budget spent, round superseded), reporting the steps it completed.
 */
export function digitsTrainers(options: DigitsSplitOptions): Trainer[] {
  const data = loadDigits();
  return digitsAgentData(options).map(({ train: examples, heldOut }, agent): Trainer => async (task) => {
    const evaluation = task.evaluate === false || heldOut.length === 0 ? undefined : evaluateSoftmax(task.global, data, heldOut);
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
      lossSquared: result.lossSquared,
      accuracy: result.accuracy,
      evaluation,
      stepsCompleted: training.stepsCompleted,
      stepsPlanned: training.stepsPlanned,
    };
  });
}

/** Returns the global model unchanged, as if trained on one example. */
export const noopTrainer: Trainer = async (task) => ({ params: task.global, examples: 1 });
