// The contribution-ledger port: per agent of a swarm, the federated round updates its tuning jobs accepted.
import type { AcceptedRoundUpdates, DecayingScore } from '../../core/decisions/reputation';

export interface ContributionLedger {
  /** Records one aggregated round's accepted updates; recording the same round again changes nothing. */
  record(round: AcceptedRoundUpdates): Promise<void>;
  /** agentId -> accepted round updates of the swarm's agents that have any. */
  counts(swarmId: string): Promise<Record<string, number>>;
  /** agentId -> decaying score of the rounds recorded with a time. */
  scores(swarmId: string): Promise<Record<string, DecayingScore>>;
}
