import type { Consumer, ReceivedMessage } from '../../adapters/ports';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import { messagingContract } from '../contracts/messaging.contract';

messagingContract('MemoryMessaging', async () => new MemoryMessaging());

describe('MemoryMessaging', () => {
  let messaging: MemoryMessaging;

  beforeEach(() => {
    messaging = new MemoryMessaging();
  });

  afterEach(async () => {
    await messaging.close();
  });

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const text = (value: string) => encoder.encode(value);
  const textOf = (message: ReceivedMessage | undefined) => (message ? decoder.decode(message.payload) : undefined);

  /** Everything the consumer has queued right now, without waiting. */
  async function takeAll(consumer: Consumer): Promise<ReceivedMessage[]> {
    const messages: ReceivedMessage[] = [];
    for (let message = await consumer.receive(0); message; message = await consumer.receive(0)) {
      messages.push(message);
    }
    return messages;
  }

  it('deals the messages of a shared subscription to its consumers in turn', async () => {
    const first = await messaging.subscribe('jobs', 'workers', { type: 'shared' });
    const second = await messaging.subscribe('jobs', 'workers', { type: 'shared' });

    for (let i = 0; i < 6; i++) await messaging.publish('jobs', text(`job ${i}`));

    expect((await takeAll(first)).map(textOf)).toEqual(['job 0', 'job 2', 'job 4']);
    expect((await takeAll(second)).map(textOf)).toEqual(['job 1', 'job 3', 'job 5']);
  });

  it('gives a consumer that joins a shared subscription late the backlog beyond the receiver queues of the others', async () => {
    const bounded = new MemoryMessaging({ receiverQueueSize: 10 });
    const early = await bounded.subscribe('jobs', 'workers', { type: 'shared' });
    for (let i = 0; i < 100; i++) await bounded.publish('jobs', text(`job ${i}`));

    const late = await bounded.subscribe('jobs', 'workers', { type: 'shared' });
    const toLate = await takeAll(late);
    const toEarly = await takeAll(early);

    expect(toEarly.map(textOf)).toEqual(Array.from({ length: 10 }, (_, i) => `job ${i}`));
    expect(toLate.map(textOf)).toEqual(Array.from({ length: 90 }, (_, i) => `job ${i + 10}`));
    await bounded.close();
  });

  it('on key_shared, keeps a key with its consumer while connected and moves it, in order, once that consumer closes', async () => {
    const first = await messaging.subscribe('events', 'projector', { type: 'key_shared' });
    const second = await messaging.subscribe('events', 'projector', { type: 'key_shared' });
    await messaging.publish('events', text('a1'), { key: 'a' });
    await messaging.publish('events', text('b1'), { key: 'b' });
    await messaging.publish('events', text('b2'), { key: 'b' });
    await messaging.publish('events', text('a2'), { key: 'a' });

    const toFirst = await takeAll(first);
    expect(toFirst.map(textOf)).toEqual(['a1', 'a2']);
    expect((await takeAll(second)).map(textOf)).toEqual(['b1', 'b2']);
    await first.ack(toFirst[0]);
    await messaging.publish('events', text('a3'), { key: 'a' });
    await first.close();

    const moved = await takeAll(second);
    expect(moved.map(textOf)).toEqual(['a2', 'a3']);
    expect(moved.map((message) => message.redeliveryCount)).toEqual([1, 0]);
  });

  it('counts as redelivered only messages the application received, not those still waiting in the consumer queue', async () => {
    const first = await messaging.subscribe('tasks', 'runner');
    await messaging.publish('tasks', text('seen'));
    await messaging.publish('tasks', text('queued'));
    expect(textOf(await first.receive(0))).toBe('seen');
    await first.close();

    const second = await messaging.subscribe('tasks', 'runner');
    const [seen, queued] = await takeAll(second);

    expect([textOf(seen), seen.redeliveryCount]).toEqual(['seen', 1]);
    expect([textOf(queued), queued.redeliveryCount]).toEqual(['queued', 0]);
  });

  it('redelivers a negatively acknowledged message before the newer messages already queued', async () => {
    const consumer = await messaging.subscribe('tasks', 'runner');
    await messaging.publish('tasks', text('first'), { key: 'k' });
    await messaging.publish('tasks', text('second'), { key: 'k' });

    await consumer.nack((await consumer.receive(0)) as ReceivedMessage);

    expect((await takeAll(consumer)).map(textOf)).toEqual(['first', 'second']);
  });

  it('redelivers the messages of a closed consumer in publish order, even those it had received out of order', async () => {
    // A one-message receiver queue makes the broker's own redelivery order visible.
    const bounded = new MemoryMessaging({ receiverQueueSize: 1 });
    const first = await bounded.subscribe('tasks', 'runner');
    for (const name of ['one', 'two', 'three']) await bounded.publish('tasks', text(name), { key: 'k' });
    const one = (await first.receive(0)) as ReceivedMessage;
    expect(textOf(await first.receive(0))).toBe('two');
    await first.nack(one);
    expect(textOf(await first.receive(0))).toBe('three');
    await first.close();

    const second = await bounded.subscribe('tasks', 'runner');

    expect((await takeAll(second)).map(textOf)).toEqual(['one', 'two', 'three']);
    await bounded.close();
  });

  it('lets any consumer of a subscription acknowledge a message, so it is not redelivered', async () => {
    const first = await messaging.subscribe('tasks', 'runner', { type: 'shared' });
    const second = await messaging.subscribe('tasks', 'runner', { type: 'shared' });
    await messaging.publish('tasks', text('done elsewhere'));
    const message = (await first.receive(0)) as ReceivedMessage;

    await second.ack(message);
    await first.close();

    expect(await second.receive(0)).toBeUndefined();
  });

  it('refuses to acknowledge a message from another topic', async () => {
    const consumer = await messaging.subscribe('tasks', 'runner');
    const other = await messaging.subscribe('other', 'runner');
    await messaging.publish('other', text('elsewhere'));
    const message = (await other.receive(0)) as ReceivedMessage;

    await expect(consumer.ack(message)).rejects.toThrow(/topic/);
  });

  it('stamps a message with the time the broker accepted it', async () => {
    const consumer = await messaging.subscribe('tasks', 'runner');
    const before = Date.now();
    await messaging.publish('tasks', text('now'));
    const after = Date.now();

    const message = (await consumer.receive(0)) as ReceivedMessage;

    expect(message.publishTime).toBeGreaterThanOrEqual(before);
    expect(message.publishTime).toBeLessThanOrEqual(after);
  });

  it('hands each receive its own copy of the payload', async () => {
    const first = await messaging.subscribe('tasks', 'runner', { type: 'shared' });
    await messaging.publish('tasks', text('intact'));
    const message = (await first.receive(0)) as ReceivedMessage;

    message.payload.fill(0);
    await first.nack(message);

    expect(textOf(await first.receive(0))).toBe('intact');
  });

  it('resolves a receive that is waiting when its consumer closes with undefined', async () => {
    const consumer = await messaging.subscribe('tasks', 'runner');
    const waiting = consumer.receive(60_000);

    await consumer.close();

    await expect(waiting).resolves.toBeUndefined();
  });

  it('resolves a receive that is waiting when the port closes with undefined', async () => {
    const consumer = await messaging.subscribe('tasks', 'runner');
    const waiting = consumer.receive(60_000);

    await messaging.close();

    await expect(waiting).resolves.toBeUndefined();
  });

  describe('timers', () => {
    beforeEach(() => {
      jest.useFakeTimers();
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('clears the timeout of a receive as soon as a message arrives', async () => {
      const consumer = await messaging.subscribe('tasks', 'runner');
      const waiting = consumer.receive(60_000);
      expect(jest.getTimerCount()).toBe(1);

      await messaging.publish('tasks', text('arrived'));

      expect(textOf(await waiting)).toBe('arrived');
      expect(jest.getTimerCount()).toBe(0);
    });

    it('answers a receive with timeout 0 at once, without a timer', async () => {
      const consumer = await messaging.subscribe('tasks', 'runner');

      await expect(consumer.receive(0)).resolves.toBeUndefined();
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  it('refuses a consumer of another type while the subscription has consumers, and accepts it once none is left', async () => {
    const shared = await messaging.subscribe('tasks', 'runner', { type: 'shared' });

    await expect(messaging.subscribe('tasks', 'runner', { type: 'key_shared' })).rejects.toThrow(/shared/);

    await shared.close();
    await messaging.subscribe('tasks', 'runner', { type: 'key_shared' });
    await expect(messaging.subscribe('tasks', 'runner', { type: 'key_shared' })).resolves.toBeDefined();
  });

  it('names the subscription and topic when it refuses a second exclusive consumer', async () => {
    await messaging.subscribe('tasks', 'runner', { type: 'exclusive' });

    await expect(messaging.subscribe('tasks', 'runner')).rejects.toThrow(
      'subscription "runner" on topic "tasks" is exclusive and already has a consumer',
    );
  });

  it('rejects empty topic and subscription names', async () => {
    await expect(messaging.publish('', text('x'))).rejects.toThrow(/topic/);
    await expect(messaging.subscribe('tasks', '')).rejects.toThrow(/subscription/);
  });

  it('moves 100,000 messages through a subscription, each exactly once', async () => {
    const consumer = await messaging.subscribe('firehose', 'sink');
    const payload = new Uint8Array(64);
    const total = 100_000;

    const consumed = (async () => {
      const ids = new Set<string>();
      while (ids.size < total) {
        const message = await consumer.receive(1000);
        if (!message) break;
        ids.add(message.id);
        await consumer.ack(message);
      }
      return ids.size;
    })();
    for (let i = 0; i < total; i++) await messaging.publish('firehose', payload, { key: `k${i % 16}` });

    expect(await consumed).toBe(total);
    expect(await consumer.receive(0)).toBeUndefined();
  }, 10_000);
});
