// The manager's analytics events are at least once: round-closed comes from a tuning activity, and
// an activity retried after it published publishes again (with a later closedAt). A repeated
// round would count twice in the straggler rate, so events are deduplicated by their key before
// windowing. The Flink job does the same (DuplicateFilter.java):
// - round-closed: (jobId, round, attempt), each collection attempt closes once; the first is kept;
// - update-rejected: (jobId, round, attempt, agentId, reason, seq), seq counting the attempt's
//   refusals of that agent for that reason: a retried collection reads the same updates and refuses
//   them again with the same names, while an agent that sent the same bad update twice gets seq 1 and 2
//   (both count toward a burst). An asynchronous job's rejection has no attempt: it is named by
//   (jobId, updateId), the refused message's id, which a redelivery to a retried collection (or the
//   drain judging it again) keeps. One with neither (older publishers) has no name and always passes;
// - a key is remembered until the newest deduplicated event time is horizonMs past its first one.
// task-dispatched duplicates are absorbed by the task join.
import type { RoundClosedEvent, UpdateRejectedEvent } from './events';

/** How long a key is remembered, ms of event time (the task join's horizon). */
export const DEDUP_HORIZON_MS = 3_600_000;

/** The name two copies of one event share; undefined for a rejection published without one. */
export function eventKey(event: RoundClosedEvent | UpdateRejectedEvent): string | undefined {
  if (event.kind === 'round-closed') return `round-closed|${event.jobId}|${event.round}|${event.attempt}`;
  if (event.attempt === undefined || event.seq === undefined) {
    return event.updateId === undefined ? undefined : `update-rejected|${event.jobId}|update|${event.updateId}`;
  }
  return `update-rejected|${event.jobId}|${event.round}|${event.attempt}|${event.agentId}|${event.reason}|${event.seq}`;
}

export class EventDeduplicator {
  /** key -> event time of its first copy, ms. */
  private readonly seen = new Map<string, number>();
  private newest = -Infinity;
  private lastSweep = -Infinity;

  constructor(private readonly horizonMs = DEDUP_HORIZON_MS) {}

  /** Keys remembered. */
  get size(): number {
    return this.seen.size;
  }

  /** True for the first copy of an event, false for a repeat. */
  first(event: RoundClosedEvent | UpdateRejectedEvent): boolean {
    const key = eventKey(event);
    if (key === undefined) return true;
    this.sweep(event.at);
    if (this.seen.has(key)) return false;
    this.seen.set(key, event.at);
    return true;
  }

  private sweep(at: number): void {
    if (at > this.newest) this.newest = at;
    if (this.lastSweep !== -Infinity && this.newest - this.lastSweep < this.horizonMs / 10) return;
    this.lastSweep = this.newest;
    const cutoff = this.newest - this.horizonMs;
    for (const [key, firstAt] of this.seen) if (firstAt < cutoff) this.seen.delete(key);
  }
}
