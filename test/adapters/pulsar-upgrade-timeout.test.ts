// A subscribe whose WebSocket upgrade outlasts the connect timeout, on a real
// broker. The broker may have made the consumer already, and it keeps a
// consumer whose client dropped the upgrade; an exclusive subscription then
// refused every retry ("already connected") although the only other consumer
// was this subscribe's own first attempt. A relay in front of the shared broker
// holds the broker's answer to the first upgrade past the client's timeout and
// keeps the broker's side of that connection open when the client drops its
// side, as a broker that never noticed would.
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PulsarMessaging } from '../../adapters/pulsar/messaging';
import { freePort, sharedPulsarOptions } from '../support/pulsar';

/** Relays TCP to the broker; holds what the broker sends on the first connection for holdMs. */
class HoldingRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private connections = 0;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly holdMs: number,
  ) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      const first = this.connections++ === 0;
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
      }
      // On the first connection the client's end is not passed on.
      client.pipe(upstream, { end: !first });
      if (first) {
        // The upstream side outlives the client: the broker sees a client that never went away.
        upstream.pause();
        setTimeout(() => {
          if (!client.destroyed) upstream.pipe(client);
          upstream.resume();
        }, this.holdMs);
        client.on('close', () => client.unpipe(upstream));
      } else {
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  get upgrades(): number {
    return this.connections;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe('a subscribe whose first upgrade times out', () => {
  const shared = sharedPulsarOptions();
  const brokerUrl = new URL(shared.webSocketUrl);
  const relay = new HoldingRelay({ host: brokerUrl.hostname, port: Number(brokerUrl.port) }, 3_000);
  const direct = new PulsarMessaging(shared);
  let relayed: PulsarMessaging;

  beforeAll(async () => {
    await relay.start();
    relayed = new PulsarMessaging({ ...shared, webSocketUrl: `ws://127.0.0.1:${relay.port}`, connectTimeoutMs: 1_000, unavailableAfterMs: 30_000 });
  });
  afterAll(async () => {
    await relayed?.close();
    await direct.close();
    await relay.stop();
  });

  it('gets the exclusive subscription once its own late upgrade is closed, and receives on it', async () => {
    const topic = `upgrade-timeout-${randomBytes(4).toString('hex')}`;
    // The topic and its namespace exist first, so that the only slow step is the held upgrade.
    await (await direct.subscribe(topic, 'warm-up', { type: 'exclusive' })).close();

    const started = Date.now();
    const consumer = await relayed.subscribe(topic, 'agent', { type: 'exclusive', initialPosition: 'earliest' });
    const tookMs = Date.now() - started;
    expect(relay.upgrades).toBeGreaterThanOrEqual(2);
    // It waited for its abandoned upgrade (held 3 s) to end rather than give up at once.
    expect(tookMs).toBeGreaterThanOrEqual(2_500);

    await direct.publish(topic, Buffer.from('after the timeout'));
    const message = await consumer.receive(10_000);
    expect(Buffer.from(message!.payload).toString()).toBe('after the timeout');
    await consumer.ack(message!);
    await consumer.close();
  });

  it('a subscribe called again after the first gave up (as an agent retries through a broker restart) waits for the first one\'s late upgrade too', async () => {
    const topic = `upgrade-timeout-${randomBytes(4).toString('hex')}`;
    await (await direct.subscribe(topic, 'warm-up', { type: 'exclusive' })).close();
    const holding = new HoldingRelay({ host: brokerUrl.hostname, port: Number(brokerUrl.port) }, 2_000);
    await holding.start();
    // Gives up on a subscribe before its first, timed-out upgrade (held 2 s) has ended.
    const impatient = new PulsarMessaging({ ...shared, webSocketUrl: `ws://127.0.0.1:${holding.port}`, connectTimeoutMs: 1_000, unavailableAfterMs: 1_500 });
    try {
      await expect(impatient.subscribe(topic, 'agent', { type: 'exclusive', initialPosition: 'earliest' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      // The broker still holds the abandoned upgrade's consumer: this second subscribe meets "already connected".
      const consumer = await impatient.subscribe(topic, 'agent', { type: 'exclusive', initialPosition: 'earliest' });
      await direct.publish(topic, Buffer.from('after the retry'));
      const message = await consumer.receive(10_000);
      expect(Buffer.from(message!.payload).toString()).toBe('after the retry');
      await consumer.close();
    } finally {
      await impatient.close();
      await holding.stop();
    }
  });
});
