// A scripted swarm event stream with known answers, fed to the embedded analytics (unit test) and
// through Pulsar -> Flink -> Pulsar (integration test). Phases are published one after another:
// within a phase every event is within the lateness bound of every other, so the order in which
// Flink interleaves the topics cannot change a result; between phases the test waits until
// the earlier windows are out, so the late events of phase 3 are late for both.
import type { AnalyticsOptions, AnalyticsSource } from '../../core/analytics';

export const T0 = 1_700_000_000_000;

export const STREAM_OPTIONS: AnalyticsOptions = {
  windowMs: 10_000,
  latenessMs: 15_000,
  graceMs: 3_000,
  flapThreshold: 2,
  burstThreshold: 3,
};

export interface ScriptedMessage {
  source: AnalyticsSource;
  payload: string;
  properties?: Record<string, string>;
  /** The topic's name under swarm/<id>/ when it is not the source's (a decision's ballots). */
  topic?: string;
}

/** The topic name (under swarm/<id>/) a scripted message is published on. */
export const topicOf = (m: ScriptedMessage): string => m.topic ?? m.source;

/** Every input topic of the stream: the analytics subscription must have read them all. */
export const STREAM_TOPICS = ['heartbeats', 'tasks', 'task-results', 'rounds', 'roster', 'control', 'decision-d1', 'decision-d2'];

/** A decision's proposal on the control topic (the decision workflow's announcement), eligible = voters. */
const proposal = (decisionId: string, dt: number, voters: number): ScriptedMessage => ({
  source: 'control',
  payload: JSON.stringify({
    type: 'decision-proposal',
    decisionId,
    swarmId: 's',
    title: 't',
    options: ['yes', 'no'],
    system: 'basic',
    ballotTopic: `swarm/s/decision-${decisionId}`,
    opensAt: T0 + dt,
    closesAt: T0 + 60_000,
    allowVoteChange: true,
    voters,
    totalPower: voters,
  }),
  properties: { type: 'decision-proposal', decisionId },
});
/** The decision workflow's outcome on the control topic: voting closed at closedAt. */
const decisionOutcome = (decisionId: string, dt: number): ScriptedMessage => ({
  source: 'control',
  payload: JSON.stringify({
    type: 'decision-outcome',
    decisionId,
    swarmId: 's',
    state: 'SUCCEEDED',
    winner: 'yes',
    tally: { counts: { yes: 1 }, turnout: 1 },
    quorumPower: 1,
    closedBy: 'deadline',
    closedAt: T0 + dt,
  }),
  properties: { type: 'decision-outcome', decisionId },
});
/** A signed ballot as agents publish it on the decision's topic (the signature is not the analytics' to check). */
const ballot = (decisionId: string, agentId: string, dt: number, choice: string): ScriptedMessage => ({
  source: 'ballots',
  topic: `decision-${decisionId}`,
  payload: JSON.stringify({ decisionId, agentId, choice, castAt: T0 + dt, signature: 'AA' }),
  properties: { type: 'ballot' },
});

const hb = (agentId: string, dt: number, extra: Record<string, number> = {}): ScriptedMessage => ({
  source: 'heartbeats',
  payload: JSON.stringify({ agentId, sentAt: T0 + dt, ...extra }),
});
/** An agent's task outcome as activities/tasks.ts reads it: payload, and the proof headers' agentId and sentAt. */
export const outcome = (taskId: string, agentId: string, sentAt: number, result: string, attempt = 1): ScriptedMessage => ({
  source: 'task-results',
  payload: JSON.stringify({ type: 'task-outcome', taskId, attempt, agentId, outcome: result }),
  properties: { type: 'task-outcome', agentId, sentAt: String(sentAt), proof: 'AA' },
});
/** The manager's dispatch of attempt 1 to a1, then a1's outcome (deadline far out unless given). */
const task = (taskId: string, kind: string, d: number, c: number, extra: { deadlineAt?: number; outcome?: string } = {}): ScriptedMessage[] => [
  {
    source: 'tasks',
    payload: JSON.stringify({ type: 'task-dispatched', taskId, attempt: 1, kind, agentId: 'a1', dispatchedAt: T0 + d, deadlineMs: extra.deadlineAt ?? T0 + 60_000 }),
  },
  outcome(taskId, 'a1', T0 + c, extra.outcome ?? 'succeeded'),
];
/** A refused update; named by (attempt, seq), or by its update's message id (asynchronous jobs), so that a retried collection's copy is dropped. */
const rejected = (jobId: string, agentId: string, reason: string, dt: number, name?: { attempt: number; seq: number } | { updateId: string }): ScriptedMessage => ({
  source: 'rounds',
  payload: JSON.stringify({ type: 'update-rejected', jobId, round: 2, agentId, reason, rejectedAt: T0 + dt, ...name }),
});

/** The manager's roster notes, as issueAgentCredential publishes them (registration, generation 1). */
export const registered = (agentId: string, at = T0 - 60_000): ScriptedMessage => ({
  source: 'roster',
  payload: JSON.stringify({ type: 'agent-registered', agentId, generation: 1, registeredAt: at }),
});

/** Phase 0: the swarm's agents (read before anything they publish). */
export const PHASE_0: ScriptedMessage[] = [registered('a1'), registered('a2'), registered('a3')];

/** Phase 1: windows 0 and 1, with one malformed, one invalid, one ignored message, one heartbeat of an unknown agent and one repeated round-closed. */
export const PHASE_1: ScriptedMessage[] = [
  hb('a1', 0, { energyUsedWh: 1, carbonIntensityGPerKWh: 100, load: 0.5 }),
  hb('a3', 0),
  hb('a2', 500, { energyUsedWh: 4, carbonIntensityGPerKWh: 200 }),
  hb('a1', 1000, { energyUsedWh: 2, carbonIntensityGPerKWh: 100, load: 0.7 }),
  { source: 'heartbeats', payload: '{not json' },
  hb('a1', 2000, { energyUsedWh: 3, carbonIntensityGPerKWh: 100 }),
  { source: 'heartbeats', payload: JSON.stringify({ agentId: 'bad id!', sentAt: T0 + 100 }) },
  hb('a3', 4000),
  // not on the roster: counted and skipped
  hb('ghost', 4500, { energyUsedWh: 50 }),
  hb('a3', 8000),
  hb('a2', 9000),
  hb('a1', 11_000, { energyUsedWh: 0.5 }),
  hb('a2', 12_000),
  ...task('t1', 'train', 0, 100, { deadlineAt: T0 + 1000 }),
  // the outcome read before its dispatch: the join waits for either half
  ...task('t2', 'train', 1000, 1200, { deadlineAt: T0 + 1100 }).reverse(),
  { ...outcome('t1', 'a1', T0 + 50, 'progress'), payload: JSON.stringify({ type: 'task-outcome', taskId: 't1', attempt: 1, agentId: 'a1', outcome: 'progress', progress: 0.5 }) },
  ...task('t3', 'train', 2000, 2300),
  ...task('t4', 'train', 3000, 3400, { outcome: 'failed' }),
  ...task('t5', 'eval', 11_000, 11_500, { deadlineAt: T0 + 12_000 }),
  // an outcome from an agent the attempt did not go to: unmatched
  task('t7', 'train', 3000, 3100)[0],
  outcome('t7', 'a2', T0 + 3100, 'succeeded'),
  {
    source: 'rounds',
    payload: JSON.stringify({ type: 'round-closed', jobId: 'j1', round: 1, attempt: 1, closedAt: T0 + 5000, participants: ['a1', 'a2', 'a3'], stragglers: ['a3'] }),
  },
  // the same closing again, as a tuning activity retried after publishing sends it (later closedAt): counted once
  {
    source: 'rounds',
    payload: JSON.stringify({ type: 'round-closed', jobId: 'j1', round: 1, attempt: 1, closedAt: T0 + 5400, participants: ['a1', 'a2', 'a3'], stragglers: ['a3'] }),
  },
  {
    source: 'rounds',
    payload: JSON.stringify({ type: 'round-closed', jobId: 'j1', round: 2, attempt: 1, closedAt: T0 + 6000, participants: ['a1', 'a2'], stragglers: ['a2', 'a3'] }),
  },
  // a3 sent the same bad update twice (seq 1 and 2: both count); the retried collection refuses a3's first again: counted once
  rejected('j1', 'a3', 'norm', 6100, { attempt: 1, seq: 1 }),
  rejected('j1', 'a3', 'norm', 6200, { attempt: 1, seq: 2 }),
  rejected('j1', 'a2', 'proof', 6300, { attempt: 1, seq: 1 }),
  rejected('j1', 'a3', 'norm', 6600, { attempt: 1, seq: 1 }),
  // without a name (an older publisher's): never taken for a repeat
  rejected('j2', 'a1', 'norm', 7000),
  // an asynchronous job's refusal, named by its update's message id, and the copy of a retried collection the update was redelivered to: counted once
  rejected('j2', 'a2', 'stale', 7100, { updateId: '12:3:-1:-1' }),
  rejected('j2', 'a2', 'stale', 7700, { updateId: '12:3:-1:-1' }),
  // decision d1: 3 eligible voters; a1 changes its vote; a3 votes in window 1
  proposal('d1', 1000, 3),
  ballot('d1', 'a1', 1500, 'yes'),
  ballot('d1', 'a2', 2000, 'no'),
  ballot('d1', 'a1', 2500, 'no'),
  ballot('d1', 'a3', 11_500, 'yes'),
  // d1 closes in window 1, d2 (2 eligible, a1 voted) in window 0: their turnout state is dropped after those windows
  decisionOutcome('d1', 12_000),
  proposal('d2', 3000, 2),
  ballot('d2', 'a1', 3500, 'yes'),
  decisionOutcome('d2', 4000),
];

/** A ballot of d2 cast after its voting closed (refused by the decision): Flink, reading every decision topic, starts d2 over without its state; the embedded runtime released d2's topic and does not read it. */
export const STRAY_BALLOT: ScriptedMessage = ballot('d2', 'a2', 13_000, 'no');

/** Phase 2: moves the watermark past window 0 (T0 + 26 s - 15 s - 1 ms), and d2's stray ballot. */
export const PHASE_2: ScriptedMessage[] = [hb('a1', 26_000), STRAY_BALLOT];

/** Phase 3: two late events (window 0 is out), then one that moves the watermark past window 1. */
export const PHASE_3: ScriptedMessage[] = [hb('a1', 3000, { energyUsedWh: 100 }), ...task('t6', 'train', 2400, 2500), hb('a2', 40_000)];

/** Records of window 0 (window 1 has 8). */
export const WINDOW_0_RECORDS = 15;

/** Windows the stream closes: 15 records for window 0, 8 for window 1 (7 without the stray ballot). */
export const EXPECTED_WINDOWS = 23;
