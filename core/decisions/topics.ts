// The topic a decision's ballots travel on.
import { swarmTopics } from '../topics';

/** swarm/<swarmId>/decision-<decisionId>: the logical topic agents publish their ballots to. */
export const decisionTopic = (swarmId: string, decisionId: string): string => swarmTopics(swarmId).decision(decisionId);
