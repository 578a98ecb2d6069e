// Messaging throughput through our Pulsar adapter (WebSocket transport) beside
// the broker's own Java tool, pulsar-perf, on the same broker, same sizes:
// 100,000 messages of 1 KB and 10,000 of 100 KB, produced into a subscription's
// backlog and then consumed (receive + acknowledge). pulsar-perf runs with
// batching off, as the WebSocket producer does, and both keep the same number
// of messages in flight: 1,000 of 1 KB, 100 of 100 KB (1,000 x 100 KB in
// flight exhausted the standalone bookie's 512 MB of direct memory).
//   npm run bench:messaging -- [--small 100000] [--large 10000]
// Uses the broker on PULSAR_WEB_PORT/PULSAR_BROKER_PORT (8090/6650) if one
// answers; otherwise starts one with infra/local/stack.sh and stops it after.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PulsarAdmin } from '../adapters/pulsar/admin';
import { PulsarMessaging } from '../adapters/pulsar/messaging';

const ROOT = join(__dirname, '..');
const STACK = join(ROOT, 'infra/local/stack.sh');
const WEB = `http://127.0.0.1:${process.env.PULSAR_WEB_PORT ?? 8090}`;
const BROKER = `pulsar://127.0.0.1:${process.env.PULSAR_BROKER_PORT ?? 6650}`;
const TENANT = 'qp-bench';
const NAMESPACE = 'system';
const run = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Rate {
  msgsPerSecond: number;
  mbPerSecond: number;
}

const rate = (count: number, size: number, ms: number): Rate => ({
  msgsPerSecond: (count * 1000) / ms,
  mbPerSecond: (count * size) / 1e6 / (ms / 1000),
});

async function ours(count: number, size: number, inFlight: number): Promise<{ produce: Rate; consume: Rate }> {
  const messaging = new PulsarMessaging({ webSocketUrl: WEB.replace('http', 'ws'), adminUrl: WEB, tenant: TENANT });
  try {
    const topic = `ours-${size}-${randomBytes(4).toString('hex')}`;
    // The subscription exists before the first message, so the whole run is its backlog.
    await (await messaging.subscribe(topic, 'bench', { initialPosition: 'earliest' })).close();
    const payload = randomBytes(size);
    let next = 0;
    const produceStart = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          next++;
          await messaging.publish(topic, payload);
        }
      }),
    );
    const produceMs = performance.now() - produceStart;

    const consumer = await messaging.subscribe(topic, 'bench');
    const consumeStart = performance.now();
    for (let received = 0; received < count; received++) {
      const message = await consumer.receive(30_000);
      if (!message) throw new Error(`ours: only ${received} of ${count} messages came back`);
      void consumer.ack(message);
    }
    const consumeMs = performance.now() - consumeStart;
    await consumer.close();
    return { produce: rate(count, size, produceMs), consume: rate(count, size, consumeMs) };
  } finally {
    await messaging.close();
  }
}

/**
 * pulsar-perf's own "Aggregated throughput stats" line is not usable for a
 * producer: it divides by the time until its next 10 s report tick. So its rate
 * is taken from its log: from the line that starts the work (producers created,
 * consumers receiving) to its DONE line, the same span timed for ours.
 */
function perfRate(output: string, startLine: RegExp, count: number, size: number): Rate {
  const stamp = (pattern: RegExp): number => {
    const line = output.split('\n').find((l) => pattern.test(l));
    const m = line && /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d),(\d{3})([+-]\d\d)(\d\d)/.exec(line);
    if (!m) throw new Error(`pulsar-perf printed no line matching ${pattern}:\n${output.slice(-2000)}`);
    return Date.parse(`${m[1]}.${m[2]}${m[3]}:${m[4]}`);
  };
  const ms = stamp(/------ DONE/) - stamp(startLine);
  return rate(count, size, Math.max(ms, 1));
}

async function pulsarPerf(home: string, admin: PulsarAdmin, count: number, size: number, inFlight: number) {
  const local = `perf-${size}-${randomBytes(4).toString('hex')}`;
  const topic = `persistent://${TENANT}/${NAMESPACE}/${local}`;
  await admin.ensureTopic(`${TENANT}/${NAMESPACE}/${local}`);
  const perf = join(home, 'bin', 'pulsar-perf');
  const env = { ...process.env, PULSAR_LOG_LEVEL: 'info', PULSAR_MEM: '-Xms256m -Xmx1g -XX:MaxDirectMemorySize=1g' };
  // Create the subscription first (a consumer that reads nothing), as for ours.
  execFileSync(perf, ['consume', '-u', BROKER, '-ss', 'bench', '-sp', 'Earliest', '-m', '1', '-time', '1', topic], {
    env,
    stdio: 'ignore',
  });
  const produced = await run(
    perf,
    ['produce', '-u', BROKER, '-au', WEB, '-r', '10000000', '-s', String(size), '-m', String(count), '-db', '-o', String(inFlight), topic],
    { env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000, killSignal: 'SIGKILL' },
  );
  const consumed = await run(
    perf,
    ['consume', '-u', BROKER, '-ss', 'bench', '-sp', 'Earliest', '-m', String(count), '-q', String(Math.min(inFlight, 1000)), topic],
    { env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000, killSignal: 'SIGKILL' },
  );
  return {
    produce: perfRate(produced.stdout + produced.stderr, /Created \d+ producers/, count, size),
    consume: perfRate(consumed.stdout + consumed.stderr, /Start receiving from/, count, size),
  };
}

async function brokerHealthy(): Promise<boolean> {
  try {
    const res = await fetch(`${WEB}/admin/v2/brokers/health`, { signal: AbortSignal.timeout(10_000) });
    return (await res.text()) === 'ok';
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const runs = [
    { count: arg('small', 100_000), size: 1024, label: '1KB', inFlight: 1000 },
    { count: arg('large', 10_000), size: 100 * 1024, label: '100KB', inFlight: 100 },
  ];
  // Only a broker this run started is stopped at the end; a running one (maybe busy) is waited for.
  const startedHere = spawnSync('bash', [STACK, 'status', 'pulsar'], { stdio: 'ignore' }).status !== 0;
  if (startedHere) execFileSync('bash', [STACK, 'up', 'pulsar'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let waited = 0; !(await brokerHealthy()); waited++) {
    if (waited > 120) throw new Error(`the Pulsar broker at ${WEB} is not healthy`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  try {
    const home = execFileSync('bash', [STACK, 'path', 'pulsar'], { encoding: 'utf8' }).trim();
    const admin = new PulsarAdmin({ url: WEB });
    await admin.ensureNamespace(TENANT, NAMESPACE, { retentionMinutes: 60, retentionSizeMb: -1, messageTtlSeconds: 0 });
    console.log(`broker ${BROKER}, web ${WEB}; MB = 10^6 bytes; pulsar-perf without batching`);
    for (const { count, size, label, inFlight } of runs) {
      const mine = await ours(count, size, inFlight);
      const theirs = await pulsarPerf(home, admin, count, size, inFlight);
      for (const phase of ['produce', 'consume'] as const) {
        const name = `${phase} ${label} x${count} (${inFlight} in flight)`;
        console.log(`${name} ours msgs/s: ${mine[phase].msgsPerSecond.toFixed(0)}`);
        console.log(`${name} ours MB/s: ${mine[phase].mbPerSecond.toFixed(1)}`);
        console.log(`${name} pulsar-perf msgs/s: ${theirs[phase].msgsPerSecond.toFixed(0)}`);
        console.log(`${name} pulsar-perf MB/s: ${theirs[phase].mbPerSecond.toFixed(1)}`);
        console.log(`${name} ratio ours/pulsar-perf: ${(mine[phase].msgsPerSecond / theirs[phase].msgsPerSecond).toFixed(2)}`);
      }
    }
    // The runs leave about 1.1 GB in the broker: give it back.
    for (const topic of await admin.topics(TENANT, NAMESPACE)) await admin.deleteTopic(topic).catch(() => undefined);
    await admin.deleteNamespace(TENANT, NAMESPACE).catch(() => undefined);
  } finally {
    if (startedHere) execFileSync('bash', [STACK, 'down', 'pulsar'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
