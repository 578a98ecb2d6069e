// The manager's analytics events are at least once: round-closed comes from a tuning activity, and
// an activity retried after it published publishes again (with a later closedAt). A repeated
// round would count twice in the straggler rate, so events are deduplicated by their key before
// windowing. The Flink job does the same (DuplicateFilter.java):
// - round-closed: (jobId, round, attempt), each collection attempt closes once; the first is kept;
// - a key is remembered until the newest deduplicated event time is horizonMs past its first one.
// update-rejected has no key of its own (an agent may send the same bad update twice in a round,
// and both count toward a burst), and task-dispatched duplicates are absorbed by the task join.
import type { RoundClosedEvent } from './events';

/** How long a key is remembered, ms of event time (the task join's horizon). */
export const DEDUP_HORIZON_MS = 3_600_000;

/** The name two copies of one event share. */
export function eventKey(event: RoundClosedEvent): string {
  return `round-closed|${event.jobId}|${event.round}|${event.attempt}`;
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
  first(event: RoundClosedEvent): boolean {
    this.sweep(event.at);
    const key = eventKey(event);
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
