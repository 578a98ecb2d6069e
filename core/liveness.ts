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

/** The latest load an agent reported for the pool it runs in. */
export interface PoolLoadReport {
  pool: string;
  /** Fraction of capacity in use, 0..1. */
  load: number;
  /** When the heartbeat carrying it was published, ms since the epoch. */
  at: number;
}

/** Last heartbeat per agent, per swarm, as seen by this worker process; and the pool load agents report in them. */
export class HeartbeatLedger {
  private readonly bySwarm = new Map<string, Map<string, number>>();
  /** Keyed by swarm and agent: an agent reports for one pool at a time. */
  private readonly poolLoads = new Map<string, PoolLoadReport>();

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

  /** Records the pool and load (0..1) a heartbeat at atMs reported, unless a later report is already known. */
  recordPoolLoad(swarmId: string, agentId: string, report: PoolLoadReport): void {
    const key = `${swarmId}\n${agentId}`;
    if ((this.poolLoads.get(key)?.at ?? -Infinity) < report.at) this.poolLoads.set(key, report);
  }

  /** Loads (0..1) of the agents whose latest report, at most maxAgeMs before nowMs, names this pool. */
  loadsOf(pool: string, nowMs: number, maxAgeMs: number): number[] {
    const loads: number[] = [];
    for (const [key, report] of this.poolLoads) {
      if (nowMs - report.at > maxAgeMs) {
        if (nowMs - report.at > 10 * maxAgeMs) this.poolLoads.delete(key);
        continue;
      }
      if (report.pool === pool) loads.push(report.load);
    }
    return loads;
  }

  /** Agents this process has never heard of start their grace period now. */
  seed(swarmId: string, agentIds: readonly string[], nowMs: number): void {
    const seen = this.swarm(swarmId);
    for (const agentId of agentIds) if (!seen.has(agentId)) seen.set(agentId, nowMs);
  }
}
