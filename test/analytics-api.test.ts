// The analytics through the API, embedded (no FLINK_JOB_MANAGER_URL): deploying a swarm's
// analytics starts the in-process engine, the scripted stream published on the swarm's topics
// comes back as the latest windows of GET /api/v1/analytics/:swarmId, the status names the
// runtime, and /metrics exports the signals.
import request from 'supertest';
import { AnalyticsEngine, windowKey, type AnalyticsRecord, type HeartbeatLiveness } from '../core/analytics';
import type { Embedded } from '../workers/embedded';
import type { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { EXPECTED_WINDOWS as STREAM_WINDOWS, PHASE_0, PHASE_1, PHASE_2, PHASE_3, STRAY_BALLOT, STREAM_OPTIONS, T0, topicOf, type ScriptedMessage } from './support/analytics-stream';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

// The embedded runtime releases a decision's ballot topic when it reads the decision's outcome: it
// never reads d2's stray ballot (cast after d2 closed), nor emits the window that ballot opens.
const EXPECTED_WINDOWS = STREAM_WINDOWS - 1;
const read = (phase: ScriptedMessage[]) => phase.filter((m) => m !== STRAY_BALLOT);

jest.setTimeout(300_000);

describe('analytics API, embedded runtime', () => {
  let embedded: Embedded;
  const swarmId = uniqueId('an');
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  beforeAll(async () => {
    embedded = await startTestEmbedded({
      QP_ANALYTICS_WINDOW_MS: String(STREAM_OPTIONS.windowMs),
      QP_ANALYTICS_LATENESS_MS: String(STREAM_OPTIONS.latenessMs),
      QP_HEARTBEAT_GRACE_MS: String(STREAM_OPTIONS.graceMs),
      QP_ANALYTICS_FLAP_THRESHOLD: String(STREAM_OPTIONS.flapThreshold),
      QP_ANALYTICS_BURST_THRESHOLD: String(STREAM_OPTIONS.burstThreshold),
    });
  });

  afterAll(async () => {
    await embedded?.stop();
  });

  const publish = async (phase: ScriptedMessage[]) => {
    for (const m of phase) await embedded.ports.messaging.publish(`swarm/${swarmId}/${topicOf(m)}`, Buffer.from(m.payload), { properties: m.properties ?? {} });
  };
  const latest = async () => (await request(embedded.api.url).get(`/api/v1/analytics/${swarmId}`).set(admin).expect(200)).body;

  it('deploys idempotently: started, then unchanged', async () => {
    const first = await request(embedded.api.url).put(`/api/v1/analytics/${swarmId}/job`).set(admin).expect(200);
    expect(first.body).toEqual({ swarmId, runtime: 'embedded', action: 'started' });
    const again = await request(embedded.api.url).put(`/api/v1/analytics/${swarmId}/job`).set(admin).expect(200);
    expect(again.body.action).toBe('unchanged');
  });

  it('serves the latest window of every series, as the engine computes them', async () => {
    const runtime = embedded.ports.analytics as EmbeddedAnalyticsRuntime;
    // the engine reads the topics in turn: each phase waits until it has taken all of the one before
    await publish(PHASE_0);
    await waitFor('the roster consumed', () => (runtime.counters(swarmId)?.messages === PHASE_0.length ? true : undefined), 120_000);
    await publish(PHASE_1);
    await waitFor('phase 1 consumed', () => {
      const c = runtime.counters(swarmId);
      return c && c.messages === PHASE_0.length + PHASE_1.length ? true : undefined;
    }, 120_000);
    // d1 and d2 opened and closed in phase 1: their ballot topics were read, then let go
    expect(runtime.ballotSubscriptions(swarmId)).toBe(0);
    await publish(PHASE_2);
    await waitFor('window 0', async () => ((await latest()).stats.windows >= 13 ? true : undefined), 120_000, 100);
    await publish(PHASE_3);
    await waitFor('window 1', async () => ((await latest()).stats.windows >= EXPECTED_WINDOWS ? true : undefined), 120_000, 100);
    const engine = new AnalyticsEngine(swarmId, STREAM_OPTIONS);
    const newest = new Map<string, AnalyticsRecord>();
    for (const m of read([...PHASE_0, ...PHASE_1, ...PHASE_2, ...PHASE_3])) {
      for (const r of engine.ingest(m.source, m.payload, m.properties)) newest.set(`${r.signal}|${r.key}`, r);
    }
    const body = await latest();
    expect(body.runtime).toBe('embedded');
    expect(body.stats).toMatchObject({ windows: EXPECTED_WINDOWS, duplicates: 0, lastWindowEnd: T0 + 20_000 });
    const served = new Map((body.windows as AnalyticsRecord[]).map((r) => [windowKey(r), r]));
    expect(Object.fromEntries(served)).toEqual(Object.fromEntries([...newest.values()].map((r) => [windowKey(r), r])));
    // the decision's turnout, from its proposal on the control topic and the ballots on its own topic
    const turnout = await request(embedded.api.url).get(`/api/v1/analytics/${swarmId}?signal=ballot-turnout`).set(admin).expect(200);
    expect(turnout.body.windows).toEqual([
      expect.objectContaining({ signal: 'ballot-turnout', key: 'd1', windowStart: T0 + 10_000, ballots: 1, voters: 3, eligible: 3, turnout: 1 }),
      expect.objectContaining({ signal: 'ballot-turnout', key: 'd2', windowStart: T0, ballots: 1, voters: 1, eligible: 2, turnout: 0.5 }),
    ]);
    const power = await request(embedded.api.url).get(`/api/v1/analytics/${swarmId}?signal=swarm-power`).set(admin).expect(200);
    expect(power.body.windows).toEqual([expect.objectContaining({ signal: 'swarm-power', windowStart: T0 + 10_000, meanPowerW: 180 })]);
  });

  it('reports the runtime and the swarms it reads', async () => {
    const status = await request(embedded.api.url).get('/api/v1/analytics/status').set(admin).expect(200);
    expect(status.body).toMatchObject({ runtime: 'embedded', reachable: true });
    expect(status.body.jobs).toContainEqual(expect.objectContaining({ swarmId, state: 'RUNNING' }));
    expect(status.body.swarms).toContainEqual(expect.objectContaining({ swarmId, windows: EXPECTED_WINDOWS }));
  });

  it('exports the signals as metrics', async () => {
    const metrics = await request(embedded.api.url).get('/metrics').expect(200);
    expect(metrics.text).toContain(`qp_manager_analytics_swarm_power_watts{swarm="${swarmId}"} 180`);
    // Per swarm: no agent (QP_METRICS_AGENT_LABELS is off) and no job label.
    const engine = new AnalyticsEngine(swarmId, STREAM_OPTIONS);
    const liveness = read([...PHASE_1, ...PHASE_2, ...PHASE_3])
      .flatMap((m) => engine.ingest(m.source, m.payload))
      .filter((r): r is HeartbeatLiveness => r.signal === 'heartbeat-liveness');
    const newestStart = Math.max(...liveness.map((r) => r.windowStart));
    const flapping = liveness.filter((r) => r.windowStart === newestStart && r.flapping).length;
    expect(metrics.text).toContain(`qp_manager_analytics_flapping_agents{swarm="${swarmId}"} ${flapping}`);
    expect(metrics.text).toMatch(new RegExp(`qp_manager_analytics_rejection_bursts_total\\{swarm="${swarmId}"\\} 1`));
    // decision d1's newest window: a3 voted, 3 of 3 eligible agents have voted
    expect(metrics.text).toContain(`qp_manager_analytics_ballot_turnout_ratio{swarm="${swarmId}"} 1`);
    expect(metrics.text).toContain(`qp_manager_analytics_ballot_messages{swarm="${swarmId}"} 1`);
    expect(metrics.text).not.toMatch(/qp_manager_analytics_[a-z_]+\{[^}]*(agent|job)="/);
  });

  it('refuses unknown signals and requests without a credential', async () => {
    const bad = await request(embedded.api.url).get(`/api/v1/analytics/${swarmId}?signal=nope`).set(admin).expect(400);
    expect(bad.body.error.field).toBe('signal');
    await request(embedded.api.url).get(`/api/v1/analytics/${swarmId}`).expect(401);
    await request(embedded.api.url).put(`/api/v1/analytics/${swarmId}/job`).expect(401);
  });
});
