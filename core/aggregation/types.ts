// Shapes shared by every server-side aggregation strategy.

/** One agent's result for a round: its locally trained parameters. */
export interface ModelUpdate {
  agentId: string;
  /** Training examples behind the update (FedAvg weight). */
  examples: number;
  params: Float32Array;
  /** Local steps the agent completed for this update (FedNova's tau); absent means unknown. */
  steps?: number;
}

export const STRATEGY_NAMES = [
  'fedavg',
  'fedavgm',
  'fedprox',
  'fedadam',
  'fedyogi',
  'fedadagrad',
  'fedmedian',
  'fedtrimmedavg',
  'krum',
  'multikrum',
  'bulyan',
  'fednova',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface StrategyOptions {
  /** Server learning rate (FedAvgM, FedAdam, FedYogi, FedAdagrad). */
  serverLearningRate?: number;
  /** Server momentum (FedAvgM). */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  /** Adaptivity (FedAdam, FedYogi, FedAdagrad). */
  tau?: number;
  /** Fraction cut from each end per coordinate (FedTrimmedAvg, Bulyan). */
  trimFraction?: number;
  /** Byzantine agents tolerated (Krum, Multi-Krum, Bulyan). */
  byzantine?: number;
  /** Updates averaged by Multi-Krum. */
  multiKrumKeep?: number;
  /** Proximal coefficient mu sent to agents (FedProx); the server side is FedAvg. */
  proximalMu?: number;
}

/** Server-side optimizer state carried between rounds (model-sized vectors live in the blob store). */
export interface ServerState {
  /** Rounds aggregated so far. */
  round: number;
  vectors: Record<string, Float32Array>;
}

export interface RoundAggregator {
  /** Folds one validated update in. */
  add(update: ModelUpdate): void;
  /** The next global parameters and server state. */
  finish(): { params: Float32Array; state: ServerState };
}

export interface Strategy {
  readonly name: StrategyName;
  /** True when memory stays O(model) however many updates arrive; robust strategies buffer them. */
  readonly streaming: boolean;
  start(global: Float32Array, state: ServerState): RoundAggregator;
}
