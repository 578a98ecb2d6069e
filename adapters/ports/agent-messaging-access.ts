/**
 * What one agent may do on the swarm's message broker: its own broker identity,
 * granted when its credential is issued and taken away when it deregisters.
 */
export interface AgentMessagingAccess {
  /**
   * Lets the agent produce on its swarm's topics and consume only its own inbox
   * and the swarm's broadcast and control topics. Idempotent.
   */
  grant(swarmId: string, agentId: string): Promise<void>;
  /** Takes every permission grant() gave away; the agent's broker token then opens nothing. Idempotent. */
  revoke(swarmId: string, agentId: string): Promise<void>;
  /** The broker token the agent connects with; undefined where the broker needs none. */
  tokenFor(swarmId: string, agentId: string): string | undefined;
}
