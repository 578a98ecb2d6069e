import { randomBytes } from 'node:crypto';
import type { Consumer, MessagingBacklog, MessagingPort, ReceivedMessage } from '../../adapters/ports';

export interface MessagingContractOptions {
  /** Multiplies every receive timeout; raise it for a remote broker (Pulsar's nack delay, network). */
  timeoutScale?: number;
}

/**
 * The behaviour every MessagingPort adapter must show. Each test uses its own
 * topics and subscriptions, so adapters created by `create` may share a broker.
 */
export function messagingContract(
  name: string,
  create: () => Promise<MessagingPort>,
  options: MessagingContractOptions = {},
): void {
  const scale = options.timeoutScale ?? 1;
  /** How long to wait for a message that should come. */
  const patience = 2000 * scale;
  /** How long to wait before concluding that no message is coming. */
  const quiet = 100 * scale;

  describe(`${name} as MessagingPort`, () => {
    let messaging: MessagingPort;

    beforeEach(async () => {
      messaging = await create();
    });

    afterEach(async () => {
      await messaging.close();
    });

    async function receiveOne(consumer: Consumer): Promise<ReceivedMessage> {
      const message = await consumer.receive(patience);
      if (!message) throw new Error(`no message arrived within ${patience} ms`);
      return message;
    }

    /** Receives and acknowledges messages on all consumers at once until `total` have arrived. */
    async function drainTogether(consumers: Consumer[], total: number): Promise<ReceivedMessage[][]> {
      let count = 0;
      return Promise.all(
        consumers.map(async (consumer) => {
          const received: ReceivedMessage[] = [];
          while (count < total) {
            const message = await consumer.receive(quiet * 5);
            if (!message) break;
            count += 1;
            received.push(message);
            await consumer.ack(message);
          }
          return received;
        }),
      );
    }

    it('delivers a published message with its id, key, properties and payload bytes', async () => {
      const topic = uniqueName('round-trip');
      const consumer = await messaging.subscribe(topic, uniqueName('sub'));
      const payload = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
      const before = Date.now();

      const id = await messaging.publish(topic, payload, { key: 'agent-7', properties: { kind: 'task', attempt: '1' } });
      const message = await receiveOne(consumer);

      expect(message.id).toBe(id);
      expect(message.topic).toBe(topic);
      expect(message.key).toBe('agent-7');
      expect(message.properties).toEqual({ kind: 'task', attempt: '1' });
      expect(Array.from(message.payload)).toEqual(Array.from(payload));
      expect(message.redeliveryCount).toBe(0);
      // The broker's clock may differ a little from ours.
      expect(message.publishTime).toBeGreaterThan(before - 10_000);
      expect(message.publishTime).toBeLessThan(Date.now() + 10_000);
    });

    it('publishes a copy of the payload: changing the array afterwards does not change the message', async () => {
      const topic = uniqueName('copy');
      const consumer = await messaging.subscribe(topic, uniqueName('sub'));
      const payload = text('original');

      await messaging.publish(topic, payload);
      payload.fill(0);

      expect(textOf(await receiveOne(consumer))).toBe('original');
    });

    it('delivers the messages of each key in the order they were published', async () => {
      const topic = uniqueName('ordering');
      const consumer = await messaging.subscribe(topic, uniqueName('sub'));
      const keys = ['alpha', 'beta', 'gamma'];
      for (let i = 0; i < 30; i++) {
        for (const key of keys) await messaging.publish(topic, text(`${key}:${i}`), { key });
      }

      const seen = new Map<string, number[]>(keys.map((key) => [key, []]));
      for (let i = 0; i < 90; i++) {
        const message = await receiveOne(consumer);
        const [key, index] = textOf(message).split(':');
        expect(message.key).toBe(key);
        seen.get(key)?.push(Number(index));
        await consumer.ack(message);
      }

      const inOrder = Array.from({ length: 30 }, (_, i) => i);
      for (const key of keys) expect(seen.get(key)).toEqual(inOrder);
    });

    it('on a key_shared subscription, sends all messages of a key to one consumer, in order', async () => {
      const topic = uniqueName('key-shared');
      const subscription = uniqueName('sub');
      const first = await messaging.subscribe(topic, subscription, { type: 'key_shared' });
      const second = await messaging.subscribe(topic, subscription, { type: 'key_shared' });
      // An odd number of keys, so that dealing messages out in turn would split every key.
      const keys = Array.from({ length: 7 }, (_, i) => `key-${i}`);
      for (let i = 0; i < 20; i++) {
        for (const key of keys) await messaging.publish(topic, text(`${key}:${i}`), { key });
      }

      const perConsumer = await drainTogether([first, second], 140);

      expect(perConsumer.flat()).toHaveLength(140);
      for (const key of keys) {
        const holders = perConsumer.filter((messages) => messages.some((message) => message.key === key));
        expect(holders).toHaveLength(1);
        const indexes = holders[0].filter((message) => message.key === key).map((m) => Number(textOf(m).split(':')[1]));
        expect(indexes).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
    });

    it('delivers a message that was not acknowledged again after its consumer closes, and not the acknowledged ones', async () => {
      const topic = uniqueName('redelivery');
      const subscription = uniqueName('sub');
      const first = await messaging.subscribe(topic, subscription, { type: 'shared' });
      await messaging.publish(topic, text('acknowledged'));
      await messaging.publish(topic, text('forgotten'));

      const acknowledged = await receiveOne(first);
      const forgotten = await receiveOne(first);
      expect([textOf(acknowledged), textOf(forgotten)]).toEqual(['acknowledged', 'forgotten']);
      await first.ack(acknowledged);
      await first.close();

      const second = await messaging.subscribe(topic, subscription, { type: 'shared' });
      const redelivered = await receiveOne(second);
      expect(redelivered.id).toBe(forgotten.id);
      expect(textOf(redelivered)).toBe('forgotten');
      expect(redelivered.redeliveryCount).toBeGreaterThanOrEqual(1);
      await second.ack(redelivered);
      expect(await second.receive(quiet)).toBeUndefined();
    });

    it('delivers a negatively acknowledged message again', async () => {
      const topic = uniqueName('nack');
      const consumer = await messaging.subscribe(topic, uniqueName('sub'), { type: 'shared' });
      await messaging.publish(topic, text('try again'), { key: 'k' });

      const first = await receiveOne(consumer);
      await consumer.nack(first);
      const again = await receiveOne(consumer);

      expect(again.id).toBe(first.id);
      expect(again.key).toBe('k');
      expect(textOf(again)).toBe('try again');
      expect(again.redeliveryCount).toBeGreaterThanOrEqual(1);
    });

    it('keeps a subscription position while no consumer is connected', async () => {
      const topic = uniqueName('durable');
      const subscription = uniqueName('sub');
      const first = await messaging.subscribe(topic, subscription);
      await messaging.publish(topic, text('before'));
      await first.ack(await receiveOne(first));
      await first.close();

      await messaging.publish(topic, text('while away 1'));
      await messaging.publish(topic, text('while away 2'));
      const second = await messaging.subscribe(topic, subscription);

      expect(textOf(await receiveOne(second))).toBe('while away 1');
      expect(textOf(await receiveOne(second))).toBe('while away 2');
    });

    it('starts a new subscription with initialPosition earliest at the first message of the topic', async () => {
      const topic = uniqueName('earliest');
      await messaging.publish(topic, text('one'));
      await messaging.publish(topic, text('two'));

      const consumer = await messaging.subscribe(topic, uniqueName('sub'), { initialPosition: 'earliest' });

      expect(textOf(await receiveOne(consumer))).toBe('one');
      expect(textOf(await receiveOne(consumer))).toBe('two');
    });

    it('deletes a topic with its messages and subscriptions; deleting it again, or one that never existed, does nothing', async () => {
      const topic = uniqueName('deleted');
      const subscription = uniqueName('sub');
      await messaging.publish(topic, text('old'));
      const before = await messaging.subscribe(topic, subscription, { initialPosition: 'earliest' });
      await before.close();

      await messaging.deleteTopic(topic);
      await messaging.deleteTopic(topic);
      await messaging.deleteTopic(uniqueName('never'));

      await messaging.publish(topic, text('new'));
      // Had the subscription survived, it would deliver the unacknowledged 'old' first.
      const after = await messaging.subscribe(topic, subscription, { initialPosition: 'earliest' });
      expect(textOf(await receiveOne(after))).toBe('new');
    });

    it('reports the backlog of each subscription: published and not yet acknowledged, received or not', async () => {
      if (typeof (messaging as Partial<MessagingBacklog>).backlog !== 'function') return;
      const backlogOf = (messaging as MessagingPort & MessagingBacklog).backlog.bind(messaging);
      const topic = uniqueName('backlog');
      expect(await backlogOf(uniqueName('never'))).toEqual([]);
      const consumer = await messaging.subscribe(topic, 'workers', { type: 'shared' });
      for (let i = 0; i < 5; i++) await messaging.publish(topic, text(`task ${i}`));
      await consumer.ack(await receiveOne(consumer));
      await receiveOne(consumer); // received, not acknowledged: still backlog
      // The broker counts acknowledgements as they reach it.
      const deadline = Date.now() + patience;
      let backlog = await backlogOf(topic);
      while (backlog[0]?.backlog !== 4 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, quiet));
        backlog = await backlogOf(topic);
      }
      expect(backlog).toEqual([{ subscription: 'workers', backlog: 4, oldestPublishedAt: expect.any(Number) }]);
    });

    it("reports the publish time of each subscription's oldest unacknowledged message, and none once all are acknowledged", async () => {
      if (typeof (messaging as Partial<MessagingBacklog>).backlog !== 'function') return;
      const backlogOf = (messaging as MessagingPort & MessagingBacklog).backlog.bind(messaging);
      const topic = uniqueName('oldest');
      const consumer = await messaging.subscribe(topic, 'workers', { type: 'shared' });
      const before = Date.now();
      await messaging.publish(topic, text('first'));
      const afterFirst = Date.now();
      await messaging.publish(topic, text('second'));
      // The broker stamps the publish time on its own clock (the same machine here): allow it a second either way.
      const clockSkewMs = 1000;
      const first = await receiveOne(consumer); // received, not acknowledged: still the oldest waiting
      const waiting = await backlogOf(topic);
      expect(waiting).toHaveLength(1);
      expect(waiting[0].backlog).toBe(2);
      expect(waiting[0].oldestPublishedAt).toBeGreaterThanOrEqual(before - clockSkewMs);
      expect(waiting[0].oldestPublishedAt).toBeLessThanOrEqual(afterFirst + clockSkewMs);

      await consumer.ack(first);
      await consumer.ack(await receiveOne(consumer));
      const deadline = Date.now() + Math.max(patience, 30_000);
      let drained = await backlogOf(topic);
      while (drained[0]?.backlog !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, quiet));
        drained = await backlogOf(topic);
      }
      expect(drained).toEqual([{ subscription: 'workers', backlog: 0 }]);
    });

    it('starts a new subscription after the last published message by default (latest)', async () => {
      const topic = uniqueName('latest');
      await messaging.publish(topic, text('old'));

      const consumer = await messaging.subscribe(topic, uniqueName('sub'));
      await messaging.publish(topic, text('new'));

      const message = await receiveOne(consumer);
      expect(textOf(message)).toBe('new');
      await consumer.ack(message);
      expect(await consumer.receive(quiet)).toBeUndefined();
    });

    it('ignores initialPosition when the subscription already exists', async () => {
      const topic = uniqueName('position-once');
      const subscription = uniqueName('sub');
      await messaging.publish(topic, text('before the subscription'));
      const first = await messaging.subscribe(topic, subscription, { initialPosition: 'latest' });
      await first.close();

      const second = await messaging.subscribe(topic, subscription, { initialPosition: 'earliest' });
      await messaging.publish(topic, text('after the subscription'));

      expect(textOf(await receiveOne(second))).toBe('after the subscription');
    });

    it('on a shared subscription, spreads messages across consumers and gives each message to only one', async () => {
      const topic = uniqueName('shared');
      const subscription = uniqueName('sub');
      const first = await messaging.subscribe(topic, subscription, { type: 'shared' });
      const second = await messaging.subscribe(topic, subscription, { type: 'shared' });
      for (let i = 0; i < 100; i++) await messaging.publish(topic, text(`m${i}`));

      const [toFirst, toSecond] = await drainTogether([first, second], 100);

      expect(toFirst.length).toBeGreaterThan(0);
      expect(toSecond.length).toBeGreaterThan(0);
      const all = [...toFirst, ...toSecond].map(textOf);
      expect(new Set(all).size).toBe(100);
      expect(all).toHaveLength(100);
      expect(await first.receive(quiet)).toBeUndefined();
      expect(await second.receive(quiet)).toBeUndefined();
    });

    it('refuses a second consumer on an exclusive subscription, and accepts one after the first closes', async () => {
      const topic = uniqueName('exclusive');
      const subscription = uniqueName('sub');
      const first = await messaging.subscribe(topic, subscription, { type: 'exclusive' });

      await expect(messaging.subscribe(topic, subscription, { type: 'exclusive' })).rejects.toThrow(Error);

      await first.close();
      const second = await messaging.subscribe(topic, subscription, { type: 'exclusive' });
      await messaging.publish(topic, text('for the second consumer'));
      expect(textOf(await receiveOne(second))).toBe('for the second consumer');
    });

    it('on a failover subscription, moves delivery to the standby consumer when the active one closes', async () => {
      const topic = uniqueName('failover');
      const subscription = uniqueName('sub');
      // On a non-partitioned topic the first consumer to attach is the active one.
      const active = await messaging.subscribe(topic, subscription, { type: 'failover' });
      const standby = await messaging.subscribe(topic, subscription, { type: 'failover' });
      await messaging.publish(topic, text('unfinished'));

      expect(textOf(await receiveOne(active))).toBe('unfinished');
      await active.close();
      await messaging.publish(topic, text('next'));

      expect(textOf(await receiveOne(standby))).toBe('unfinished');
      expect(textOf(await receiveOne(standby))).toBe('next');
    });

    it('resolves receive with undefined when nothing is published within the timeout', async () => {
      const consumer = await messaging.subscribe(uniqueName('silent'), uniqueName('sub'));
      const started = Date.now();

      expect(await consumer.receive(quiet)).toBeUndefined();
      // Timers may fire a few milliseconds early by the wall clock.
      expect(Date.now() - started).toBeGreaterThanOrEqual(quiet - 20);
    });

    it('delivers two thousand acknowledged messages exactly once each, in order, with distinct ids', async () => {
      const topic = uniqueName('bulk');
      const consumer = await messaging.subscribe(topic, uniqueName('sub'));
      const published: string[] = [];
      for (let i = 0; i < 2000; i++) published.push(await messaging.publish(topic, text(String(i))));

      const received: ReceivedMessage[] = [];
      for (let i = 0; i < 2000; i++) {
        const message = await receiveOne(consumer);
        received.push(message);
        await consumer.ack(message);
      }

      expect(new Set(published).size).toBe(2000);
      expect(received.map((message) => message.id)).toEqual(published);
      expect(received.map(textOf)).toEqual(Array.from({ length: 2000 }, (_, i) => String(i)));
      expect(await consumer.receive(quiet)).toBeUndefined();
    });

    it('refuses to receive on a closed consumer', async () => {
      const consumer = await messaging.subscribe(uniqueName('closed-consumer'), uniqueName('sub'));
      await consumer.close();

      await expect(consumer.receive(quiet)).rejects.toThrow(Error);
    });

    it('closes its consumers when closed and refuses later calls', async () => {
      const port = await create();
      const topic = uniqueName('closed-port');
      const consumer = await port.subscribe(topic, uniqueName('sub'));

      await port.close();

      await expect(consumer.receive(quiet)).rejects.toThrow(Error);
      await expect(port.publish(topic, text('too late'))).rejects.toThrow(Error);
      await expect(port.subscribe(topic, uniqueName('sub'))).rejects.toThrow(Error);
      await expect(port.close()).resolves.toBeUndefined();
    });
  });
}

function uniqueName(prefix: string): string {
  return `contract-${prefix}-${randomBytes(6).toString('hex')}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function text(value: string): Uint8Array {
  return encoder.encode(value);
}

function textOf(message: ReceivedMessage): string {
  return decoder.decode(message.payload);
}
