// Shapes of participant selection: the strategies a tuning job may choose,
// what each needs to know about the eligible agents, and what it returns.
import type { AgentResources } from '../agents';

export const SELECTION_STRATEGIES = ['uniform', 'longest-waiting', 'resource-aware', 'oort', 'carbon-aware'] as const;
export type SelectionStrategy = (typeof SELECTION_STRATEGIES)[number];

/** Flower's default: every eligible agent equally likely, without replacement. */
export const DEFAULT_SELECTION: SelectionStrategy = 'uniform';

export interface SelectionOptions {
  /**
   * Oort: share of a round's places given to agents never tried (epsilon). Without
   * it, epsilon starts at 0.9 and decays by 0.98 a round down to 0.3 (Oort's defaults).
   */
  explorationFraction?: number;
  /** Oort: agents slower than this are penalised, milliseconds; default the median duration observed. */
  preferredDurationMs?: number;
  /** Oort: exponent of the penalty (preferred / duration)^alpha; default 2. */
  penaltyExponent?: number;
  /** Carbon-aware: accuracy below the job's best by more than this turns the carbon preference off for a round; default 0.01. */
  maxAccuracyDrop?: number;
}

/** An eligible agent as the directory lists it. */
export interface SelectionCandidate {
  agentId: string;
  resources?: AgentResources;
}

/** What the manager learnt of an agent when it last took part (Oort's feedback). */
export interface AgentFeedback {
  /** The round it last reported in (or was selected and stayed silent). */
  round: number;
  /** Statistical utility: examples × loss it reported; 0 when it stayed silent. */
  utility: number;
  /** From the round's start to its update's arrival, milliseconds; the round's timeout when it stayed silent. */
  durationMs: number;
}

export interface SelectionRequest {
  strategy: SelectionStrategy;
  /** Eligible agents (requirements met, exclusions applied). */
  candidates: SelectionCandidate[];
  /** Places in the round. */
  wanted: number;
  seed: number;
  round: number;
  attempt: number;
  /** Round each agent last took part in. */
  lastParticipation: Record<string, number>;
  /** Oort's feedback per agent. */
  feedback?: Record<string, AgentFeedback>;
  /** Carbon-aware: the instant the round starts, milliseconds since the epoch (forecasts are read there). */
  atMs?: number;
  /** Carbon-aware: false when accuracy does not allow preferring low-carbon agents this round. */
  preferLowCarbon?: boolean;
  options?: SelectionOptions;
}

export interface Selection {
  /** Chosen agents, sorted by id. */
  participants: string[];
  /** Oort: how many of them were never tried before. */
  exploring?: number;
  /** Carbon-aware: whether this round preferred low-carbon agents. */
  lowCarbon?: boolean;
}
