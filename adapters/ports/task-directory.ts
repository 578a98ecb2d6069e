// The task-directory port: which tasks of a swarm are with an agent now (Temporal visibility over task workflows).

export interface AssignedTask {
  taskId: string;
  /** The agent of the task's open attempt. */
  agentId: string;
}

export interface TaskDirectory {
  /** Tasks of the swarm in status ASSIGNED, at most `max`. */
  assigned(swarmId: string, max: number): Promise<AssignedTask[]>;
  /** Tasks of the swarm in status HELD (placed, waiting for their planned start), at most `max`. */
  held(swarmId: string, max: number): Promise<AssignedTask[]>;
}
