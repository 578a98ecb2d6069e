// The task-submitter port: starts delegated tasks as POST /api/v1/tasks does (a decision's "tasks" action).

/** One task as POST /api/v1/tasks takes it (validated by the API's task schema before it gets here). */
export interface TaskSubmissionRequest {
  taskId?: string;
  swarmId: string;
  kind: string;
  input: unknown;
  requirements: { cpu?: number; memoryMb?: number; gpu?: number; capabilities?: string[] };
  estimatedWork: number;
  /** ISO instant, or ms from submission. */
  deadline: string | number;
  priority?: number;
  deferrable?: boolean;
  allocation?: 'central' | 'contract-net';
}

export interface SubmittedTask {
  taskId: string;
  workflowId: string;
  /** False when a task with this id existed already (nothing changed). */
  created: boolean;
}

export interface TaskSubmitter {
  /** Starts one task, idempotent by taskId; refusals are DomainErrors with a code (CONFLICT: the id is another swarm's task). */
  submit(request: TaskSubmissionRequest): Promise<SubmittedTask>;
}
