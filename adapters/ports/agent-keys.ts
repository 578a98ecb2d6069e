// The agent key port: the Ed25519 public key each registered agent signs its
// messages with, so that a message proves its sender without a bearer secret.

export interface AgentKeyDirectory {
  /**
   * The registered public key (SPKI PEM) of the agent if it has a live
   * registration session in the swarm (ACTIVE or LOST); undefined otherwise,
   * so a deregistered agent's signatures stop counting.
   */
  publicKey(swarmId: string, agentId: string): Promise<string | undefined>;
}
