// Task latency needs both halves of an attempt: the manager's dispatch (swarm/<id>/tasks) and the
// agent's outcome (swarm/<id>/task-results). They travel on two topics, so either may be read
// first; each waits here for the other. The Flink job joins by the same rules (TaskJoin.java):
// - the pair is (taskId, attempt); the first dispatch and the first outcome of a pair are kept;
// - an outcome from an agent other than the one the attempt went to is unmatched (dropped);
// - the joined event's time is the outcome's, or the dispatch's if the agent's clock is behind;
// - a half still waiting when the newest task event time seen is horizonMs past it is dropped
//   (an outcome then counts as unmatched; a dispatch without an outcome is an attempt that
//   timed out, which the task's workflow reports).
import type { TaskCompletedEvent, TaskDispatchedEvent, TaskOutcomeEvent } from './events';

/** How long one half of a task waits for the other, ms of event time. */
export const TASK_JOIN_HORIZON_MS = 3_600_000;

/** What one half yields: the joined task when it completed a pair, and the outcomes dropped unmatched. */
export interface TaskJoinResult {
  joined?: TaskCompletedEvent;
  unmatched: number;
}

export class TaskJoin {
  private readonly dispatches = new Map<string, TaskDispatchedEvent>();
  private readonly outcomes = new Map<string, TaskOutcomeEvent>();
  private newest = -Infinity;
  private lastSweep = -Infinity;

  constructor(private readonly horizonMs = TASK_JOIN_HORIZON_MS) {}

  /** Half-pairs waiting. */
  get waiting(): { dispatches: number; outcomes: number } {
    return { dispatches: this.dispatches.size, outcomes: this.outcomes.size };
  }

  /** Takes one half of a task attempt. */
  offer(event: TaskDispatchedEvent | TaskOutcomeEvent): TaskJoinResult {
    const unmatched = this.sweep(event.at);
    const key = `${event.taskId}#${event.attempt}`;
    let dispatch: TaskDispatchedEvent | undefined;
    let outcome: TaskOutcomeEvent | undefined;
    if (event.kind === 'task-dispatched') {
      if (this.dispatches.has(key)) return { unmatched };
      dispatch = event;
      outcome = this.outcomes.get(key);
      if (!outcome) this.dispatches.set(key, event);
    } else {
      // a second outcome of a waiting pair (a redelivery) is dropped
      if (this.outcomes.has(key)) return { unmatched: unmatched + 1 };
      outcome = event;
      dispatch = this.dispatches.get(key);
      if (!dispatch) this.outcomes.set(key, event);
    }
    if (!dispatch || !outcome) return { unmatched };
    this.dispatches.delete(key);
    this.outcomes.delete(key);
    if (outcome.agentId !== dispatch.agentId) return { unmatched: unmatched + 1 };
    return {
      unmatched,
      joined: {
        kind: 'task-completed',
        taskId: dispatch.taskId,
        taskKind: dispatch.taskKind,
        agentId: dispatch.agentId,
        dispatchedAt: dispatch.at,
        at: Math.max(outcome.at, dispatch.at),
        deadlineAt: dispatch.deadlineAt,
        outcome: outcome.outcome,
      },
    };
  }

  /** Drops the halves the horizon passed; returns how many of them were outcomes. */
  private sweep(at: number): number {
    if (at > this.newest) this.newest = at;
    // a full scan at most every tenth of the horizon keeps the join O(1) per event on average
    if (this.newest - this.lastSweep < this.horizonMs / 10) return 0;
    this.lastSweep = this.newest;
    const cutoff = this.newest - this.horizonMs;
    for (const [key, d] of this.dispatches) if (d.at < cutoff) this.dispatches.delete(key);
    let dropped = 0;
    for (const [key, o] of this.outcomes) {
      if (o.at < cutoff) {
        this.outcomes.delete(key);
        dropped++;
      }
    }
    return dropped;
  }
}
