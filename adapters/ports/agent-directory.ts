// The agent directory port: which agents of a swarm are eligible for work
// (Temporal visibility over registration sessions).
import type { AgentResources } from '../../core/agents';

export interface DirectoryEntry {
  agentId: string;
  resources?: AgentResources;
  /** What the agent declared it can do at registration. */
  capabilities?: string[];
}

/** Where the agents eligible for work are listed. */
export interface AgentDirectory {
  /** Every ACTIVE agent of the swarm. */
  listActive(swarmId: string): Promise<DirectoryEntry[]>;
}

/**
 * Told by the paths that change an agent's standing (registration, resources,
 * liveness flips, deregistration) so that a cached listing of its swarm is not
 * served past the change.
 */
export interface AgentDirectoryChanges {
  agentChanged(swarmId: string): void;
}
