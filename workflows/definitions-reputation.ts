// Signals and queries of the per-swarm reputation ledger; the adapters import these too.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AcceptedRoundUpdates, ContributionCounts, DecayingScore } from '../core/decisions/reputation';

export const REPUTATION_LEDGER_WORKFLOW = 'reputationLedger';

/** One ledger per swarm: every aggregated round of its tuning jobs is signalled to it. */
export const reputationLedgerWorkflowId = (swarmId: string): string => `reputation-${swarmId}`;

export interface ReputationLedgerInput {
  swarmId: string;
  /** The record carried over continue-as-new. */
  carry?: ContributionCounts;
}

export const acceptedRoundSignal = defineSignal<[AcceptedRoundUpdates]>('acceptedRound');
/** agentId -> accepted round updates. */
export const contributionCountsQuery = defineQuery<Record<string, number>>('contributionCounts');
/** agentId -> decaying score of the rounds recorded with a time (QP_REPUTATION_HALF_LIFE_MS). */
export const contributionScoresQuery = defineQuery<Record<string, DecayingScore>>('contributionScores');
