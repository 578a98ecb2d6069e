// The analytics signals: what one tumbling window of events yields, per signal. Pure functions of
// the window's events in event-time order; the Flink job (analytics/) computes the same numbers.
import type { BallotEvent, DecisionClosedEvent, DecisionOpenedEvent, HeartbeatEvent, RoundClosedEvent, TaskCompletedEvent, UpdateRejectedEvent } from './events';

export const ANALYTICS_SCHEMA = 'qp-analytics/1';

export type AnalyticsSignal =
  | 'agent-energy'
  | 'swarm-power'
  | 'heartbeat-liveness'
  | 'task-latency'
  | 'stragglers'
  | 'update-rejections'
  | 'ballot-turnout';

export const ANALYTICS_SIGNALS: readonly AnalyticsSignal[] = [
  'agent-energy',
  'swarm-power',
  'heartbeat-liveness',
  'task-latency',
  'stragglers',
  'update-rejections',
  'ballot-turnout',
];

/** One window's result. (signal, key, windowStart) names it: a consumer keeps the first of equal names. */
export interface WindowHeader {
  schema: typeof ANALYTICS_SCHEMA;
  swarmId: string;
  signal: AnalyticsSignal;
  /** agentId, task kind, jobId, decisionId, or "swarm". */
  key: string;
  /** ms since the epoch, inclusive. */
  windowStart: number;
  /** ms since the epoch, exclusive. */
  windowEnd: number;
}

export interface AgentEnergy extends WindowHeader {
  signal: 'agent-energy';
  heartbeats: number;
  energyWh: number;
  carbonG: number;
  /** Mean reported load (0..1), null when no heartbeat reported one. */
  meanLoad: number | null;
}

export interface SwarmPower extends WindowHeader {
  signal: 'swarm-power';
  agents: number;
  energyWh: number;
  carbonG: number;
  /** Mean power draw over the window, watts. */
  meanPowerW: number;
  /** grams CO2e per kWh drawn, null when no energy was reported. */
  carbonIntensityGPerKWh: number | null;
}

export interface HeartbeatLiveness extends WindowHeader {
  signal: 'heartbeat-liveness';
  heartbeats: number;
  /** Longest silence ending in this window (from the agent's previous heartbeat), ms; null if none. */
  maxGapMs: number | null;
  /** Silences longer than the grace period: each is one ACTIVE->LOST and one LOST->ACTIVE flip. */
  gapsOverGrace: number;
  flips: number;
  /** flips > the flapping threshold: Flink CEP's finding (silencesToFlap). */
  flapping: boolean;
}

export interface TaskLatency extends WindowHeader {
  signal: 'task-latency';
  tasks: number;
  failed: number;
  /** Nearest-rank percentiles of completedAt - dispatchedAt, ms. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  deadlineMisses: number;
  deadlineMissRate: number;
}

export interface StragglerRate extends WindowHeader {
  signal: 'stragglers';
  rounds: number;
  straggled: number;
  stragglerRate: number;
}

export interface UpdateRejections extends WindowHeader {
  signal: 'update-rejections';
  rejections: number;
  agents: number;
  reasons: Record<string, number>;
  /** rejections >= the burst threshold: possible poisoning. */
  burst: boolean;
}

export interface BallotTurnout extends WindowHeader {
  signal: 'ballot-turnout';
  /** Ballots cast in the window (vote changes included). */
  ballots: number;
  /** Agents that cast a ballot in the decision by the window's end (each once). */
  voters: number;
  /** Agents in the decision's power snapshot; null until its proposal was read. */
  eligible: number | null;
  /** voters / eligible (0..1), null when eligible is null or 0. */
  turnout: number | null;
}

export type AnalyticsRecord = AgentEnergy | SwarmPower | HeartbeatLiveness | TaskLatency | StragglerRate | UpdateRejections | BallotTurnout;

/** Rounds to 6 decimals, as the Flink job does, so both report the same digits. */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Nearest-rank percentile (p in 0..100) of ascending values. */
export function nearestRank(sortedAscending: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAscending.length));
  return sortedAscending[rank - 1];
}

type Header = Omit<WindowHeader, 'signal' | 'key'>;

/** Energy (Wh) and carbon (g) an agent reported in a window. */
export function agentEnergy(h: Header, agentId: string, beats: readonly HeartbeatEvent[]): AgentEnergy {
  let energyWh = 0;
  let carbonG = 0;
  let loadSum = 0;
  let loads = 0;
  for (const b of beats) {
    const wh = b.energyUsedWh ?? 0;
    energyWh += wh;
    if (b.carbonIntensityGPerKWh !== undefined) carbonG += (wh * b.carbonIntensityGPerKWh) / 1000;
    if (b.load !== undefined) {
      loadSum += b.load;
      loads++;
    }
  }
  return {
    ...h,
    signal: 'agent-energy',
    key: agentId,
    heartbeats: beats.length,
    energyWh: round6(energyWh),
    carbonG: round6(carbonG),
    meanLoad: loads === 0 ? null : round6(loadSum / loads),
  };
}

/** The swarm's mean power draw (W) and carbon intensity (g/kWh) over a window. */
export function swarmPower(h: Header, beats: readonly HeartbeatEvent[]): SwarmPower {
  let energyWh = 0;
  let carbonG = 0;
  const agents = new Set<string>();
  for (const b of beats) {
    agents.add(b.agentId);
    const wh = b.energyUsedWh ?? 0;
    energyWh += wh;
    if (b.carbonIntensityGPerKWh !== undefined) carbonG += (wh * b.carbonIntensityGPerKWh) / 1000;
  }
  return {
    ...h,
    signal: 'swarm-power',
    key: 'swarm',
    agents: agents.size,
    energyWh: round6(energyWh),
    carbonG: round6(carbonG),
    meanPowerW: round6((energyWh * 3_600_000) / (h.windowEnd - h.windowStart)),
    carbonIntensityGPerKWh: energyWh > 0 ? round6((carbonG * 1000) / energyWh) : null,
  };
}

/**
 * Silences (gaps over the grace period, two flips each) in one window that make an agent flapping:
 * floor(threshold / 2) + 1, i.e. flips > threshold. The Flink job finds them with CEP
 * (analytics/.../Flapping.java: consecutive heartbeats further apart than the grace period, then
 * this many of them in one window), and its flag is the one published; this is its TypeScript twin.
 */
export function silencesToFlap(flapThreshold: number): number {
  return Math.floor(flapThreshold / 2) + 1;
}

/**
 * Heartbeat gaps of one agent in a window, counting from its last heartbeat of an earlier window
 * (previousAt, ms, or undefined). Returns the result and the last heartbeat time to carry on.
 */
export function heartbeatLiveness(
  h: Header,
  agentId: string,
  beats: readonly HeartbeatEvent[],
  previousAt: number | undefined,
  graceMs: number,
  flapThreshold: number,
): { record: HeartbeatLiveness; lastAt: number | undefined } {
  let prev = previousAt;
  let maxGapMs: number | null = null;
  let gapsOverGrace = 0;
  for (const b of beats) {
    if (prev !== undefined) {
      const gap = b.at - prev;
      if (maxGapMs === null || gap > maxGapMs) maxGapMs = gap;
      if (gap > graceMs) gapsOverGrace++;
    }
    prev = b.at;
  }
  const flips = 2 * gapsOverGrace;
  return {
    record: {
      ...h,
      signal: 'heartbeat-liveness',
      key: agentId,
      heartbeats: beats.length,
      maxGapMs,
      gapsOverGrace,
      flips,
      flapping: gapsOverGrace >= silencesToFlap(flapThreshold),
    },
    lastAt: prev,
  };
}

/** Latency percentiles (ms) and deadline-miss rate of one kind of task completed in a window. */
export function taskLatency(h: Header, kind: string, tasks: readonly TaskCompletedEvent[]): TaskLatency {
  const latencies = tasks.map((t) => t.at - t.dispatchedAt).sort((a, b) => a - b);
  const misses = tasks.filter((t) => t.deadlineAt !== undefined && t.at > t.deadlineAt).length;
  return {
    ...h,
    signal: 'task-latency',
    key: kind,
    tasks: tasks.length,
    failed: tasks.filter((t) => t.outcome === 'failed').length,
    p50Ms: nearestRank(latencies, 50),
    p95Ms: nearestRank(latencies, 95),
    p99Ms: nearestRank(latencies, 99),
    deadlineMisses: misses,
    deadlineMissRate: round6(misses / tasks.length),
  };
}

/** Per participant of the rounds closed in a window: how many it joined and how many it straggled in. */
export function roundParticipation(rounds: readonly RoundClosedEvent[]): Map<string, { rounds: number; straggled: number }> {
  const byAgent = new Map<string, { rounds: number; straggled: number }>();
  for (const r of rounds) {
    const stragglers = new Set(r.stragglers);
    for (const agentId of new Set([...r.participants, ...r.stragglers])) {
      const entry = byAgent.get(agentId) ?? { rounds: 0, straggled: 0 };
      entry.rounds++;
      if (stragglers.has(agentId)) entry.straggled++;
      byAgent.set(agentId, entry);
    }
  }
  return byAgent;
}

/** An agent's straggler rate (0..1) over the rounds closed in a window. */
export function stragglerRate(h: Header, agentId: string, rounds: number, straggled: number): StragglerRate {
  return { ...h, signal: 'stragglers', key: agentId, rounds, straggled, stragglerRate: round6(straggled / rounds) };
}

/** Update rejections of one job in a window; a burst is a possible poisoning attempt. */
export function updateRejections(
  h: Header,
  jobId: string,
  rejected: readonly UpdateRejectedEvent[],
  burstThreshold: number,
): UpdateRejections {
  const reasons: Record<string, number> = {};
  for (const r of rejected) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
  return {
    ...h,
    signal: 'update-rejections',
    key: jobId,
    rejections: rejected.length,
    agents: new Set(rejected.map((r) => r.agentId)).size,
    reasons,
    burst: rejected.length >= burstThreshold,
  };
}

/** What a decision's turnout carries from one window to the next. */
export interface DecisionVoters {
  eligible?: number;
  voters: ReadonlySet<string>;
}

/**
 * A decision's ballots in a window and its turnout so far: distinct voters by the window's end over
 * the agents its proposal named. Returns the record, the state to carry to its next window, and
 * whether the decision closed in this window (then nothing is carried: its state is dropped).
 */
export function ballotTurnout(
  h: Header,
  decisionId: string,
  events: readonly (DecisionOpenedEvent | DecisionClosedEvent | BallotEvent)[],
  previous: DecisionVoters | undefined,
): { record: BallotTurnout; state: DecisionVoters; closed: boolean } {
  let eligible = previous?.eligible;
  const voters = new Set(previous?.voters ?? []);
  let ballots = 0;
  let closed = false;
  for (const e of events) {
    if (e.kind === 'decision-opened') eligible = e.eligible;
    else if (e.kind === 'decision-closed') closed = true;
    else {
      ballots++;
      voters.add(e.agentId);
    }
  }
  return {
    record: {
      ...h,
      signal: 'ballot-turnout',
      key: decisionId,
      ballots,
      voters: voters.size,
      eligible: eligible ?? null,
      turnout: eligible === undefined || eligible === 0 ? null : round6(voters.size / eligible),
    },
    state: { ...(eligible !== undefined && { eligible }), voters },
    closed,
  };
}

/** The name a consumer deduplicates windows by. */
export function windowKey(r: Pick<WindowHeader, 'signal' | 'key' | 'windowStart'>): string {
  return `${r.signal}|${r.key}|${r.windowStart}`;
}
