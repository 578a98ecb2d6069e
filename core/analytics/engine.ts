// Event-time windowing of a swarm's events: tumbling windows aligned to the epoch, a watermark
// that trails the largest event time by a bounded lateness, events behind it dropped as late.
// This is the embedded (in-process) analytics; the Flink job runs the same rules:
// watermark = max event time - latenessMs - 1; a window [start, end) fires once the watermark
// reaches end - 1, and an event whose window already fired is late.
import { EventDeduplicator } from './dedup';
import { TaskJoin } from './task-join';
import { parseSwarmEvent, type AnalyticsSource, type BallotEvent, type DecisionClosedEvent, type DecisionOpenedEvent, type HeartbeatEvent, type RoundClosedEvent, type SwarmEvent, type TaskCompletedEvent, type UpdateRejectedEvent } from './events';
import {
  ANALYTICS_SCHEMA,
  agentEnergy,
  ballotTurnout,
  heartbeatLiveness,
  roundParticipation,
  stragglerRate,
  swarmPower,
  taskLatency,
  updateRejections,
  type AnalyticsRecord,
  type DecisionVoters,
} from './signals';

export interface AnalyticsOptions {
  /** Tumbling window length, ms. */
  windowMs: number;
  /** How far behind the newest event an event may arrive and still count, ms. */
  latenessMs: number;
  /** A heartbeat silence longer than this is a LOST (and, when it ends, an ACTIVE) flip, ms. */
  graceMs: number;
  /** More flips than this in one window is flapping. */
  flapThreshold: number;
  /** This many update rejections of one job in one window is a burst. */
  burstThreshold: number;
  /**
   * A decision's turnout state is dropped once this much event time passed after the end of the
   * last window with an event of it (proposal or ballot) without its outcome, ms; its later windows
   * then start over, as for a decision whose proposal was not read. Default DECISION_IDLE_MS.
   */
  decisionIdleMs?: number;
}

/** Default decisionIdleMs (7 days): the Flink job's --decision-idle-ms default too. */
export const DECISION_IDLE_MS = 604_800_000;

export const DEFAULT_ANALYTICS_OPTIONS: AnalyticsOptions = {
  windowMs: 60_000,
  latenessMs: 5_000,
  graceMs: 30_000,
  flapThreshold: 4,
  burstThreshold: 5,
  decisionIdleMs: DECISION_IDLE_MS,
};

export interface AnalyticsCounters {
  /** Messages taken from the topics. */
  messages: number;
  /** Events in windows: heartbeats, joined tasks, round and rejection events. */
  accepted: number;
  /** Not JSON, or JSON that is not an object. */
  malformed: number;
  /** JSON that breaks the event's schema. */
  invalid: number;
  /** Other message types of the topic. */
  ignored: number;
  /** Behind the watermark: their window had fired. */
  late: number;
  /** Task outcomes that met no dispatch of theirs (core/analytics/task-join.ts). */
  unmatched: number;
  /** Heartbeats, task outcomes and ballots of agent ids the swarm's roster never named. */
  unknownAgent: number;
  /** Repeats of an event already taken (a retried activity's round-closed; core/analytics/dedup.ts). */
  duplicate: number;
  windowsEmitted: number;
}

/** Start (ms) of the tumbling window holding event time atMs. */
export function windowStartOf(atMs: number, windowMs: number): number {
  return atMs - (((atMs % windowMs) + windowMs) % windowMs);
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const sortedKeys = <T>(m: Map<string, T>) => [...m.keys()].sort();

export class AnalyticsEngine {
  private readonly pending = new Map<number, SwarmEvent[]>();
  /** Each agent's last heartbeat in a fired window, ms. */
  private readonly lastHeartbeat = new Map<string, number>();
  /**
   * Each open decision's eligible voters and the agents that voted, as of its last fired window, and
   * that window's end (ms): dropped with the window of its outcome, or once idle for decisionIdleMs.
   */
  private readonly decisions = new Map<string, { voters: DecisionVoters; lastWindowEnd: number }>();
  private maxEventTime = -Infinity;
  private sweptAt = -Infinity;
  /** Decisions dropped as idle since takeIdleDecisions was last called. */
  private idle: string[] = [];
  private readonly tasks = new TaskJoin();
  private readonly dedup = new EventDeduplicator();
  /** Agent ids the roster named. */
  private readonly known = new Set<string>();
  readonly counters: AnalyticsCounters = { messages: 0, accepted: 0, malformed: 0, invalid: 0, ignored: 0, late: 0, unmatched: 0, unknownAgent: 0, duplicate: 0, windowsEmitted: 0 };

  constructor(
    readonly swarmId: string,
    readonly options: AnalyticsOptions = DEFAULT_ANALYTICS_OPTIONS,
  ) {}

  /** Decisions whose turnout state is kept (opened, not closed yet, not idle for decisionIdleMs). */
  get openDecisions(): number {
    return this.decisions.size;
  }

  /** Current watermark, ms (-Infinity before the first event). */
  get watermark(): number {
    return this.maxEventTime - this.options.latenessMs - 1;
  }

  /** Takes one message of a swarm topic (payload, properties); returns the windows it closed. */
  ingest(source: AnalyticsSource, payload: string, properties: Record<string, string> = {}): AnalyticsRecord[] {
    this.counters.messages++;
    const parsed = parseSwarmEvent(source, payload, properties);
    if (!parsed.ok) {
      this.counters[parsed.reason]++;
      return [];
    }
    const event = parsed.event;
    if (event.kind === 'agent-registered') {
      this.known.add(event.agentId);
      return [];
    }
    // What agents publish counts only for the swarm's agents; the manager's own events name agents it chose.
    if ((event.kind === 'heartbeat' || event.kind === 'task-outcome' || event.kind === 'ballot') && !this.known.has(event.agentId)) {
      this.counters.unknownAgent++;
      return [];
    }
    if ((event.kind === 'round-closed' || event.kind === 'update-rejected') && !this.dedup.first(event)) {
      this.counters.duplicate++;
      return [];
    }
    if (event.kind !== 'task-dispatched' && event.kind !== 'task-outcome') return this.add(event);
    const { joined, unmatched } = this.tasks.offer(event);
    this.counters.unmatched += unmatched;
    return joined ? this.add(joined) : [];
  }

  /** Takes one parsed event; returns the windows it closed. */
  add(event: SwarmEvent): AnalyticsRecord[] {
    const start = windowStartOf(event.at, this.options.windowMs);
    if (start + this.options.windowMs - 1 <= this.watermark) {
      this.counters.late++;
      return [];
    }
    this.counters.accepted++;
    const list = this.pending.get(start);
    if (list) list.push(event);
    else this.pending.set(start, [event]);
    if (event.at > this.maxEventTime) this.maxEventTime = event.at;
    return this.fireReady();
  }

  private fireReady(): AnalyticsRecord[] {
    const ready = [...this.pending.keys()].filter((s) => s + this.options.windowMs - 1 <= this.watermark).sort((a, b) => a - b);
    const out: AnalyticsRecord[] = [];
    for (const start of ready) {
      out.push(...this.fire(start, this.pending.get(start)!));
      this.pending.delete(start);
    }
    this.counters.windowsEmitted += out.length;
    this.dropIdleDecisions();
    return out;
  }

  private get decisionIdleMs(): number {
    return this.options.decisionIdleMs ?? DECISION_IDLE_MS;
  }

  /**
   * Drops the turnout state of each decision whose last window ended decisionIdleMs or more before
   * the watermark + 1 (the Flink job: that window's clean-up, allowed lateness = the idle time).
   */
  private dropIdleDecisions(): void {
    const watermark = this.watermark;
    if (watermark <= this.sweptAt || this.decisions.size === 0) return;
    this.sweptAt = watermark;
    for (const [decisionId, d] of this.decisions) {
      if (d.lastWindowEnd - 1 + this.decisionIdleMs <= watermark) {
        this.decisions.delete(decisionId);
        this.idle.push(decisionId);
      }
    }
  }

  /** The decisions whose state was dropped as idle (no outcome within decisionIdleMs) since the last call. */
  takeIdleDecisions(): string[] {
    return this.idle.splice(0);
  }

  private fire(windowStart: number, events: SwarmEvent[]): AnalyticsRecord[] {
    const { windowMs, graceMs, flapThreshold, burstThreshold } = this.options;
    const h = { schema: ANALYTICS_SCHEMA, swarmId: this.swarmId, windowStart, windowEnd: windowStart + windowMs } as const;
    const inOrder = [...events].sort((a, b) => a.at - b.at);
    const beats = inOrder.filter((e): e is HeartbeatEvent => e.kind === 'heartbeat');
    const tasks = inOrder.filter((e): e is TaskCompletedEvent => e.kind === 'task-completed');
    const rounds = inOrder.filter((e): e is RoundClosedEvent => e.kind === 'round-closed');
    const rejections = inOrder.filter((e): e is UpdateRejectedEvent => e.kind === 'update-rejected');
    const out: AnalyticsRecord[] = [];
    const beatsByAgent = groupBy(beats, (b) => b.agentId);
    for (const agentId of sortedKeys(beatsByAgent)) {
      const agentBeats = beatsByAgent.get(agentId)!;
      out.push(agentEnergy(h, agentId, agentBeats));
      const liveness = heartbeatLiveness(h, agentId, agentBeats, this.lastHeartbeat.get(agentId), graceMs, flapThreshold);
      if (liveness.lastAt !== undefined) this.lastHeartbeat.set(agentId, liveness.lastAt);
      out.push(liveness.record);
    }
    if (beats.length > 0) out.push(swarmPower(h, beats));
    const tasksByKind = groupBy(tasks, (t) => t.taskKind);
    for (const kind of sortedKeys(tasksByKind)) out.push(taskLatency(h, kind, tasksByKind.get(kind)!));
    const participation = roundParticipation(rounds);
    for (const agentId of sortedKeys(participation)) {
      const p = participation.get(agentId)!;
      out.push(stragglerRate(h, agentId, p.rounds, p.straggled));
    }
    const rejectionsByJob = groupBy(rejections, (r) => r.jobId);
    for (const jobId of sortedKeys(rejectionsByJob)) out.push(updateRejections(h, jobId, rejectionsByJob.get(jobId)!, burstThreshold));
    const votes = inOrder.filter((e): e is DecisionOpenedEvent | DecisionClosedEvent | BallotEvent => e.kind === 'decision-opened' || e.kind === 'decision-closed' || e.kind === 'ballot');
    const votesByDecision = groupBy(votes, (e) => e.decisionId);
    for (const decisionId of sortedKeys(votesByDecision)) {
      const kept = this.decisions.get(decisionId);
      // Idle since its last window for decisionIdleMs by this window's end: it starts over (whichever of
      // this window and the idle clean-up comes first, as in Flink, where both are timers of that time).
      const previous = kept && h.windowEnd - kept.lastWindowEnd < this.decisionIdleMs ? kept.voters : undefined;
      const turnout = ballotTurnout(h, decisionId, votesByDecision.get(decisionId)!, previous);
      // Only an opened decision carries state: ballots of one closed (or never announced) stand alone.
      if (turnout.closed || turnout.state.eligible === undefined) this.decisions.delete(decisionId);
      else this.decisions.set(decisionId, { voters: turnout.state, lastWindowEnd: h.windowEnd });
      out.push(turnout.record);
    }
    return out;
  }
}
