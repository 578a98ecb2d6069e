// The stream-jobs port: deploying and inspecting long-running stream processing jobs (Flink).

export interface StreamJobSpec {
  /** Stable name of the job, e.g. "qp-analytics/<swarmId>". */
  name: string;
  /** Version of the job's code and settings: a different one replaces the running job. */
  version: string;
  /** Local path of the job's jar. */
  jarPath: string;
  entryClass: string;
  args: string[];
  /**
   * On an upgrade, whether state of the savepoint that no operator of the new job claims may be
   * dropped (default true: an upgrade may remove an operator). False makes such an upgrade fail instead.
   */
  allowNonRestoredState?: boolean;
}

export type StreamJobState = 'RUNNING' | 'CREATED' | 'RESTARTING' | 'FAILING' | 'FAILED' | 'CANCELLING' | 'CANCELED' | 'FINISHED' | 'SUSPENDED' | 'RECONCILING' | 'INITIALIZING';

export interface StreamJobStatus {
  jobId: string;
  name: string;
  version: string;
  state: StreamJobState;
  /** ms since the epoch. */
  startTime: number;
}

export interface EnsureResult {
  /** unchanged: the same name and version was running; submitted: none was; upgraded: another version was stopped with a savepoint and the new one restored from it. */
  action: 'unchanged' | 'submitted' | 'upgraded';
  jobId: string;
  savepoint?: string;
}

export type StreamJobErrorCode = 'UNAVAILABLE' | 'REJECTED' | 'TIMEOUT';

export class StreamJobError extends Error {
  constructor(
    readonly code: StreamJobErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'StreamJobError';
  }
}

export interface StreamJobsPort {
  /** Makes the named job run at the given version; idempotent. */
  ensure(spec: StreamJobSpec): Promise<EnsureResult>;
  /** Jobs the cluster knows (running and finished), newest first. */
  list(): Promise<StreamJobStatus[]>;
  /** Is the cluster reachable, and with how many free/total task slots. */
  overview(): Promise<{ taskManagers: number; slotsTotal: number; slotsAvailable: number; flinkVersion: string }>;
  /** Sum of a user metric over the job's operators (e.g. qpMalformedEvents); undefined if not reported. */
  metric(jobId: string, name: string): Promise<number | undefined>;
  cancel(jobId: string): Promise<void>;
}
