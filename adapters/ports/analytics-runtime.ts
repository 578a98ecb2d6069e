// The analytics runtime port: where a swarm's analytics run (a Flink job per swarm, or the
// embedded TypeScript engine in this process). Either writes the swarm's analytics topic.
import type { StreamJobStatus } from './stream-jobs';

export interface AnalyticsDeployment {
  swarmId: string;
  runtime: 'flink' | 'embedded';
  /** flink: what submission did; embedded: started (first time) or unchanged. */
  action: 'submitted' | 'upgraded' | 'unchanged' | 'started';
  jobId?: string;
  version?: string;
  savepoint?: string;
}

export interface AnalyticsRuntimeStatus {
  runtime: 'flink' | 'embedded';
  /** Can the runtime be reached (the Flink REST endpoint answers; always true embedded). */
  reachable: boolean;
  detail?: string;
  flink?: { url: string; flinkVersion: string; taskManagers: number; slotsTotal: number; slotsAvailable: number };
  /** flink: the cluster's analytics jobs; embedded: one pseudo-job per swarm. */
  jobs: (Omit<StreamJobStatus, 'jobId'> & { jobId: string; swarmId: string })[];
}

export interface AnalyticsRuntime {
  readonly kind: 'flink' | 'embedded';
  /** Makes the swarm's analytics run at the current version; idempotent. */
  deploy(swarmId: string): Promise<AnalyticsDeployment>;
  status(): Promise<AnalyticsRuntimeStatus>;
  close(): Promise<void>;
}
