// The cluster port: agent pools and their replica counts (Kubernetes, local processes, in-memory).
// Errors are DomainErrors: INVALID_ARGUMENT (bad name or count), FORBIDDEN (the
// cluster refused our identity), CONFLICT (a concurrent change won every retry),
// UNAVAILABLE (the cluster did not answer in time).

export interface AgentPool {
  name: string;
  /** Replicas asked for. */
  desired: number;
  /** Replicas running and ready. */
  ready: number;
  labels: Record<string, string>;
}

export interface PoolChange {
  type: 'UPSERT' | 'DELETE';
  pool: AgentPool;
}

export interface PoolWatch {
  close(): Promise<void>;
}

export interface ClusterPort {
  listPools(): Promise<AgentPool[]>;
  getPool(name: string): Promise<AgentPool | undefined>;
  /** Create the pool if missing, then set its desired replica count. */
  scalePool(name: string, replicas: number, labels?: Record<string, string>): Promise<AgentPool>;
  deletePool(name: string): Promise<void>;
  /** Calls onChange with a snapshot each time a pool is created, scaled, becomes (un)ready or is deleted. */
  watchPools(onChange: (change: PoolChange) => void): Promise<PoolWatch>;
}

/** The label that marks a Deployment as an agent pool; its value is the pool's name. */
export const POOL_LABEL = 'qp-manager.io/pool';
