// A TaskManager killed mid-stream on a cluster of the suite's own (a JobManager process and a
// TaskManager process): the job restarts from its last checkpoint on a new TaskManager and, once
// the consumer keeps the first copy of each window name, no window is lost and none differs from
// what the embedded analytics compute. The sink is at-least-once: windows emitted after the
// checkpoint are written again, identical, and counted here.
import { analyticsJobSpec } from '../adapters/flink/analytics-job';
import { FlinkRest } from '../adapters/flink/rest';
import type { Consumer } from '../adapters/ports';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { AnalyticsEngine, windowKey, type AnalyticsRecord } from '../core/analytics';
import { analyticsTopics } from '../core/analytics/topics';
import { EXPECTED_WINDOWS, PHASE_0, PHASE_1, PHASE_2, PHASE_3, STREAM_OPTIONS, STREAM_TOPICS, T0, WINDOW_0_RECORDS, topicOf, type ScriptedMessage } from './support/analytics-stream';
import { consumed, requireTestFlink, startSplitFlinkCluster, type SplitFlinkCluster } from './support/flink';
import { freePort, sharedPulsarOptions } from './support/pulsar';
import { uniqueId, waitFor } from './support/stack';

jest.setTimeout(400_000);

describe('analytics on Flink when a TaskManager dies mid-stream', () => {
  const swarmId = uniqueId('anf');
  let cluster: SplitFlinkCluster | undefined;
  let messaging: PulsarMessaging;
  let results: Consumer;
  let jobId: string | undefined;
  let flink: FlinkRest;
  const firstCopy = new Map<string, string>();
  const copies = new Map<string, number>();
  const engine = new AnalyticsEngine(swarmId, STREAM_OPTIONS);
  const expected = new Map<string, AnalyticsRecord>();

  async function publish(phase: ScriptedMessage[]): Promise<void> {
    for (const m of phase) {
      await messaging.publish(`swarm/${swarmId}/${topicOf(m)}`, Buffer.from(m.payload), { properties: m.properties ?? {} });
      for (const r of engine.ingest(m.source, m.payload, m.properties)) expected.set(windowKey(r), r);
    }
  }

  async function drain(): Promise<void> {
    for (let m = await results.receive(200); m; m = await results.receive(50)) {
      const text = Buffer.from(m.payload).toString('utf8');
      const key = windowKey(JSON.parse(text) as AnalyticsRecord);
      copies.set(key, (copies.get(key) ?? 0) + 1);
      if (!firstCopy.has(key)) firstCopy.set(key, text);
      else expect(JSON.parse(text)).toEqual(JSON.parse(firstCopy.get(key)!));
      await results.ack(m);
    }
  }

  beforeAll(async () => {
    const { jarPath } = requireTestFlink();
    messaging = new PulsarMessaging(sharedPulsarOptions());
    await messaging.prepareSwarm(swarmId, [...STREAM_TOPICS, 'analytics']);
    results = await messaging.subscribe(analyticsTopics(swarmId).analytics, 'test', { initialPosition: 'earliest' });
    cluster = await startSplitFlinkCluster(freePort);
    flink = new FlinkRest({ url: cluster.url });
    const spec = analyticsJobSpec({
      swarmId,
      tenant: 'qp-test',
      pulsarServiceUrl: process.env.QP_TEST_PULSAR_URL!,
      pulsarAdminUrl: process.env.QP_TEST_PULSAR_ADMIN_URL!,
      jarPath,
      options: STREAM_OPTIONS,
      checkpointMs: 500,
      discoveryMs: 1000,
    });
    jobId = (await flink.ensure(spec)).jobId;
  });

  afterAll(async () => {
    await results?.close();
    await messaging?.close();
    await cluster?.stop();
  });

  it('restarts from the checkpoint on a new TaskManager, loses no window and changes none', async () => {
    // the roster first: the agents' events count only once Flink has read it
    await publish(PHASE_0);
    await waitFor('Flink to consume the roster', () => consumed(messaging, swarmId, STREAM_TOPICS), 120_000, 250);
    await publish(PHASE_1);
    await waitFor('Flink to consume phase 1', () => consumed(messaging, swarmId, STREAM_TOPICS), 120_000, 250);
    await publish(PHASE_2);
    await waitFor('window 0', async () => (await drain(), [...firstCopy.keys()].filter((k) => k.endsWith(`|${T0}`)).length >= WINDOW_0_RECORDS || undefined), 120_000, 200);
    // late events in flight, then the TaskManager dies before they are checkpointed for sure
    await publish(PHASE_3.slice(0, 2));
    cluster!.killTaskManager();
    cluster!.startTaskManager();
    await publish(PHASE_3.slice(2));
    await waitFor('every window after the restart', async () => (await drain(), firstCopy.size >= EXPECTED_WINDOWS || undefined), 240_000, 500);
    await drain();
    const received = Object.fromEntries([...firstCopy].map(([k, text]) => [k, JSON.parse(text)]));
    expect(received).toEqual(Object.fromEntries(expected));
    const job = (await flink.list()).find((j) => j.jobId === jobId);
    expect(job?.state).toBe('RUNNING');
    const rewritten = [...copies.values()].filter((n) => n > 1).length;
    console.log(`TaskManager kill: ${EXPECTED_WINDOWS} windows, ${rewritten} written again after the restore (identical, dropped by window key)`);
  });
});
