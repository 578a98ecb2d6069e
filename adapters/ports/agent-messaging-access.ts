/** One registration session of an agent: broker identities belong to a session, never to an agent id alone. */
export interface AgentAccessSession {
  swarmId: string;
  agentId: string;
  /** Names the registration session (stable across continue-as-new); letters, digits, `-`. */
  session: string;
}

/**
 * What one agent may do on the swarm's message broker: a broker identity of its
 * own, granted when a credential is issued and taken away when the agent
 * deregisters or its credentials are revoked.
 */
export interface AgentMessagingAccess {
  /** True where agents connect with a broker token of their own (the broker authorises each one). */
  readonly issuesTokens: boolean;
  /**
   * Lets the session produce on its swarm's topics and consume only its own inbox
   * and the swarm's broadcast and control topics. Idempotent. Returns the
   * identity's name (not a secret), or undefined where the broker has none.
   */
  grant(session: AgentAccessSession): Promise<string | undefined>;
  /** Takes every permission grant() gave away; the session's token then opens nothing. Idempotent. */
  revoke(session: AgentAccessSession): Promise<void>;
  /** The broker token for an identity grant() named; undefined where the broker needs none. */
  tokenFor(identity: string): string | undefined;
}
