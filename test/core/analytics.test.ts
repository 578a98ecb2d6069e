import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AnalyticsEngine,
  closedDecision,
  rejectionEvents,
  silencesToFlap,
  type UpdateRejectedMessage,
  DECISION_IDLE_MS,
  DEFAULT_ANALYTICS_OPTIONS,
  EventDeduplicator,
  eventKey,
  nearestRank,
  parseSwarmEvent,
  roundEvents,
  TaskJoin,
  windowKey,
  windowStartOf,
  type AnalyticsRecord,
  type RoundClosedEvent,
} from '../../core/analytics';
import { EXPECTED_WINDOWS, PHASE_0, PHASE_1, PHASE_2, PHASE_3, STREAM_OPTIONS, T0 } from '../support/analytics-stream';

function run(): { engine: AnalyticsEngine; records: Map<string, AnalyticsRecord> } {
  const engine = new AnalyticsEngine('s1', STREAM_OPTIONS);
  const records = new Map<string, AnalyticsRecord>();
  for (const m of [...PHASE_0, ...PHASE_1, ...PHASE_2, ...PHASE_3]) {
    for (const r of engine.ingest(m.source, m.payload, m.properties)) {
      expect(records.has(windowKey(r))).toBe(false);
      records.set(windowKey(r), r);
    }
  }
  return { engine, records };
}

const at = (records: Map<string, AnalyticsRecord>, signal: string, key: string, window: number) =>
  records.get(`${signal}|${key}|${T0 + window * STREAM_OPTIONS.windowMs}`);

describe('embedded analytics on a scripted stream', () => {
  const { engine, records } = run();

  it('closes exactly the windows the watermark passed, each once', () => {
    expect(records.size).toBe(EXPECTED_WINDOWS);
    for (const r of records.values()) {
      expect(r.schema).toBe('qp-analytics/1');
      expect(r.swarmId).toBe('s1');
      expect([T0, T0 + 10_000]).toContain(r.windowStart);
      expect(r.windowEnd - r.windowStart).toBe(10_000);
    }
  });

  it('reports per-agent energy (Wh), carbon (g) and mean load per window', () => {
    expect(at(records, 'agent-energy', 'a1', 0)).toMatchObject({ heartbeats: 3, energyWh: 6, carbonG: 0.6, meanLoad: 0.6 });
    expect(at(records, 'agent-energy', 'a2', 0)).toMatchObject({ heartbeats: 2, energyWh: 4, carbonG: 0.8, meanLoad: null });
    expect(at(records, 'agent-energy', 'a1', 1)).toMatchObject({ heartbeats: 1, energyWh: 0.5, carbonG: 0 });
  });

  it('reports the swarm power draw (W) and carbon intensity (g/kWh)', () => {
    expect(at(records, 'swarm-power', 'swarm', 0)).toMatchObject({
      agents: 3,
      energyWh: 10,
      carbonG: 1.4,
      meanPowerW: 3600,
      carbonIntensityGPerKWh: 140,
    });
    expect(at(records, 'swarm-power', 'swarm', 1)).toMatchObject({ agents: 2, meanPowerW: 180, carbonIntensityGPerKWh: 0 });
  });

  it('counts heartbeat gaps over the grace period as two flips and flags flapping above the threshold', () => {
    expect(at(records, 'heartbeat-liveness', 'a1', 0)).toMatchObject({ maxGapMs: 1000, gapsOverGrace: 0, flips: 0, flapping: false });
    expect(at(records, 'heartbeat-liveness', 'a2', 0)).toMatchObject({ maxGapMs: 8500, gapsOverGrace: 1, flips: 2, flapping: false });
    expect(at(records, 'heartbeat-liveness', 'a3', 0)).toMatchObject({ maxGapMs: 4000, gapsOverGrace: 2, flips: 4, flapping: true });
    // flips > threshold is CEP's rule: floor(threshold / 2) + 1 silences in the window
    expect([1, 2, 3, 4].map(silencesToFlap)).toEqual([1, 2, 2, 3]);
    // a gap that spans windows counts from the agent's last heartbeat of the earlier window
    expect(at(records, 'heartbeat-liveness', 'a1', 1)).toMatchObject({ maxGapMs: 9000, gapsOverGrace: 1 });
    expect(at(records, 'heartbeat-liveness', 'a2', 1)).toMatchObject({ maxGapMs: 3000, gapsOverGrace: 0 });
  });

  it('reports task latency percentiles and the deadline-miss rate per kind', () => {
    expect(at(records, 'task-latency', 'train', 0)).toMatchObject({
      tasks: 4,
      failed: 1,
      p50Ms: 200,
      p95Ms: 400,
      p99Ms: 400,
      deadlineMisses: 1,
      deadlineMissRate: 0.25,
    });
    expect(at(records, 'task-latency', 'eval', 1)).toMatchObject({ tasks: 1, p50Ms: 500, deadlineMisses: 0 });
  });

  it('reports each agent\'s straggler rate over the rounds closed in the window', () => {
    expect(at(records, 'stragglers', 'a1', 0)).toMatchObject({ rounds: 2, straggled: 0, stragglerRate: 0 });
    expect(at(records, 'stragglers', 'a2', 0)).toMatchObject({ rounds: 2, straggled: 1, stragglerRate: 0.5 });
    expect(at(records, 'stragglers', 'a3', 0)).toMatchObject({ rounds: 2, straggled: 2, stragglerRate: 1 });
  });

  it('flags a burst of update rejections per job', () => {
    // a3's two bad updates count; the retried collection's copy of the first does not
    expect(at(records, 'update-rejections', 'j1', 0)).toMatchObject({ rejections: 3, agents: 2, reasons: { norm: 2, proof: 1 }, burst: true });
    expect(at(records, 'update-rejections', 'j2', 0)).toMatchObject({ rejections: 2, agents: 2, reasons: { norm: 1, stale: 1 }, burst: false });
  });

  it('reports each decision\'s ballots and turnout: distinct voters so far over the eligible agents of its proposal', () => {
    // a1 voted twice (a vote change): two ballots, one voter
    expect(at(records, 'ballot-turnout', 'd1', 0)).toMatchObject({ ballots: 3, voters: 2, eligible: 3, turnout: 0.666667 });
    // a3's ballot in window 1; the voters of window 0 carry over
    expect(at(records, 'ballot-turnout', 'd1', 1)).toMatchObject({ ballots: 1, voters: 3, eligible: 3, turnout: 1 });
    expect(at(records, 'ballot-turnout', 'd2', 0)).toMatchObject({ ballots: 1, voters: 1, eligible: 2, turnout: 0.5 });
  });

  it('drops a decision\'s turnout state once the window of its outcome fired', () => {
    // d2 closed in window 0: a ballot cast after that starts over, without its proposal or voters
    expect(at(records, 'ballot-turnout', 'd2', 1)).toMatchObject({ ballots: 1, voters: 1, eligible: null, turnout: null });
    // d1 closed in window 1; d2's stray ballot has no proposal to carry: nothing is kept
    expect(engine.openDecisions).toBe(0);
  });

  it('counts bad, ignored and late events and skips them', () => {
    expect(engine.counters).toMatchObject({ malformed: 1, invalid: 1, ignored: 1, late: 2, unmatched: 1, unknownAgent: 1, duplicate: 3, windowsEmitted: EXPECTED_WINDOWS });
    // the late heartbeat's 100 Wh is in no window
    expect(at(records, 'agent-energy', 'a1', 0)).toMatchObject({ energyWh: 6 });
  });
});

describe('the task join (dispatch + outcome)', () => {
  const dispatch = (taskId: string, at: number, agentId = 'a1', attempt = 1) =>
    ({ kind: 'task-dispatched', taskId, attempt, taskKind: 'k', agentId, at, deadlineAt: at + 1000 }) as const;
  const answer = (taskId: string, at: number, agentId = 'a1', attempt = 1) => ({ kind: 'task-outcome', taskId, attempt, agentId, at, outcome: 'succeeded' }) as const;

  it('pairs an attempt whichever half comes first, at the outcome time (never before the dispatch)', () => {
    const join = new TaskJoin(1000);
    expect(join.offer(answer('t', 50))).toEqual({ unmatched: 0 });
    expect(join.offer(dispatch('t', 10)).joined).toMatchObject({ taskId: 't', dispatchedAt: 10, at: 50, deadlineAt: 1010 });
    // agent clock behind the manager's
    expect(join.offer(dispatch('u', 100)).joined).toBeUndefined();
    expect(join.offer(answer('u', 90)).joined).toMatchObject({ dispatchedAt: 100, at: 100 });
    expect(join.waiting).toEqual({ dispatches: 0, outcomes: 0 });
  });

  it('keeps attempts apart, drops an outcome from another agent and a repeated one, and forgets halves past the horizon', () => {
    const join = new TaskJoin(1000);
    join.offer(dispatch('t', 0, 'a1', 1));
    expect(join.offer(answer('t', 10, 'a1', 2))).toEqual({ unmatched: 0 });
    expect(join.offer(answer('t', 10, 'a1', 2))).toEqual({ unmatched: 1 });
    expect(join.offer(answer('t', 20, 'a2', 1))).toEqual({ unmatched: 1 });
    expect(join.waiting).toEqual({ dispatches: 0, outcomes: 1 });
    // attempt 2's outcome waited more than the horizon of task event time
    expect(join.offer(dispatch('v', 5000))).toEqual({ unmatched: 1 });
    expect(join.waiting).toEqual({ dispatches: 1, outcomes: 0 });
  });
});

describe('round events for the analytics', () => {
  it('names the participants that did not report as stragglers and reports refusals with a usable sender', () => {
    const events = roundEvents({
      jobId: 'j1',
      round: 3,
      attempt: 2,
      status: 'aggregated',
      participants: ['a1', 'a2', 'a3'],
      reported: ['a2'],
      refused: [
        { reason: 'stale', agentId: 'a3', at: 7 },
        // a header that named no sender, or one the analytics could not window
        { reason: 'malformed', at: 8 },
        { reason: 'bad-proof', agentId: 'not an id', at: 9 },
      ],
      closedAt: 10,
    });
    expect(events).toEqual([
      { type: 'round-closed', jobId: 'j1', round: 3, attempt: 2, closedAt: 10, status: 'aggregated', participants: ['a1', 'a2', 'a3'], stragglers: ['a1', 'a3'] },
      { type: 'update-rejected', jobId: 'j1', round: 3, agentId: 'a3', reason: 'stale', rejectedAt: 7, attempt: 2, seq: 1 },
    ]);
    // and the analytics read them as they are published
    const engine = new AnalyticsEngine('s', { ...STREAM_OPTIONS, latenessMs: 0 });
    for (const e of events) engine.ingest('rounds', JSON.stringify(e));
    expect(engine.counters).toMatchObject({ accepted: 2, invalid: 0, ignored: 0 });
  });
});

describe('round-closed deduplication (at-least-once events)', () => {
  const closed = (round: number, attempt: number, at: number): RoundClosedEvent => ({ kind: 'round-closed', jobId: 'j', round, attempt, at, participants: ['a1'], stragglers: [] });

  it('keeps the first copy of a (job, round, attempt) and forgets keys older than the horizon', () => {
    const dedup = new EventDeduplicator(1000);
    expect(dedup.first(closed(1, 1, 0))).toBe(true);
    // a retried activity's copy, later
    expect(dedup.first(closed(1, 1, 300))).toBe(false);
    // another attempt or round is another closing
    expect(dedup.first(closed(1, 2, 400))).toBe(true);
    expect(dedup.first(closed(2, 1, 500))).toBe(true);
    expect(dedup.size).toBe(3);
    // more than the horizon later: the first round's keys are forgotten
    expect(dedup.first(closed(3, 1, 1450))).toBe(true);
    expect(dedup.size).toBe(2);
  });

  it('counts a repeated round once in the straggler rate and counts the repeat', () => {
    const engine = new AnalyticsEngine('s', { ...STREAM_OPTIONS, latenessMs: 0 });
    const msg = (closedAt: number) => JSON.stringify({ type: 'round-closed', jobId: 'j', round: 1, attempt: 1, closedAt, participants: ['a1', 'a2'], stragglers: ['a2'] });
    engine.ingest('rounds', msg(T0 + 100));
    engine.ingest('rounds', msg(T0 + 900));
    engine.ingest('roster', JSON.stringify({ type: 'agent-registered', agentId: 'a1', registeredAt: T0 }));
    const out = engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + 20_000 }));
    expect(out.filter((r) => r.signal === 'stragglers')).toEqual([
      expect.objectContaining({ key: 'a1', rounds: 1, straggled: 0 }),
      expect.objectContaining({ key: 'a2', rounds: 1, straggled: 1, stragglerRate: 1 }),
    ]);
    // accepted: the round once and the heartbeat
    expect(engine.counters).toMatchObject({ duplicate: 1, accepted: 2 });
  });
});

describe('update-rejected deduplication (a retried collection refuses the same updates again)', () => {
  const refusals = (at: number) => [
    { reason: 'norm', agentId: 'a1', at },
    { reason: 'norm', agentId: 'a1', at: at + 1 },
    { reason: 'proof', agentId: 'a1', at: at + 2 },
    { reason: 'norm', agentId: 'a2', at: at + 3 },
  ];

  it('names each refusal of an attempt by its rank per agent and reason, the same on a retry', () => {
    const first = rejectionEvents('j', 4, refusals(T0), 1);
    expect(first.map((e) => `${e.agentId}|${e.reason}|${e.attempt}|${e.seq}`)).toEqual(['a1|norm|1|1', 'a1|norm|1|2', 'a1|proof|1|1', 'a2|norm|1|1']);
    const retried = rejectionEvents('j', 4, refusals(T0 + 500), 1);
    expect(retried.map((e) => e.seq)).toEqual(first.map((e) => e.seq));
    // asynchronous jobs publish without an attempt: no name
    expect(rejectionEvents('j', 4, refusals(T0)).every((e) => e.attempt === undefined && e.seq === undefined)).toBe(true);
  });

  it('counts a retried collection\'s refusals once in the window, and two bad updates of one agent twice', () => {
    const engine = new AnalyticsEngine('s', { ...STREAM_OPTIONS, latenessMs: 0 });
    engine.ingest('roster', JSON.stringify({ type: 'agent-registered', agentId: 'a1', registeredAt: T0 }));
    const publish = (events: UpdateRejectedMessage[]) => events.flatMap((e) => engine.ingest('rounds', JSON.stringify(e)));
    publish(rejectionEvents('j', 4, refusals(T0), 1));
    publish(rejectionEvents('j', 4, refusals(T0 + 500), 1));
    // another attempt's refusals are other refusals
    publish(rejectionEvents('j', 4, refusals(T0 + 1000).slice(0, 1), 2));
    const out = engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + 20_000 }));
    expect(out.find((r) => r.signal === 'update-rejections')).toMatchObject({ key: 'j', rejections: 5, agents: 2, reasons: { norm: 4, proof: 1 } });
    expect(engine.counters.duplicate).toBe(4);
    // unnamed rejections are never repeats
    const unnamed = new EventDeduplicator(1000);
    const event = { kind: 'update-rejected', jobId: 'j', round: 1, agentId: 'a1', reason: 'norm', at: 0 } as const;
    expect([unnamed.first(event), unnamed.first(event), unnamed.size]).toEqual([true, true, 0]);
  });

  it('counts an asynchronous job\'s refusal once when its redelivered update is refused again, named by the update\'s message id', () => {
    const engine = new AnalyticsEngine('s', { ...STREAM_OPTIONS, latenessMs: 0 });
    engine.ingest('roster', JSON.stringify({ type: 'agent-registered', agentId: 'a1', registeredAt: T0 }));
    const refused = (at: number) => [
      { reason: 'stale', agentId: 'a1', at, updateId: '7:1:-1:-1' },
      { reason: 'norm', agentId: 'a1', at: at + 1, updateId: '7:2:-1:-1' },
      // another message with the same sender and reason: another refusal
      { reason: 'norm', agentId: 'a1', at: at + 2, updateId: '7:3:-1:-1' },
    ];
    // no attempt (asynchronous): the events carry the message ids
    const first = rejectionEvents('j', 3, refused(T0));
    expect(first.map((e) => [e.updateId, e.attempt, e.seq])).toEqual([['7:1:-1:-1', undefined, undefined], ['7:2:-1:-1', undefined, undefined], ['7:3:-1:-1', undefined, undefined]]);
    for (const e of first) engine.ingest('rounds', JSON.stringify(e));
    // the collection retried after it published: the same messages come back and are refused again, later
    for (const e of rejectionEvents('j', 3, refused(T0 + 700))) engine.ingest('rounds', JSON.stringify(e));
    // the drain of a cancelled job judges one of them again, as the version before
    for (const e of rejectionEvents('j', 2, [{ reason: 'after-finish', agentId: 'a1', at: T0 + 900, updateId: '7:2:-1:-1' }])) engine.ingest('rounds', JSON.stringify(e));
    const out = engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + 20_000 }));
    expect(out.find((r) => r.signal === 'update-rejections')).toMatchObject({ key: 'j', rejections: 3, agents: 1, reasons: { stale: 1, norm: 2 } });
    expect(engine.counters.duplicate).toBe(4);
    // the same message id in another job is another refusal
    expect(eventKey({ kind: 'update-rejected', jobId: 'k', round: 3, agentId: 'a1', reason: 'norm', at: 0, updateId: '7:2:-1:-1' })).toBe('update-rejected|k|update|7:2:-1:-1');
  });

  it('refuses a rejection whose message id is not a string of 1 to 256 characters', () => {
    const base = { type: 'update-rejected', jobId: 'j', round: 1, agentId: 'a1', reason: 'norm', rejectedAt: 5 };
    for (const updateId of ['', 'x'.repeat(257), 42, null]) {
      expect(parseSwarmEvent('rounds', JSON.stringify({ ...base, updateId }))).toEqual({ ok: false, reason: 'invalid' });
    }
    expect(parseSwarmEvent('rounds', JSON.stringify({ ...base, updateId: 'x'.repeat(256) }))).toMatchObject({ ok: true, event: { updateId: 'x'.repeat(256) } });
  });

  it('refuses a rejection whose attempt or seq is not a positive integer', () => {
    const base = { type: 'update-rejected', jobId: 'j', round: 1, agentId: 'a1', reason: 'norm', rejectedAt: 5 };
    expect(parseSwarmEvent('rounds', JSON.stringify({ ...base, attempt: 1, seq: 0 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(parseSwarmEvent('rounds', JSON.stringify({ ...base, attempt: 'x', seq: 1 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(parseSwarmEvent('rounds', JSON.stringify({ ...base, attempt: 2, seq: 3 }))).toMatchObject({ ok: true, event: { attempt: 2, seq: 3 } });
  });
});

describe('decision turnout state', () => {
  it('is kept while the decision is open and dropped with the window of its outcome', () => {
    const engine = new AnalyticsEngine('s', { ...STREAM_OPTIONS, latenessMs: 0 });
    engine.ingest('roster', JSON.stringify({ type: 'agent-registered', agentId: 'a1', registeredAt: T0 }));
    const open = (id: string) => engine.ingest('control', JSON.stringify({ type: 'decision-proposal', decisionId: id, opensAt: T0 + 10, voters: 1 }));
    open('d1');
    open('d2');
    engine.ingest('ballots', JSON.stringify({ decisionId: 'd1', agentId: 'a1', castAt: T0 + 20 }));
    engine.ingest('control', JSON.stringify({ type: 'decision-outcome', decisionId: 'd1', state: 'SUCCEEDED', closedAt: T0 + 30 }));
    expect(closedDecision(JSON.stringify({ type: 'decision-outcome', decisionId: 'd1', closedAt: T0 + 30 }))).toBe('d1');
    const out = engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + 10_000 }));
    // the closing window still reports d1's final turnout
    expect(out.find((r) => r.key === 'd1')).toMatchObject({ signal: 'ballot-turnout', ballots: 1, voters: 1, eligible: 1, turnout: 1 });
    // d2 is still open
    expect(engine.openDecisions).toBe(1);
    engine.ingest('control', JSON.stringify({ type: 'decision-outcome', decisionId: 'd2', state: 'CANCELLED', closedAt: T0 + 10_500 }));
    engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + 20_000 }));
    expect(engine.openDecisions).toBe(0);
  });
});

describe('decision turnout state without an outcome', () => {
  // the scenario of analytics/src/test/java/qp/analytics/TurnoutTest.java: windows of 10 s, idle time 30 s
  const options = { ...STREAM_OPTIONS, latenessMs: 0, decisionIdleMs: 30_000 };
  const setUp = () => {
    const engine = new AnalyticsEngine('s', options);
    for (const agentId of ['a1', 'a2', 'a3']) engine.ingest('roster', JSON.stringify({ type: 'agent-registered', agentId, registeredAt: T0 }));
    const records: string[] = [];
    const take = (out: AnalyticsRecord[]) => {
      for (const r of out) if (r.signal === 'ballot-turnout') records.push(`${r.key}@${r.windowStart - T0} ${r.voters}/${r.eligible}`);
    };
    return {
      engine,
      open: (id: string, dt: number, voters: number) => take(engine.ingest('control', JSON.stringify({ type: 'decision-proposal', decisionId: id, opensAt: T0 + dt, voters }))),
      vote: (id: string, agentId: string, dt: number) => take(engine.ingest('ballots', JSON.stringify({ decisionId: id, agentId, castAt: T0 + dt }))),
      /** Moves the watermark to T0 + dt - 1 with a heartbeat. */
      watermark: (dt: number) => take(engine.ingest('heartbeats', JSON.stringify({ agentId: 'a1', sentAt: T0 + dt + 1 }))),
      took: () => records.splice(0).sort(),
    };
  };

  it('is dropped once the decision was idle for decisionIdleMs after its last window, while an active one keeps it', () => {
    const { engine, open, vote, watermark, took } = setUp();
    open('d1', 1_000, 3);
    vote('d1', 'a1', 2_000);
    open('d2', 1_000, 3);
    vote('d2', 'a1', 2_000);
    watermark(9_999);
    expect(took()).toEqual(['d1@0 1/3', 'd2@0 1/3']);
    expect(engine.openDecisions).toBe(2);
    vote('d2', 'a2', 21_000);
    // d1's last window ended at 10 000: at watermark 9 999 + 30 000 it is idle
    watermark(39_999);
    expect(took()).toEqual(['d2@20000 2/3']);
    expect(engine.openDecisions).toBe(1);
    vote('d2', 'a3', 41_000);
    vote('d1', 'a2', 45_000);
    watermark(49_999);
    // d1 starts over, as a decision whose proposal was not read; d2 kept its voters and eligible
    expect(took()).toEqual(['d1@40000 1/null', 'd2@40000 3/3']);
    watermark(49_999 + 30_000);
    expect(engine.openDecisions).toBe(0);
  });

  it('is dropped when the decision\'s next window fires at the idle clean-up time too', () => {
    const { vote, open, watermark, took } = setUp();
    open('d1', 1_000, 2);
    vote('d1', 'a1', 2_000);
    watermark(9_999);
    took();
    vote('d1', 'a2', 35_000);
    watermark(39_999);
    expect(took()).toEqual(['d1@30000 1/null']);
  });

  it('defaults to 7 days in both runtimes', () => {
    expect(DECISION_IDLE_MS).toBe(7 * 24 * 3_600_000);
    expect(DEFAULT_ANALYTICS_OPTIONS.decisionIdleMs).toBe(DECISION_IDLE_MS);
    const java = readFileSync(join(__dirname, '..', '..', 'analytics/src/main/java/qp/analytics/AnalyticsJob.java'), 'utf8');
    expect(Number(/static final long IDLE_MS = ([0-9_]+)L;/.exec(java)?.[1].replace(/_/g, ''))).toBe(DECISION_IDLE_MS);
  });
});

describe('analytics building blocks', () => {
  it('aligns tumbling windows to the epoch', () => {
    expect(windowStartOf(T0 + 9_999, 10_000)).toBe(T0);
    expect(windowStartOf(T0 + 10_000, 10_000)).toBe(T0 + 10_000);
  });

  it('takes nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(nearestRank(v, 50)).toBe(50);
    expect(nearestRank(v, 99)).toBe(99);
    expect(nearestRank([7], 99)).toBe(7);
  });

  it('refuses events that break their schema and ignores other message types', () => {
    expect(parseSwarmEvent('heartbeats', JSON.stringify({ agentId: 'a', sentAt: 1, load: 2 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(parseSwarmEvent('heartbeats', '[1]')).toEqual({ ok: false, reason: 'malformed' });
    expect(parseSwarmEvent('rounds', JSON.stringify({ type: 'round-started' }))).toEqual({ ok: false, reason: 'ignored' });
    const outcome = { type: 'task-outcome', taskId: 't', attempt: 1, agentId: 'a', outcome: 'succeeded' };
    // a task outcome's time is its proof header sentAt
    expect(parseSwarmEvent('task-results', JSON.stringify(outcome))).toEqual({ ok: false, reason: 'invalid' });
    expect(parseSwarmEvent('task-results', JSON.stringify(outcome), { sentAt: '12' })).toMatchObject({ ok: true, event: { kind: 'task-outcome', at: 12 } });
    expect(parseSwarmEvent('task-results', JSON.stringify({ ...outcome, outcome: 'declined' }), { sentAt: '12' })).toEqual({ ok: false, reason: 'ignored' });
    expect(parseSwarmEvent('task-results', JSON.stringify({ type: 'task-bid', taskId: 't' }))).toEqual({ ok: false, reason: 'ignored' });
    expect(parseSwarmEvent('tasks', JSON.stringify({ type: 'task-dispatched', taskId: 't', attempt: 0, kind: 'k', agentId: 'a', dispatchedAt: 1, deadlineMs: 2 }))).toEqual({
      ok: false,
      reason: 'invalid',
    });
  });
});
