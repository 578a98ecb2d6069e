// Shapes of a collaborative decision: the proposal, its ballots, the tally and
// the states a decision goes through. Pure types and constants.

export const DECISION_SYSTEMS = ['basic', 'single-choice', 'approval', 'weighted', 'quadratic', 'ranked-choice'] as const;
export type DecisionSystem = (typeof DECISION_SYSTEMS)[number];

export const DECISION_STATES = [
  'PENDING',
  'ACTIVE',
  'SUCCEEDED',
  'DEFEATED',
  'QUORUM_NOT_MET',
  'EXECUTED',
  'CANCELLED',
] as const;
export type DecisionState = (typeof DECISION_STATES)[number];

/** The options of a basic proposal, in this order. */
export const BASIC_OPTIONS = ['for', 'against', 'abstain'] as const;

/**
 * What a ballot says, by system:
 * - basic, single-choice: one option;
 * - approval: the options approved (at least one, no repeats);
 * - ranked-choice: options in order of preference (at least one, no repeats; unranked ones are never preferred);
 * - weighted, quadratic: option -> non-negative weight; the voter's power is split in proportion.
 */
export type Choice = string | string[] | Record<string, number>;

export type PowerRule = 'equal' | 'resources' | 'reputation' | { fixed: Record<string, number> };

export type Quorum = { fraction: number } | { absolute: number };

export interface Electorate {
  /** Registration statuses that may vote; default ACTIVE. */
  status?: Array<'ACTIVE' | 'LOST'>;
  /** Agents holding every one of these capabilities. */
  capabilities?: string[];
  /** Only these agents. */
  agentIds?: string[];
}

export const ACTION_KINDS = ['tuning', 'tasks', 'rebalance'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface DecisionAction {
  kind: ActionKind;
  /** What the action starts (for tuning: the body of POST /api/v1/tuning/start). */
  spec: Record<string, unknown>;
  /** Wait after success before the action runs, ms; a cancel meanwhile stops it. */
  timelockMs?: number;
}

export interface DecisionSpec {
  decisionId: string;
  swarmId: string;
  title: string;
  description?: string;
  /** The options voted on; for basic, for/against/abstain. */
  options: string[];
  system: DecisionSystem;
  electorate?: Electorate;
  power: PowerRule;
  /** From creation to the opening of the vote, ms. */
  votingDelayMs: number;
  votingPeriodMs: number;
  quorum: Quorum;
  /**
   * Share the winner needs, 0..1 (see core/decisions/outcome.ts): basic: for / (for + against)
   * must exceed it (default 0.5); other systems: the winner's share must exceed it (default 0).
   */
  threshold?: number;
  /** When quorum is first reached less than this before the deadline, the deadline moves to then + this, ms. */
  lateQuorumExtensionMs?: number;
  /** A voter's later ballot replaces the earlier one; otherwise a second ballot is refused as duplicate. */
  allowVoteChange?: boolean;
  action?: DecisionAction;
  /** Who proposed: 'admin' or an agent id. */
  proposer: string;
}

/** A ballot as the agent signs it and as it is kept. */
export interface Ballot {
  decisionId: string;
  agentId: string;
  choice: Choice;
  /** When the agent cast it, ms since the epoch (its clock); orders a voter's ballots. */
  castAt: number;
  /** Base64 Ed25519 signature of ballotSigningInput(ballot) by the agent's registration key. */
  signature: string;
}

/** A ballot the manager accepted, with the power it carried. */
export interface AcceptedBallot extends Ballot {
  /** Voting power of the agent in the snapshot taken when voting opened. */
  power: number;
  /** When the manager received it, ms since the epoch (broker publish time). */
  receivedAt: number;
}

export const REFUSAL_REASONS = ['malformed', 'forged', 'duplicate', 'ineligible', 'not-open', 'late', 'invalid-choice', 'wrong-decision'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** One IRV round: the counts, who was eliminated, and ballots that ran out of preferences so far. */
export interface IrvRound {
  counts: Record<string, number>;
  eliminated?: string;
  exhausted: number;
}

export interface Tally {
  /** Power behind each option (IRV: the final round's counts; quadratic: sqrt-weighted votes). */
  scores: Record<string, number>;
  /** Power of every counted ballot, abstentions included (what quorum compares to). */
  turnout: number;
  /** Power of abstaining ballots (basic only). */
  abstained: number;
  /** Counted ballots. */
  ballots: number;
  /** The leading option, after the tie-break; undefined with no votes. */
  leader?: string;
  /** Options tied for the lead before the tie-break. */
  tiedFor?: string[];
  /** IRV only. */
  rounds?: IrvRound[];
}

export interface DecisionOutcome {
  state: Extract<DecisionState, 'SUCCEEDED' | 'DEFEATED' | 'QUORUM_NOT_MET'>;
  winner?: string;
  /** The winner's share as the threshold compares it, 0..1. */
  share?: number;
  quorumPower: number;
  turnout: number;
}

/** Published on the swarm's control topic when voting opens (property type=decision-proposal). */
export interface ProposalMessage {
  type: 'decision-proposal';
  decisionId: string;
  swarmId: string;
  title: string;
  description?: string;
  options: string[];
  system: DecisionSystem;
  /** Where ballots go. */
  ballotTopic: string;
  /** ms since the epoch. */
  opensAt: number;
  closesAt: number;
  allowVoteChange: boolean;
  /** Agents in the snapshot and their total power. */
  voters: number;
  totalPower: number;
}

/** Published on the swarm's control topic when voting closes (property type=decision-outcome). */
export interface OutcomeMessage {
  type: 'decision-outcome';
  decisionId: string;
  swarmId: string;
  state: DecisionState;
  winner?: string;
  tally: Tally;
  quorumPower: number;
  /** Why voting closed: the deadline, early (the result could no longer change), or a cancel. */
  closedBy: 'deadline' | 'early' | 'cancel';
  closedAt: number;
}

/** Counts of refused ballots by reason, and the last few refused. */
export interface Refusals {
  counts: Partial<Record<RefusalReason, number>>;
  recent: Array<{ agentId?: string; reason: RefusalReason; at: number }>;
}
