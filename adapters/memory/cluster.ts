import type { AgentPool, ClusterPort } from '../ports';

/** Kubernetes DNS-1123 label, the strictest rule a pool name meets as a Deployment and Service name. */
const POOL_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Pools kept in a Map. Unlike a real cluster, a pool is ready the moment it
 * is scaled: ready always equals desired.
 */
export class MemoryCluster implements ClusterPort {
  private readonly pools = new Map<string, AgentPool>();

  async listPools(): Promise<AgentPool[]> {
    return [...this.pools.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(snapshot);
  }

  async getPool(name: string): Promise<AgentPool | undefined> {
    const pool = this.pools.get(name);
    return pool && snapshot(pool);
  }

  /** Labels given for an existing pool are merged into its labels. */
  async scalePool(name: string, replicas: number, labels: Record<string, string> = {}): Promise<AgentPool> {
    if (typeof name !== 'string' || !POOL_NAME.test(name)) {
      throw new Error(
        `invalid pool name "${name}": use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      );
    }
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new Error(`replicas must be a non-negative integer, got ${replicas}`);
    }
    const pool: AgentPool = {
      name,
      desired: replicas,
      ready: replicas,
      labels: { ...this.pools.get(name)?.labels, ...labels },
    };
    this.pools.set(name, pool);
    return snapshot(pool);
  }

  async deletePool(name: string): Promise<void> {
    this.pools.delete(name);
  }
}

function snapshot(pool: AgentPool): AgentPool {
  return { ...pool, labels: { ...pool.labels } };
}
