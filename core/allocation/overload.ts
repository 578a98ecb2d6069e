// Overloaded agents: an agent runs its inbox one task at a time, in the order the
// manager put them there. When its oldest task runs past the finish the plan
// expected, everything queued behind it slips by as much; a queued task that
// would then miss its deadline (even if the late one ended this instant) is
// worth moving to an agent that can still make it.

/** A task in an agent's inbox, as the manager placed it (times: ms since the epoch). */
export interface InboxAssignment {
  taskId: string;
  agentId: string;
  attempt: number;
  assignedAtMs: number;
  /** When the plan expected the agent to finish it. */
  expectedFinishMs: number;
  deadlineMs: number;
}

export interface OverdueTask {
  taskId: string;
  agentId: string;
  attempt: number;
  /** How far the agent is behind its plan, s. */
  behindS: number;
  /** How late the task would finish at best if it stayed, s. */
  lateByS: number;
}

/**
 * Tasks queued behind an agent's oldest task, for agents whose oldest task is past
 * its expected finish by more than graceMs, that would finish after their deadline
 * even if the oldest task ended at nowMs: the queue keeps its planned gaps.
 */
export function overdueQueuedTasks(assignments: InboxAssignment[], nowMs: number, graceMs: number): OverdueTask[] {
  const byAgent = new Map<string, InboxAssignment[]>();
  for (const assignment of assignments) {
    let queue = byAgent.get(assignment.agentId);
    if (!queue) byAgent.set(assignment.agentId, (queue = []));
    queue.push(assignment);
  }
  const overdue: OverdueTask[] = [];
  for (const queue of byAgent.values()) {
    queue.sort((a, b) => a.assignedAtMs - b.assignedAtMs || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
    const [head, ...waiting] = queue;
    const behindMs = nowMs - head.expectedFinishMs;
    if (behindMs <= graceMs) continue;
    for (const task of waiting) {
      const predictedFinishMs = nowMs + Math.max(0, task.expectedFinishMs - head.expectedFinishMs);
      if (predictedFinishMs > task.deadlineMs) {
        overdue.push({ taskId: task.taskId, agentId: task.agentId, attempt: task.attempt, behindS: behindMs / 1000, lateByS: (predictedFinishMs - task.deadlineMs) / 1000 });
      }
    }
  }
  return overdue;
}
