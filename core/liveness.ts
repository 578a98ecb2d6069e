// Liveness: which watched agents changed between alive and lost.

export interface LivenessTransition {
  agentId: string;
  status: 'ACTIVE' | 'LOST';
  /** Last heartbeat seen, milliseconds since the epoch. */
  lastSeenAt: number;
}

/**
 * Compares each watched agent's last heartbeat (ms since epoch) against the
 * grace period (ms) and returns only the agents whose status flips.
 */
export function livenessTransitions(
  watched: readonly string[],
  lost: ReadonlySet<string>,
  lastSeen: ReadonlyMap<string, number>,
  nowMs: number,
  graceMs: number,
): LivenessTransition[] {
  const transitions: LivenessTransition[] = [];
  for (const agentId of watched) {
    const seen = lastSeen.get(agentId);
    if (seen === undefined) continue;
    const alive = nowMs - seen <= graceMs;
    if (alive && lost.has(agentId)) transitions.push({ agentId, status: 'ACTIVE', lastSeenAt: seen });
    if (!alive && !lost.has(agentId)) transitions.push({ agentId, status: 'LOST', lastSeenAt: seen });
  }
  return transitions;
}

/** Last heartbeat per agent, per swarm, as seen by this worker process. */
export class HeartbeatLedger {
  private readonly bySwarm = new Map<string, Map<string, number>>();

  swarm(swarmId: string): Map<string, number> {
    let seen = this.bySwarm.get(swarmId);
    if (!seen) this.bySwarm.set(swarmId, (seen = new Map()));
    return seen;
  }

  /** Records a heartbeat at atMs unless a later one is already known. */
  record(swarmId: string, agentId: string, atMs: number): void {
    const seen = this.swarm(swarmId);
    if ((seen.get(agentId) ?? -Infinity) < atMs) seen.set(agentId, atMs);
  }

  /** Agents this process has never heard of start their grace period now. */
  seed(swarmId: string, agentIds: readonly string[], nowMs: number): void {
    const seen = this.swarm(swarmId);
    for (const agentId of agentIds) if (!seen.has(agentId)) seen.set(agentId, nowMs);
  }
}
