// Signals and queries of the per-swarm reputation ledger and governance settings; the adapters import these too.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GovernanceChange, SwarmGovernance } from '../core/decisions/governance';
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

// ---------------------------------------------------------------- swarm governance settings

export const SWARM_GOVERNANCE_WORKFLOW = 'swarmGovernance';

/** One record of settings per swarm, started by the first PUT /api/v1/governance/{swarmId}. */
export const swarmGovernanceWorkflowId = (swarmId: string): string => `governance-${swarmId}`;

export interface SwarmGovernanceInput {
  swarmId: string;
  /** The settings carried over continue-as-new. */
  carry?: SwarmGovernance;
}

export const setGovernanceUpdate = defineUpdate<SwarmGovernance, [GovernanceChange]>('setGovernance');
/** The swarm's settings; undefined before the first change. */
export const governanceQuery = defineQuery<SwarmGovernance | undefined>('governance');
