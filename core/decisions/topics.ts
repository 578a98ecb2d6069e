// The topic a decision's ballots travel on.
/** swarm/<swarmId>/decision-<decisionId>: the logical topic agents publish their ballots to. */
export const decisionTopic = (swarmId: string, decisionId: string): string => `swarm/${swarmId}/decision-${decisionId}`;
