// The reputation port: a score per agent of a swarm for the "reputation" voting-power rule.

export interface ReputationSource {
  /** agentId -> reputation score (> 0) of the swarm's agents that have one; the others score 0. */
  scores(swarmId: string): Promise<Record<string, number>>;
  /** One agent's score (0 without one), without listing the swarm. */
  scoreOf(swarmId: string, agentId: string): Promise<number>;
}
