import type {
  Consumer,
  MessagingBacklog,
  MessagingPort,
  PublishOptions,
  ReceivedMessage,
  SubscribeOptions,
  SubscriptionBacklog,
  SubscriptionType,
} from '../ports';

export interface MemoryMessagingOptions {
  /**
   * How many messages the broker hands to one consumer ahead of its receive()
   * calls (Pulsar's receiverQueueSize). Bounding it is what lets a consumer
   * that joins a shared subscription late take part of an existing backlog.
   * key_shared subscriptions ignore it: a key's messages may only go to the
   * consumer owning the key, so holding them back would stall every other key.
   */
  receiverQueueSize?: number;
}

interface StoredMessage {
  readonly id: string;
  /** Position in the topic log; orders redeliveries. */
  readonly seq: number;
  readonly topic: string;
  readonly key: string | undefined;
  readonly properties: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
  readonly publishTime: number;
}

interface Topic {
  readonly name: string;
  /** Append-only: the memory broker retains every message. */
  readonly log: StoredMessage[];
  readonly subscriptions: Map<string, Subscription>;
}

interface PendingMessage {
  readonly message: StoredMessage;
  redeliveryCount: number;
}

interface Subscription {
  readonly topic: Topic;
  readonly name: string;
  type: SubscriptionType;
  /** Index in the topic log of the first message never dispatched. */
  cursor: number;
  /**
   * Every dispatched, unacknowledged message by id, wherever it is (a
   * consumer's queue, received by the application, or awaiting redelivery).
   * Acknowledging deletes the entry; the queues skip messages missing here.
   */
  readonly pending: Map<string, PendingMessage>;
  /** Messages to dispatch again before the cursor moves on, by seq descending so the next one is last. */
  readonly replay: StoredMessage[];
  /** Connected consumers in attach order; for failover the first one is active. */
  readonly consumers: ConsumerState[];
  rotation: number;
  readonly keyOwners: Map<string, ConsumerState>;
}

interface Waiter {
  readonly resolve: (message: ReceivedMessage | undefined) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

interface ConsumerState {
  readonly subscription: Subscription;
  /** Dispatched to this consumer and not yet returned by receive(), sorted by seq from `head` on. */
  queue: StoredMessage[];
  head: number;
  /** Ids returned by receive() and not yet acknowledged or negatively acknowledged. */
  readonly received: Set<string>;
  readonly waiters: Waiter[];
  readonly ownedKeys: Set<string>;
  closed: boolean;
}

const SUBSCRIPTION_TYPES: readonly SubscriptionType[] = ['exclusive', 'shared', 'failover', 'key_shared'];
/** Longer timeouts overflow setTimeout; treat them as "wait until a message comes". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * In-process broker with the semantics of Apache Pulsar persistent topics:
 * durable named subscriptions, at-least-once delivery, the four subscription
 * types. Unset subscription type means exclusive, as in Pulsar.
 */
export class MemoryMessaging implements MessagingPort, MessagingBacklog {
  private readonly topics = new Map<string, Topic>();
  private readonly receiverQueueSize: number;
  private closed = false;

  constructor(options: MemoryMessagingOptions = {}) {
    const size = options.receiverQueueSize ?? 1000;
    if (!Number.isInteger(size) || size < 1) {
      throw new Error(`receiverQueueSize must be a positive integer, got ${size}`);
    }
    this.receiverQueueSize = size;
  }

  async publish(topicName: string, payload: Uint8Array, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    assertName('topic', topicName);
    if (!(payload instanceof Uint8Array)) throw new Error('payload must be a Uint8Array');
    const topic = this.topicNamed(topicName);
    const seq = topic.log.length;
    const message: StoredMessage = {
      id: String(seq),
      seq,
      topic: topicName,
      key: options.key,
      properties: { ...options.properties },
      payload: new Uint8Array(payload),
      publishTime: Date.now(),
    };
    topic.log.push(message);
    for (const subscription of topic.subscriptions.values()) this.dispatch(subscription);
    return message.id;
  }

  /** Per subscription: messages never dispatched plus those dispatched and not yet acknowledged (Pulsar's msgBacklog). */
  async backlog(topicName: string): Promise<SubscriptionBacklog[]> {
    this.assertOpen();
    const topic = this.topics.get(topicName);
    if (!topic) return [];
    return [...topic.subscriptions.values()].map((subscription) => {
      let oldestPublishedAt = subscription.cursor < topic.log.length ? topic.log[subscription.cursor].publishTime : Infinity;
      for (const pending of subscription.pending.values()) oldestPublishedAt = Math.min(oldestPublishedAt, pending.message.publishTime);
      return {
        subscription: subscription.name,
        backlog: topic.log.length - subscription.cursor + subscription.pending.size,
        ...(Number.isFinite(oldestPublishedAt) ? { oldestPublishedAt } : {}),
      };
    });
  }

  async subscribe(topicName: string, subscriptionName: string, options: SubscribeOptions = {}): Promise<Consumer> {
    this.assertOpen();
    assertName('topic', topicName);
    assertName('subscription', subscriptionName);
    const type = options.type ?? 'exclusive';
    const initialPosition = options.initialPosition ?? 'latest';
    if (!SUBSCRIPTION_TYPES.includes(type)) throw new Error(`unknown subscription type "${type}"`);
    if (initialPosition !== 'earliest' && initialPosition !== 'latest') {
      throw new Error(`unknown initial position "${initialPosition}"`);
    }

    const topic = this.topicNamed(topicName);
    let subscription = topic.subscriptions.get(subscriptionName);
    if (!subscription) {
      subscription = {
        topic,
        name: subscriptionName,
        type,
        cursor: initialPosition === 'earliest' ? 0 : topic.log.length,
        pending: new Map(),
        replay: [],
        consumers: [],
        rotation: 0,
        keyOwners: new Map(),
      };
      topic.subscriptions.set(subscriptionName, subscription);
    } else if (subscription.consumers.length === 0) {
      subscription.type = type;
    } else if (subscription.type !== type) {
      throw new Error(
        `subscription "${subscriptionName}" on topic "${topicName}" is ${subscription.type} ` +
          `and has consumers; a ${type} consumer cannot join it`,
      );
    } else if (type === 'exclusive') {
      throw new Error(
        `subscription "${subscriptionName}" on topic "${topicName}" is exclusive and already has a consumer`,
      );
    }

    const state: ConsumerState = {
      subscription,
      queue: [],
      head: 0,
      received: new Set(),
      waiters: [],
      ownedKeys: new Set(),
      closed: false,
    };
    subscription.consumers.push(state);
    this.dispatch(subscription);
    return {
      receive: (timeoutMs) => this.receive(state, timeoutMs),
      ack: (message) => this.ack(state, message),
      nack: (message) => this.nack(state, message),
      close: async () => this.closeConsumer(state),
    };
  }

  async deleteTopic(topicName: string): Promise<void> {
    this.assertOpen();
    assertName('topic', topicName);
    const topic = this.topics.get(topicName);
    if (!topic) return;
    for (const subscription of topic.subscriptions.values()) {
      for (const consumer of [...subscription.consumers]) this.closeConsumer(consumer);
    }
    this.topics.delete(topicName);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const topic of this.topics.values()) {
      for (const subscription of topic.subscriptions.values()) {
        for (const consumer of [...subscription.consumers]) this.closeConsumer(consumer);
      }
    }
  }

  private async receive(consumer: ConsumerState, timeoutMs: number): Promise<ReceivedMessage | undefined> {
    this.assertUsable(consumer);
    if (Number.isNaN(timeoutMs)) throw new Error('timeoutMs must be a number');
    const message = this.takeQueued(consumer);
    if (message) {
      consumer.received.add(message.id);
      // Taking a message made room in this consumer's queue.
      this.dispatch(consumer.subscription);
      return this.toReceived(consumer.subscription, message);
    }
    if (timeoutMs <= 0) return undefined;
    // The queue is empty, so nothing can be dispatched to this consumer right
    // now: dispatch runs on every change and would already have filled it.
    return new Promise((resolve) => {
      const timer =
        timeoutMs < MAX_TIMER_MS
          ? setTimeout(() => {
              consumer.waiters.splice(consumer.waiters.indexOf(waiter), 1);
              resolve(undefined);
            }, timeoutMs)
          : undefined;
      const waiter: Waiter = { resolve, timer };
      consumer.waiters.push(waiter);
    });
  }

  private async ack(consumer: ConsumerState, message: ReceivedMessage): Promise<void> {
    this.assertUsable(consumer);
    this.assertSameTopic(consumer, message);
    consumer.subscription.pending.delete(message.id);
    consumer.received.delete(message.id);
  }

  private async nack(consumer: ConsumerState, message: ReceivedMessage): Promise<void> {
    this.assertUsable(consumer);
    this.assertSameTopic(consumer, message);
    if (!consumer.received.delete(message.id)) return;
    const subscription = consumer.subscription;
    const pending = subscription.pending.get(message.id);
    if (!pending) return;
    pending.redeliveryCount += 1;
    this.scheduleRedelivery(subscription, [pending.message]);
    this.dispatch(subscription);
  }

  private closeConsumer(consumer: ConsumerState): void {
    if (consumer.closed) return;
    consumer.closed = true;
    for (const waiter of consumer.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }

    const subscription = consumer.subscription;
    subscription.consumers.splice(subscription.consumers.indexOf(consumer), 1);
    for (const key of consumer.ownedKeys) subscription.keyOwners.delete(key);

    const returned: StoredMessage[] = [];
    for (const id of consumer.received) {
      const pending = subscription.pending.get(id);
      if (!pending) continue;
      pending.redeliveryCount += 1;
      returned.push(pending.message);
    }
    // Messages still queued were never seen by the application: no redelivery counted.
    for (let i = consumer.head; i < consumer.queue.length; i++) {
      const message = consumer.queue[i];
      if (subscription.pending.has(message.id)) returned.push(message);
    }
    consumer.received.clear();
    consumer.queue = [];
    consumer.head = 0;
    this.scheduleRedelivery(subscription, returned);
    // While the whole port closes, handing messages to sibling consumers about to close too would be pointless.
    if (!this.closed) this.dispatch(subscription);
  }

  /** Moves available messages into consumer queues (or straight to a waiting receive) until none can move. */
  private dispatch(subscription: Subscription): void {
    const { replay, pending, topic } = subscription;
    for (;;) {
      while (replay.length > 0 && !pending.has(replay[replay.length - 1].id)) replay.pop();
      const fromReplay = replay.length > 0;
      const message = fromReplay ? replay[replay.length - 1] : topic.log[subscription.cursor];
      if (!message) return;
      const consumer = this.chooseConsumer(subscription, message);
      if (!consumer) return;
      if (fromReplay) {
        replay.pop();
      } else {
        subscription.cursor += 1;
        pending.set(message.id, { message, redeliveryCount: 0 });
      }
      this.deliver(consumer, message);
    }
  }

  private chooseConsumer(subscription: Subscription, message: StoredMessage): ConsumerState | undefined {
    const hasRoom = (consumer: ConsumerState) => consumer.queue.length - consumer.head < this.receiverQueueSize;
    switch (subscription.type) {
      case 'exclusive':
      case 'failover': {
        const active = subscription.consumers[0];
        return active && hasRoom(active) ? active : undefined;
      }
      case 'shared':
        return this.nextInRotation(subscription, hasRoom);
      case 'key_shared': {
        if (message.key === undefined) return this.nextInRotation(subscription, () => true);
        const owner = subscription.keyOwners.get(message.key);
        if (owner) return owner;
        const newOwner = this.nextInRotation(subscription, () => true);
        if (newOwner) {
          subscription.keyOwners.set(message.key, newOwner);
          newOwner.ownedKeys.add(message.key);
        }
        return newOwner;
      }
    }
  }

  private nextInRotation(
    subscription: Subscription,
    accepts: (consumer: ConsumerState) => boolean,
  ): ConsumerState | undefined {
    const { consumers } = subscription;
    for (let i = 0; i < consumers.length; i++) {
      const index = (subscription.rotation + i) % consumers.length;
      if (accepts(consumers[index])) {
        subscription.rotation = (index + 1) % consumers.length;
        return consumers[index];
      }
    }
    return undefined;
  }

  private deliver(consumer: ConsumerState, message: StoredMessage): void {
    const waiter = consumer.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      consumer.received.add(message.id);
      waiter.resolve(this.toReceived(consumer.subscription, message));
      return;
    }
    const { queue } = consumer;
    if (queue.length === consumer.head || queue[queue.length - 1].seq < message.seq) {
      queue.push(message);
      return;
    }
    // A redelivered message goes before the newer ones already queued, so a
    // key's messages still reach the application in publish order.
    let low = consumer.head;
    let high = queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (queue[middle].seq < message.seq) low = middle + 1;
      else high = middle;
    }
    queue.splice(low, 0, message);
  }

  private takeQueued(consumer: ConsumerState): StoredMessage | undefined {
    const { pending } = consumer.subscription;
    while (consumer.head < consumer.queue.length) {
      const message = consumer.queue[consumer.head];
      consumer.head += 1;
      if (consumer.head === consumer.queue.length) {
        consumer.queue = [];
        consumer.head = 0;
      } else if (consumer.head >= 1024 && consumer.head * 2 >= consumer.queue.length) {
        consumer.queue = consumer.queue.slice(consumer.head);
        consumer.head = 0;
      }
      if (pending.has(message.id)) return message;
    }
    return undefined;
  }

  private scheduleRedelivery(subscription: Subscription, messages: StoredMessage[]): void {
    if (messages.length === 0) return;
    for (const message of messages) subscription.replay.push(message);
    subscription.replay.sort((a, b) => b.seq - a.seq);
  }

  private toReceived(subscription: Subscription, message: StoredMessage): ReceivedMessage {
    const received: ReceivedMessage = {
      id: message.id,
      topic: message.topic,
      properties: { ...message.properties },
      payload: new Uint8Array(message.payload),
      publishTime: message.publishTime,
      redeliveryCount: subscription.pending.get(message.id)?.redeliveryCount ?? 0,
    };
    if (message.key !== undefined) received.key = message.key;
    return received;
  }

  private topicNamed(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = { name, log: [], subscriptions: new Map() };
      this.topics.set(name, topic);
    }
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryMessaging is closed');
  }

  private assertUsable(consumer: ConsumerState): void {
    this.assertOpen();
    if (consumer.closed) {
      const { topic, name } = consumer.subscription;
      throw new Error(`consumer of subscription "${name}" on topic "${topic.name}" is closed`);
    }
  }

  private assertSameTopic(consumer: ConsumerState, message: ReceivedMessage): void {
    const topic = consumer.subscription.topic.name;
    if (message.topic !== topic) {
      throw new Error(`message ${message.id} is from topic "${message.topic}", not "${topic}"`);
    }
  }
}

function assertName(what: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${what} name must be a non-empty string`);
}
