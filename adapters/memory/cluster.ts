import { checkPoolRequest } from '../../core/pools';
import { type AgentPool, type ClusterPort, type PoolChange, type PoolWatch } from '../ports';

/**
 * Pools kept in a Map. Unlike a real cluster, a pool is ready the moment it
 * is scaled: ready always equals desired.
 */
export class MemoryCluster implements ClusterPort {
  private readonly pools = new Map<string, AgentPool>();
  private readonly watchers = new Set<(change: PoolChange) => void>();

  async listPools(): Promise<AgentPool[]> {
    return [...this.pools.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(snapshot);
  }

  async getPool(name: string): Promise<AgentPool | undefined> {
    const pool = this.pools.get(name);
    return pool && snapshot(pool);
  }

  /** Labels given for an existing pool are merged into its labels. */
  async scalePool(name: string, replicas: number, labels: Record<string, string> = {}): Promise<AgentPool> {
    checkPoolRequest(name, replicas);
    const pool: AgentPool = {
      name,
      desired: replicas,
      ready: replicas,
      labels: { ...this.pools.get(name)?.labels, ...labels },
    };
    this.pools.set(name, pool);
    this.emit({ type: 'UPSERT', pool });
    return snapshot(pool);
  }

  async deletePool(name: string): Promise<void> {
    const pool = this.pools.get(name);
    if (!pool) return;
    this.pools.delete(name);
    this.emit({ type: 'DELETE', pool });
  }

  async watchPools(onChange: (change: PoolChange) => void): Promise<PoolWatch> {
    this.watchers.add(onChange);
    return { close: async () => void this.watchers.delete(onChange) };
  }

  private emit(change: PoolChange): void {
    for (const watcher of this.watchers) watcher({ type: change.type, pool: snapshot(change.pool) });
  }
}

function snapshot(pool: AgentPool): AgentPool {
  return { ...pool, labels: { ...pool.labels } };
}
