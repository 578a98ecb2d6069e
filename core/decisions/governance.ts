// A swarm's own governance settings. A setting the swarm has not made falls back
// to the manager's default (QP_DECISION_PROPOSAL_THRESHOLD for the proposal threshold).

export interface SwarmGovernance {
  swarmId: string;
  /** Reputation an agent of this swarm needs to propose; absent: the manager's default. */
  proposalThreshold?: number;
  /** When a setting last changed, ms since the epoch. */
  updatedAt: number;
}

/** A change of settings: a number sets the swarm's own threshold, null returns it to the default. */
export interface GovernanceChange {
  proposalThreshold: number | null;
}

/** The settings after `change`, made at `at` (ms since the epoch). */
export function applyGovernanceChange(swarmId: string, change: GovernanceChange, at: number): SwarmGovernance {
  return change.proposalThreshold === null ? { swarmId, updatedAt: at } : { swarmId, proposalThreshold: change.proposalThreshold, updatedAt: at };
}

/** The threshold that holds in a swarm: its own if it set one, else `defaultThreshold`. */
export function effectiveProposalThreshold(settings: SwarmGovernance | undefined, defaultThreshold: number): { threshold: number; source: 'swarm' | 'default' } {
  return settings?.proposalThreshold === undefined ? { threshold: defaultThreshold, source: 'default' } : { threshold: settings.proposalThreshold, source: 'swarm' };
}
