// What a decision's workflow reports (its query, the API's GET): small by design.
import type { DecisionAction, DecisionOutcome, DecisionState, DecisionSystem, Refusals, Tally } from './types';

export interface DecisionActionStatus {
  kind: DecisionAction['kind'];
  status: 'timelocked' | 'started' | 'failed' | 'cancelled';
  /** When a timelocked action runs, ms since the epoch. */
  runsAt?: number;
  /** The started job's id and workflow (tuning), or the rebalancing run's workflow (rebalance). */
  jobId?: string;
  workflowId?: string;
  /** tasks: the tasks started; rebalance: the tasks it moved off agents no longer ACTIVE. */
  taskIds?: string[];
  /** rebalance: tasks it found with an agent. */
  assigned?: number;
  /** rebalance: HELD tasks it told to be placed again. */
  replanned?: string[];
  /** tasks: how many were refused, and the first few with the typed code of why. */
  failed?: number;
  failures?: Array<{ taskId: string; code: string; message: string }>;
  error?: string;
  /** Typed reason of a failed action (e.g. TASK_REFUSED, TASKS_UNAVAILABLE, the child workflow's failure type). */
  errorCode?: string;
}

export interface DecisionStatus {
  decisionId: string;
  swarmId: string;
  title: string;
  /** 'admin' or the id of the agent that opened it (absent in decisions opened before it was recorded). */
  proposer?: string;
  system: DecisionSystem;
  options: string[];
  allowVoteChange: boolean;
  state: DecisionState;
  /** ms since the epoch. */
  createdAt: number;
  opensAt: number;
  /** The deadline, as extended by a late quorum. */
  closesAt: number;
  /** The voting-power snapshot taken when voting opened. */
  snapshot?: { digest: string; voters: number; totalPower: number };
  quorumPower?: number;
  quorumReachedAt?: number;
  tally: Tally;
  /** Voters whose ballot counts. */
  voters: number;
  refusals: Refusals;
  /** Digests of the accepted ballots, batch by batch (GET .../ballots reads them). */
  ballotChunks: string[];
  closedAt?: number;
  closedBy?: 'deadline' | 'early' | 'cancel';
  outcome?: DecisionOutcome;
  action?: DecisionActionStatus;
  cancelReason?: string;
}

export const EMPTY_TALLY: Tally = { scores: {}, turnout: 0, abstained: 0, ballots: 0 };
