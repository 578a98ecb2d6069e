// The messaging contract on a real Apache Pulsar broker (the shared standalone
// broker of the test run), then what only Pulsar has: namespaces and policies,
// backlog statistics, dead-lettering, large messages, a broker that is down,
// token authentication, and a broker restart in the middle of a stream. The
// last two stop and reconfigure a broker, so they run on a broker of their own.
import { Registry } from 'prom-client';
import { instrumentMessaging } from '../../adapters/prometheus/messaging';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Consumer, ReceivedMessage } from '../../adapters/ports';
import { PulsarError } from '../../adapters/pulsar/errors';
import { PulsarAdmin } from '../../adapters/pulsar/admin';
import { PulsarAgentAccess } from '../../adapters/pulsar/agent-access';
import { swarmTopics } from '../../core/topics';
import { PulsarMessaging, type PulsarMessagingOptions } from '../../adapters/pulsar/messaging';
import { loadNativeTransport, nativeTransportUnavailable } from '../../adapters/pulsar/native';
import { messagingContract } from '../contracts/messaging.contract';
import { freePort, removeExtraBrokers, sharedPulsarOptions, startAuthorisingBroker, type ExtraBroker } from '../support/pulsar';

messagingContract('PulsarMessaging (WebSocket transport)', async () => new PulsarMessaging(sharedPulsarOptions()), {
  timeoutScale: 3,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string) => encoder.encode(value);
const textOf = (message: ReceivedMessage) => decoder.decode(message.payload);
const unique = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

async function receiveOne(consumer: Consumer, timeoutMs = 10_000): Promise<ReceivedMessage> {
  const message = await consumer.receive(timeoutMs);
  if (!message) throw new Error(`no message within ${timeoutMs} ms`);
  return message;
}

describe('PulsarMessaging on a real broker', () => {
  let messaging: PulsarMessaging;

  beforeEach(() => {
    messaging = new PulsarMessaging(sharedPulsarOptions());
  });
  afterEach(async () => {
    await messaging.close();
  });

  it('maps swarm/<swarmId>/<name> to persistent://<tenant>/<swarmId>/<name> and gives each swarm a namespace with retention and TTL', async () => {
    const swarmId = unique('swarm');
    const topic = `swarm/${swarmId}/heartbeats`;
    expect(messaging.topicFor(topic).fullName).toBe(`persistent://qp-test/${swarmId}/heartbeats`);
    expect(messaging.topicFor('jobs').fullName).toBe('persistent://qp-test/system/jobs');
    expect(() => messaging.topicFor('swarm/a/b/c')).toThrow(/swarm\/<swarmId>\/<name>/);

    const consumer = await messaging.subscribe(topic, 'liveness');
    await messaging.publish(topic, text('beat'), { key: 'agent-1' });
    expect(textOf(await receiveOne(consumer))).toBe('beat');

    const policies = await messaging.admin.namespacePolicies('qp-test', swarmId);
    expect(policies.retention_policies).toEqual({ retentionTimeInMinutes: 1440, retentionSizeInMB: 1024 });
    expect(policies.message_ttl_in_seconds).toBe(7 * 24 * 3600);
    expect(policies.replication_clusters).toEqual(['standalone']);
  });

  it('creates the fixed topics of a swarm up front, idempotently', async () => {
    const swarmId = unique('swarm');
    await messaging.prepareSwarm(swarmId);
    await messaging.prepareSwarm(swarmId);
    expect(await messaging.backlog(`swarm/${swarmId}/tasks`)).toEqual([]);
  });

  it('reports the backlog (msgBacklog) of each subscription for the scheduler', async () => {
    const topic = `swarm/${unique('swarm')}/tasks`;
    const workers = await messaging.subscribe(topic, 'workers', { type: 'shared' });
    const audit = await messaging.subscribe(topic, 'audit');
    for (let i = 0; i < 5; i++) await messaging.publish(topic, text(`task ${i}`));
    for (let i = 0; i < 2; i++) await workers.ack(await receiveOne(workers));
    await audit.close();

    // The broker applies acknowledgements asynchronously; stats follow within a moment.
    let backlog: Record<string, number> = {};
    for (let tries = 0; tries < 50; tries++) {
      backlog = Object.fromEntries((await messaging.backlog(topic)).map((s) => [s.subscription, s.backlog]));
      if (backlog.workers === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(backlog).toEqual({ workers: 3, audit: 5 });
    expect(await messaging.backlog(`swarm/${unique('swarm')}/nothing-here`)).toEqual([]);
  });

  it('moves a message to the dead-letter topic after the maximum number of redeliveries', async () => {
    const swarm = unique('swarm');
    const topic = `swarm/${swarm}/tasks`;
    const deadLetters = `swarm/${swarm}/tasks-dlq`;
    const dlq = await messaging.subscribe(deadLetters, 'triage', { initialPosition: 'earliest' });
    const consumer = await messaging.subscribe(topic, 'workers', {
      type: 'shared',
      deadLetter: { maxRedeliverCount: 2, topic: deadLetters },
    });
    const id = await messaging.publish(topic, text('poison'), { key: 'job-9', properties: { attempt: 'x' } });

    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const message = await receiveOne(consumer);
      expect(message.id).toBe(id);
      counts.push(message.redeliveryCount);
      await consumer.nack(message);
    }
    const dead = await receiveOne(dlq, 15_000);

    expect(counts).toEqual([0, 1, 2]);
    expect(textOf(dead)).toBe('poison');
    expect(dead.key).toBe('job-9');
    expect(dead.properties.attempt).toBe('x');
    expect(dead.properties.REAL_TOPIC).toBe(messaging.topicFor(topic).fullName);
    expect(await consumer.receive(1000)).toBeUndefined();
  });

  it('round-trips payloads larger than a WebSocket frame and than the broker message limit, byte for byte', async () => {
    const topic = unique('large');
    const consumer = await messaging.subscribe(topic, 'sub', { type: 'key_shared' });
    const sizes = [512 * 1024, 512 * 1024 + 1, 3 * 1024 * 1024 + 17, 12 * 1024 * 1024];
    const payloads = sizes.map((size) => randomBytes(size));
    const ids: string[] = [];
    for (const payload of payloads) ids.push(await messaging.publish(topic, payload, { key: 'model', properties: { kind: 'update' } }));
    await messaging.publish(topic, text('small after large'), { key: 'model' });

    for (let i = 0; i < payloads.length; i++) {
      const message = await receiveOne(consumer, 30_000);
      expect(message.id).toBe(ids[i]);
      expect(message.payload.length).toBe(sizes[i]);
      expect(sha256(message.payload)).toBe(sha256(payloads[i]));
      expect(message.properties).toEqual({ kind: 'update' });
      expect(message.key).toBe('model');
      await consumer.ack(message);
    }
    expect(textOf(await receiveOne(consumer))).toBe('small after large');
  }, 60_000);

  it('fails publish and subscribe after a bounded wait with a clear error when no broker answers', async () => {
    const port = await freePort();
    const down = new PulsarMessaging({
      webSocketUrl: `ws://127.0.0.1:${port}`,
      adminUrl: `http://127.0.0.1:${port}`,
      unavailableAfterMs: 1500,
      connectTimeoutMs: 500,
    });
    try {
      const started = Date.now();
      const publishing = down.publish('orphan', text('nobody home'));
      await expect(publishing).rejects.toBeInstanceOf(PulsarError);
      await expect(publishing).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await expect(publishing).rejects.toThrow(/gave up after 1\.\d s .*ECONNREFUSED/);
      const subscribing = down.subscribe('orphan', 'sub');
      await expect(subscribing).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(8000);

      // Without namespace management the WebSocket itself is what fails, as boundedly.
      const direct = new PulsarMessaging({
        webSocketUrl: `ws://127.0.0.1:${port}`,
        adminUrl: `http://127.0.0.1:${port}`,
        manageNamespaces: false,
        unavailableAfterMs: 1000,
        connectTimeoutMs: 300,
      });
      await expect(direct.publish('orphan', text('x'))).rejects.toThrow(/not acknowledged within 1\.0 s \(broker unreachable: .*ECONNREFUSED/);
      await expect(direct.subscribe('orphan', 'sub')).rejects.toThrow(/subscribe "sub" on topic "orphan": gave up after/);
      await direct.close();
    } finally {
      await down.close();
    }
  });
});

// One extra broker for the whole block (a broker starts in about 5-10 s on a quiet machine, minutes on a busy one):
// started fresh with token authentication, then stopped and started again in
// the middle of a stream. The shared broker of the other suites is never touched.
describe('a broker of its own with token authentication and authorisation, restarted mid-stream', () => {
  let broker: ExtraBroker;
  let secretKeyFile: string;
  let adminToken: string;
  let clientToken: string;
  let forgedToken: string;
  const opened: PulsarMessaging[] = [];

  const connect = (token: string | undefined, overrides: Partial<PulsarMessagingOptions> = {}) => {
    const port = new PulsarMessaging({
      webSocketUrl: broker.webSocketUrl,
      adminUrl: broker.adminUrl,
      authToken: token,
      tenant: 'qp-auth',
      ...overrides,
    });
    opened.push(port);
    return port;
  };

  beforeAll(async () => {
    ({ broker, secretKeyFile, adminToken, managerToken: clientToken } = await startAuthorisingBroker('authtest'));
    forgedToken = forgeToken('qp-manager');
  }, 360_000);

  afterAll(async () => {
    await Promise.all(opened.map((port) => port.close()));
    await removeExtraBrokers();
  }, 60_000);

  it('refuses a client without a token, and one with a token signed by another key', async () => {
    await expect(connect(undefined).publish(unique('t'), text('no token'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(connect(forgedToken).subscribe(unique('t'), 'sub')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // The WebSocket endpoint itself refuses, not only the admin API.
    const direct = connect(undefined, { manageNamespaces: false, unavailableAfterMs: 2000 });
    await expect(direct.subscribe(unique('t'), 'sub')).rejects.toThrow(/refused the credentials \(HTTP 401\)/);
    await expect(direct.publish(unique('t'), text('x'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('accepts a client with a valid token', async () => {
    const port = connect(clientToken);
    const topic = unique('authorized');
    const consumer = await port.subscribe(topic, 'sub');
    const id = await port.publish(topic, text('signed in'));
    const message = await receiveOne(consumer);
    expect([message.id, textOf(message)]).toEqual([id, 'signed in']);
  });

  it("an agent's own token produces on its swarm's topics but reads only its inbox, broadcast and control, until revoked", async () => {
    const manager = connect(clientToken);
    const swarm = unique('swarm');
    const topics = swarmTopics(swarm);
    await manager.publish(topics.heartbeats, text('namespace made')); // the manager creates the swarm's namespace
    const access = new PulsarAgentAccess({
      admin: new PulsarAdmin({ url: broker.adminUrl, authToken: adminToken }),
      mapping: { tenant: 'qp-auth', defaultNamespace: 'default' },
      secretKey: readFileSync(secretKeyFile),
    });
    const sessionA = { swarmId: swarm, agentId: 'agent-a', session: 'run-1' };
    const sessionB = { swarmId: swarm, agentId: 'agent-b', session: 'run-1' };
    const roleA = await access.grant(sessionA);
    const roleB = await access.grant(sessionB);
    expect(await access.grant(sessionB)).toBe(roleB); // idempotent
    const agentA = connect(access.tokenFor(roleA), { manageNamespaces: false, unavailableAfterMs: 3000 });

    // Produces on the swarm's shared topics, including one created after the grant.
    await agentA.publish(topics.heartbeats, text('alive'));
    await agentA.publish(topics.updates(unique('job')), text('an update'));
    // Reads its own inbox, the broadcast and the control topics.
    for (const readable of [topics.inbox('agent-a'), topics.broadcast, topics.control]) {
      const consumer = await agentA.subscribe(readable, 'agent-a');
      await manager.publish(readable, text(`to a on ${readable}`));
      expect(textOf(await receiveOne(consumer))).toBe(`to a on ${readable}`);
      await consumer.close();
    }
    // Never another agent's inbox, the heartbeats or a job's updates.
    for (const closed of [topics.inbox('agent-b'), topics.heartbeats, topics.updates('job-1')]) {
      await expect(agentA.subscribe(closed, 'spy')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    // Revoked (deregistration): the same token opens nothing any more.
    await access.revoke(sessionA);
    await access.revoke(sessionA); // idempotent
    const revoked = connect(access.tokenFor(roleA), { manageNamespaces: false, unavailableAfterMs: 3000 });
    await expect(revoked.publish(topics.heartbeats, text('after revoke'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(revoked.subscribe(topics.inbox('agent-a'), 'agent-a')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // The other agent keeps its access.
    const agentB = connect(access.tokenFor(roleB), { manageNamespaces: false, unavailableAfterMs: 3000 });
    await agentB.publish(topics.heartbeats, text('b alive'));
    // A later session of agent-a is a new role: the first session's token stays closed.
    const roleA2 = await access.grant({ ...sessionA, session: 'run-2' });
    expect(roleA2).not.toBe(roleA);
    await connect(access.tokenFor(roleA2), { manageNamespaces: false, unavailableAfterMs: 3000 }).publish(topics.heartbeats, text('a again'));
    await expect(revoked.publish(topics.heartbeats, text('old session'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  }, 120_000);

  it('delivers every acknowledged publish when the broker stops and starts again mid-stream', async () => {
    const port = connect(clientToken, { unavailableAfterMs: 120_000 });
    const metrics = new Registry();
    instrumentMessaging(port, metrics);
    const topic = `swarm/${unique('swarm')}/updates-job-1`;
    const consumer = await port.subscribe(topic, 'aggregator', { type: 'shared' });
    const total = 400;
    const acknowledged = new Set<string>();
    let restarted = false;

    const publishing = (async () => {
      for (let i = 0; i < total; i++) {
        const body = `update ${i}`;
        await port.publish(topic, text(body), { key: `agent-${i % 7}` });
        acknowledged.add(body);
      }
    })();
    const received = new Set<string>();
    const consuming = (async () => {
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && !(restarted && received.size >= total)) {
        const message = await consumer.receive(500);
        if (!message) continue;
        received.add(textOf(message));
        await consumer.ack(message).catch(() => undefined); // an ack lost in the restart only means a redelivery
      }
    })();

    while (acknowledged.size < 150) await new Promise((resolve) => setTimeout(resolve, 5));
    const stopMs = await broker.stop();
    // While it is down, a caller with a short bound gets a clear error.
    const impatient = connect(clientToken, { unavailableAfterMs: 1000, connectTimeoutMs: 300 });
    await expect(impatient.publish(topic, text('too soon'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const acknowledgedWhileDown = acknowledged.size;
    const startMs = await broker.start();
    restarted = true;
    await publishing;
    await consuming;

    console.log(`broker restart: stop ${stopMs} ms, start ${startMs} ms; ${acknowledgedWhileDown} of ${total} acknowledged before`);
    const missing = [...acknowledged].filter((body) => !received.has(body));
    expect(missing).toEqual([]);
    expect(acknowledged.size).toBe(total);
    // The consumer's reconnect is counted, by the kind of its topic.
    const reconnects = (await metrics.getSingleMetric('qp_manager_messaging_reconnects_total')!.get()).values;
    expect(reconnects.find((v) => v.labels.channel === 'updates')?.value).toBeGreaterThanOrEqual(1);
  }, 420_000);
});

/** An HS256 JWT for subject, signed with a key the broker does not know. */
function forgeToken(subject: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256' })}.${b64({ sub: subject })}`;
  return `${unsigned}.${createHmac('sha256', randomBytes(32)).update(unsigned).digest('base64url')}`;
}

// The same contract on the optional native transport, where its package installs.
const nativeMissing = nativeTransportUnavailable();
if (nativeMissing) {
  console.warn(`NativePulsarMessaging contract not run: ${nativeMissing}`);
  describe.skip(`NativePulsarMessaging as MessagingPort (not run: ${nativeMissing})`, () => {
    it('runs the messaging contract', () => undefined);
  });
} else {
  messagingContract(
    'NativePulsarMessaging',
    async () => {
      const native = await loadNativeTransport();
      if (!native.available) throw new Error(native.reason);
      const options = sharedPulsarOptions();
      return native.create({
        serviceUrl: process.env.QP_TEST_PULSAR_URL as string,
        adminUrl: options.adminUrl,
        tenant: options.tenant,
      });
    },
    { timeoutScale: 3 },
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
