// The analytics job on the real Flink cluster and the real Pulsar broker: a scripted stream with
// known answers goes Pulsar -> Flink -> Pulsar and must come out as the embedded (TypeScript)
// analytics compute it, window for window; then the job is upgraded with a savepoint and keeps
// its state.
import { analyticsJobSpec } from '../adapters/flink/analytics-job';
import { FlinkRest } from '../adapters/flink/rest';
import type { Consumer } from '../adapters/ports';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { AnalyticsEngine, windowKey, type AnalyticsRecord } from '../core/analytics';
import { analyticsTopics } from '../core/analytics/topics';
import { EXPECTED_WINDOWS, PHASE_0, PHASE_1, PHASE_2, PHASE_3, STREAM_OPTIONS, STREAM_TOPICS, T0, WINDOW_0_RECORDS, topicOf, type ScriptedMessage } from './support/analytics-stream';
import { requireTestFlink } from './support/flink';
import { sharedPulsarOptions } from './support/pulsar';
import { uniqueId, waitFor } from './support/stack';
import { consumed } from './support/flink';

jest.setTimeout(300_000);

describe('analytics on Flink: Pulsar -> Flink -> Pulsar', () => {
  const swarmId = uniqueId('an');
  let flink: FlinkRest;
  let messaging: PulsarMessaging;
  let results: Consumer;
  let jarPath: string;
  const received = new Map<string, AnalyticsRecord>();
  let duplicates = 0;
  const jobIds: string[] = [];
  const engine = new AnalyticsEngine(swarmId, STREAM_OPTIONS);
  const expected = new Map<string, AnalyticsRecord>();

  const spec = (overrides: Partial<typeof STREAM_OPTIONS> = {}) =>
    analyticsJobSpec({
      swarmId,
      tenant: 'qp-test',
      pulsarServiceUrl: process.env.QP_TEST_PULSAR_URL!,
      pulsarAdminUrl: process.env.QP_TEST_PULSAR_ADMIN_URL!,
      jarPath,
      options: { ...STREAM_OPTIONS, ...overrides },
      checkpointMs: 1000,
      discoveryMs: 1000,
    });

  async function publish(phase: ScriptedMessage[]): Promise<void> {
    for (const m of phase) {
      await messaging.publish(`swarm/${swarmId}/${topicOf(m)}`, Buffer.from(m.payload), { properties: m.properties ?? {} });
      for (const r of engine.ingest(m.source, m.payload, m.properties)) expected.set(windowKey(r), r);
    }
  }

  async function drain(): Promise<void> {
    for (let m = await results.receive(200); m; m = await results.receive(50)) {
      const record = JSON.parse(Buffer.from(m.payload).toString('utf8')) as AnalyticsRecord;
      if (received.has(windowKey(record))) duplicates++;
      else received.set(windowKey(record), record);
      await results.ack(m);
    }
  }

  const windowCount = (start: number) => [...received.values()].filter((r) => r.windowStart === start).length;

  beforeAll(async () => {
    const target = requireTestFlink();
    jarPath = target.jarPath;
    flink = new FlinkRest({ url: target.url });
    messaging = new PulsarMessaging(sharedPulsarOptions());
    await messaging.prepareSwarm(swarmId, [...STREAM_TOPICS, 'analytics']);
    results = await messaging.subscribe(analyticsTopics(swarmId).analytics, 'test', { initialPosition: 'earliest' });
  });

  afterAll(async () => {
    for (const jobId of jobIds) await flink?.cancel(jobId).catch(() => undefined);
    await results?.close();
    await messaging?.close();
  });

  it('submits the job once: a second submission of the same name and version leaves it alone', async () => {
    const first = await flink.ensure(spec());
    jobIds.push(first.jobId);
    expect(first.action).toBe('submitted');
    const again = await flink.ensure(spec());
    expect(again).toEqual({ action: 'unchanged', jobId: first.jobId });
    const running = (await flink.list()).filter((j) => j.name === `qp-analytics/${swarmId}` && j.state === 'RUNNING');
    expect(running).toHaveLength(1);
  });

  it('computes every signal of the scripted stream exactly as the embedded analytics do', async () => {
    // the roster first: the agents' events count only once Flink has read it
    await publish(PHASE_0);
    await waitFor('Flink to consume the roster', () => consumed(messaging, swarmId, STREAM_TOPICS), 120_000, 250);
    await publish(PHASE_1);
    // Flink reads the four topics in no fixed interleaving: phase 2 goes out once its subscription
    // has taken all of phase 1 (acknowledged at a checkpoint), so no phase-1 event can be late.
    await waitFor('Flink to consume phase 1', () => consumed(messaging, swarmId, STREAM_TOPICS), 120_000, 250);
    await publish(PHASE_2);
    // window 0 is out once its records arrived: the late events of phase 3 are late for Flink too
    await waitFor('window 0 from Flink', async () => (await drain(), windowCount(T0) >= WINDOW_0_RECORDS || undefined), 120_000, 200);
    await publish(PHASE_3);
    await waitFor('window 1 from Flink', async () => (await drain(), received.size >= EXPECTED_WINDOWS || undefined), 60_000, 200);
    expect(expected.size).toBe(EXPECTED_WINDOWS);
    expect(engine.counters).toMatchObject({ malformed: 1, invalid: 1, ignored: 1, late: 2, unmatched: 1, unknownAgent: 1, duplicate: 3 });
    expect(Object.fromEntries(received)).toEqual(Object.fromEntries(expected));
    // d2 closed in window 0: its keyed state is gone, so a ballot cast after the closing starts over
    expect(received.get(`ballot-turnout|d2|${T0}`)).toMatchObject({ ballots: 1, voters: 1, eligible: 2, turnout: 0.5 });
    expect(received.get(`ballot-turnout|d2|${T0 + 10_000}`)).toMatchObject({ ballots: 1, voters: 1, eligible: null, turnout: null });
    // a retried collection's copy of a refusal counted once (an asynchronous job's too, named by its update's message id)
    expect(received.get(`update-rejections|j1|${T0}`)).toMatchObject({ rejections: 3, reasons: { norm: 2, proof: 1 } });
    expect(received.get(`update-rejections|j2|${T0}`)).toMatchObject({ rejections: 2, reasons: { norm: 1, stale: 1 } });
    expect(received.get(`heartbeat-liveness|a3|${T0}`)).toMatchObject({ flips: 4, flapping: true });
    // round 1 of j1 was published twice (a retried activity): each agent's rounds count it once
    for (const agentId of ['a1', 'a2', 'a3']) expect(received.get(`stragglers|${agentId}|${T0}`)).toMatchObject({ rounds: 2 });
    expect(duplicates).toBe(0);
  });

  it('counts malformed, invalid, unmatched, unknown-agent and repeated events, and flapping agents by CEP, and keeps running', async () => {
    const jobId = jobIds[0];
    await waitFor('bad-event counters', async () => ((await flink.metric(jobId, 'qpMalformedEvents')) === 1 ? true : undefined), 30_000, 500);
    expect(await flink.metric(jobId, 'qpInvalidEvents')).toBe(1);
    expect(await flink.metric(jobId, 'qpIgnoredEvents')).toBe(1);
    expect(await flink.metric(jobId, 'qpUnmatchedOutcomes')).toBe(1);
    expect(await flink.metric(jobId, 'qpUnknownAgents')).toBe(1);
    expect(await flink.metric(jobId, 'qpDuplicateEvents')).toBe(3);
    // d1 and d2 closed: the turnout windows that saw their outcomes cleared their state
    await waitFor('both decisions closed', async () => ((await flink.metric(jobId, 'qpClosedDecisions')) === 2 ? true : undefined), 60_000, 500);
    // Flink CEP's flapping (two silences over the grace period: 4 flips > 2): a3 in window 0 only,
    // the published flag of the liveness records
    await waitFor('the CEP flapping count', async () => ((await flink.metric(jobId, 'qpFlappingAgents')) === 1 ? true : undefined), 60_000, 500);
    const flapping = [...received.values()].filter((r) => r.signal === 'heartbeat-liveness' && r.flapping);
    expect(flapping.map((r) => `${r.key}|${r.windowStart}`)).toEqual([`a3|${T0}`]);
    expect((await flink.list()).find((j) => j.jobId === jobId)?.state).toBe('RUNNING');
  });

  it('rolls a new version with a savepoint: windows and per-agent state carry over, none is emitted twice', async () => {
    // every state of the savepoint must find its operator (stable uids): nothing may be dropped
    const upgrade = await flink.ensure({ ...spec({ burstThreshold: 4 }), allowNonRestoredState: false });
    jobIds.push(upgrade.jobId);
    expect(upgrade.action).toBe('upgraded');
    expect(upgrade.savepoint).toMatch(/savepoint/);
    const jobs = await flink.list();
    expect(jobs.find((j) => j.jobId === jobIds[0])?.state).toBe('FINISHED');
    expect(jobs.find((j) => j.jobId === upgrade.jobId)?.state).toBe('RUNNING');
    // moves the watermark past window 2 (a1's heartbeat at T0 + 26 s, published before the upgrade)
    await publish([{ source: 'heartbeats', payload: JSON.stringify({ agentId: 'a1', sentAt: T0 + 60_000 }) }]);
    await waitFor('window 2 from the upgraded job', async () => (await drain(), windowCount(T0 + 20_000) >= 3 || undefined), 120_000, 200);
    await drain();
    expect(Object.fromEntries(received)).toEqual(Object.fromEntries(expected));
    // a1's previous heartbeat (T0 + 11 s) came through the savepoint
    expect(received.get(`heartbeat-liveness|a1|${T0 + 20_000}`)).toMatchObject({ maxGapMs: 15_000, gapsOverGrace: 1 });
    expect(duplicates).toBe(0);
  });
});
