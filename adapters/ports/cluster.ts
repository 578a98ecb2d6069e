// The cluster port: agent pools and their replica counts (Kubernetes, in-memory).

export interface AgentPool {
  name: string;
  /** Replicas asked for. */
  desired: number;
  /** Replicas running and ready. */
  ready: number;
  labels: Record<string, string>;
}

export interface ClusterPort {
  listPools(): Promise<AgentPool[]>;
  getPool(name: string): Promise<AgentPool | undefined>;
  /** Create the pool if missing, then set its desired replica count. */
  scalePool(name: string, replicas: number, labels?: Record<string, string>): Promise<AgentPool>;
  deletePool(name: string): Promise<void>;
}
