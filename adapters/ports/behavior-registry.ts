// The behavior registry port: who may report behaviors (agents with a live
// registration session in the swarm).

export interface BehaviorAgentRegistry {
  /** Agents of the swarm whose session is running (ACTIVE or LOST). */
  registeredAgents(swarmId: string): Promise<Set<string>>;
  /** Swarms with at least one running session, at most `limit`. */
  swarms(limit: number): Promise<string[]>;
}
