// The swarm's roster as the analytics read it (swarm/<id>/roster, api/asyncapi.yaml): the
// manager notes each agent id that became the swarm's whenever its session issues a credential
// (registration, re-registration), and the API names the ACTIVE agents again when it deploys a
// swarm's analytics, so a job deployed after older notes aged out still knows them.

export interface AgentRegisteredMessage {
  type: 'agent-registered';
  agentId: string;
  /** Credential generation: 1 at registration, then one more per re-registration; absent on the API's deployment notes. */
  generation?: number;
  /** ms since the epoch, manager clock. */
  registeredAt: number;
}
