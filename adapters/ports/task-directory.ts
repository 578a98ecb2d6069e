// The task-directory port: which tasks of a swarm are with an agent now (Temporal visibility over task workflows).

export interface AssignedTask {
  taskId: string;
  /** The agent of the task's open attempt. */
  agentId: string;
  /** ASSIGNED tasks dispatched since the workflow keeps it in its memo: the open attempt's plan (ms since the epoch). */
  assignment?: { attempt: number; assignedAtMs: number; expectedFinishMs: number; deadlineMs: number };
}

export interface TaskDirectory {
  /** Tasks of the swarm in status ASSIGNED, at most `max`. */
  assigned(swarmId: string, max: number): Promise<AssignedTask[]>;
  /** Tasks of the swarm in status HELD (placed, waiting for their planned start), at most `max`. */
  held(swarmId: string, max: number): Promise<AssignedTask[]>;
}
