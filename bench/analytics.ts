// Analytics throughput and latency: heartbeats through Pulsar -> the Flink analytics job -> the
// swarm's analytics topic, beside Pulsar alone (the same messages produced and consumed through
// the same adapter), in the same run.
//   events/s   N heartbeats published (100 agents, sentAt = now) until the window holding the last
//              one is out, vs N messages produced and consumed on a plain topic
//   latency    a window's end (event time = wall clock) to its swarm-power result arriving, vs a
//              message's send to its receipt
//   npm run bench:analytics -- [--events 20000]
// Needs Pulsar (8090/6650) and Flink (8081): bash infra/local/stack.sh up pulsar flink
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { analyticsJobSpec } from '../adapters/flink/analytics-job';
import { FlinkRest } from '../adapters/flink/rest';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import type { AnalyticsRecord } from '../core/analytics';

const ROOT = join(__dirname, '..');
const WEB = `http://127.0.0.1:${process.env.PULSAR_WEB_PORT ?? 8090}`;
const BROKER = `pulsar://127.0.0.1:${process.env.PULSAR_BROKER_PORT ?? 6650}`;
const FLINK = process.env.FLINK_JOB_MANAGER_URL ?? 'http://127.0.0.1:8081';
const TENANT = 'qp-bench';
const AGENTS = 100;
const IN_FLIGHT = 500;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** Publishes count messages with at most IN_FLIGHT outstanding. */
async function produce(messaging: PulsarMessaging, topic: string, count: number, payload: (i: number) => string): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await messaging.publish(topic, Buffer.from(payload(i)), { key: `a${i % AGENTS}` });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

async function pulsarAlone(messaging: PulsarMessaging, swarmId: string, n: number) {
  const topic = `swarm/${swarmId}/baseline`;
  const consumer = await messaging.subscribe(topic, 'bench', { initialPosition: 'earliest' });
  const latencies: number[] = [];
  const t0 = Date.now();
  const consuming = (async () => {
    while (latencies.length < n) {
      const m = await consumer.receive(5000);
      if (!m) throw new Error(`pulsar alone: stalled at ${latencies.length} of ${n}`);
      latencies.push(Date.now() - JSON.parse(Buffer.from(m.payload).toString('utf8')).sentAt);
      await consumer.ack(m);
    }
  })();
  await produce(messaging, topic, n, (i) => JSON.stringify({ agentId: `a${i % AGENTS}`, sentAt: Date.now() }));
  await consuming;
  const ms = Date.now() - t0;
  await consumer.close();
  return { perSecond: (n * 1000) / ms, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function throughFlink(messaging: PulsarMessaging, flink: FlinkRest, jarPath: string, swarmId: string, n: number) {
  const windowMs = 1000;
  const spec = analyticsJobSpec({
    swarmId,
    tenant: TENANT,
    pulsarServiceUrl: BROKER,
    pulsarAdminUrl: WEB,
    jarPath,
    options: { windowMs, latenessMs: 0, graceMs: 30_000, flapThreshold: 4, burstThreshold: 5 },
  });
  const { jobId } = await flink.ensure(spec);
  const results = await messaging.subscribe(`swarm/${swarmId}/analytics`, 'bench', { initialPosition: 'earliest' });
  const heartbeats = `swarm/${swarmId}/heartbeats`;
  const latencies: number[] = [];
  let counted = 0;
  let lastEventAt = Infinity;
  let doneAt = 0;
  let stop = false;
  const reading = (async () => {
    while (!stop) {
      const m = await results.receive(500);
      if (!m) continue;
      const r = JSON.parse(Buffer.from(m.payload).toString('utf8')) as AnalyticsRecord;
      await results.ack(m);
      // every event must be counted in its agent's window (the flush agent keeps the watermark moving)
      if (r.signal === 'agent-energy' && r.key !== 'flush') counted += r.heartbeats;
      if (r.signal !== 'swarm-power') continue;
      latencies.push(Date.now() - r.windowEnd);
      if (!doneAt && r.windowEnd > lastEventAt) doneAt = Date.now();
    }
  })();
  // the agents are the swarm's (the roster the registration publishes), read by the job before their heartbeats
  const roster = `swarm/${swarmId}/roster`;
  for (const agentId of [...Array.from({ length: AGENTS }, (_, i) => `a${i}`), 'flush']) {
    const note = { type: 'agent-registered', agentId, generation: 1, registeredAt: Date.now() };
    await messaging.publish(roster, Buffer.from(JSON.stringify(note)), { key: agentId, properties: { type: 'agent-registered', agentId } });
  }
  for (;;) {
    const job = (await messaging.backlog(roster)).find((s) => s.subscription === `qp-analytics-${swarmId}`);
    if (job && job.backlog === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const t0 = Date.now();
  await produce(messaging, heartbeats, n, (i) => JSON.stringify({ agentId: `a${i % AGENTS}`, sentAt: Date.now(), energyUsedWh: 0.01 }));
  lastEventAt = Date.now();
  // the watermark moves with events only: keep a trickle going until the last window is out
  while (!doneAt) {
    await messaging.publish(heartbeats, Buffer.from(JSON.stringify({ agentId: 'flush', sentAt: Date.now() })));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // the agent-energy windows of the last window may trail its swarm-power record
  const settle = Date.now() + 3000;
  while (counted < n && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 100));
  stop = true;
  await reading;
  const ms = doneAt - t0;
  await results.close();
  await flink.cancel(jobId);
  // the first windows include the job's start-up; the latency figures are of the steady state
  const steady = latencies.slice(2);
  return { perSecond: (n * 1000) / ms, p50: percentile(steady, 50), p99: percentile(steady, 99), windows: latencies.length, counted };
}

async function main(): Promise<void> {
  const n = arg('events', 20_000);
  const jarPath = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'flink-job'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const messaging = new PulsarMessaging({ webSocketUrl: WEB.replace('http', 'ws'), adminUrl: WEB, tenant: TENANT });
  const flink = new FlinkRest({ url: FLINK });
  const swarmId = `bench-${randomUUID().slice(0, 8)}`;
  await messaging.prepareSwarm(swarmId, ['heartbeats', 'tasks', 'task-results', 'rounds', 'roster', 'analytics', 'baseline']);
  const overview = await flink.overview();
  console.log(`flink ${overview.flinkVersion}, ${overview.taskManagers} TaskManager(s), ${n} events, ${AGENTS} agents, 1 s windows`);
  const alone = await pulsarAlone(messaging, swarmId, n);
  const flinked = await throughFlink(messaging, flink, jarPath, swarmId, n);
  console.log(`pulsar alone (produce -> consume):           ${alone.perSecond.toFixed(0)} msg/s`);
  console.log(`pulsar -> flink -> pulsar (events in):       ${flinked.perSecond.toFixed(0)} events/s`);
  console.log(`throughput ratio flink/pulsar alone:         ${(flinked.perSecond / alone.perSecond).toFixed(2)}`);
  console.log(`pulsar alone latency p50 / p99:              ${alone.p50} / ${alone.p99} ms (send -> receive)`);
  console.log(`flink window end -> result p50 / p99:        ${flinked.p50} / ${flinked.p99} ms (${flinked.windows} windows)`);
  console.log(`events counted in agent-energy windows:      ${flinked.counted} of ${n}`);
  await messaging.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
