// A consumer over one WebSocket in pull mode: the adapter grants the broker
// permits to keep a bounded local queue (receiverQueueSize) filled, so a slow
// application never has more than that many messages pushed at it. If the
// socket drops (broker restart), it reconnects with backoff; the broker
// redelivers whatever was not acknowledged, so nothing acknowledged-as-published
// is lost.
import type WebSocket from 'ws';
import type { Consumer, ReceivedMessage, SubscriptionType } from '../ports';
import { CHUNK_COUNT, CHUNK_ID, CHUNK_INDEX, ChunkGroup, isChunk, userProperties } from './chunks';
import { PulsarError, describeError } from './errors';
import { messageIdBase64, messageIdString } from './message-id';
import { backoff, openSocket, withRetry } from './socket';
import type { PulsarTopic } from './topics';

/** A message as the broker delivered it, possibly put together from chunks. */
interface Delivery {
  readonly id: string;
  /** Broker ids to acknowledge (one, or one per chunk and duplicate). */
  readonly rawIds: string[];
  readonly key: string | undefined;
  readonly properties: Record<string, string>;
  readonly payload: Buffer;
  readonly publishTime: number;
  readonly redeliveryCount: number;
}

interface BrokerMessage {
  messageId: string;
  payload?: string;
  properties?: Record<string, string>;
  publishTime?: string;
  redeliveryCount?: number;
  key?: string;
}

interface ChunkHead {
  frame: BrokerMessage;
  publishTime: number;
  brokerCount: number;
}

interface Waiter {
  readonly resolve: (message: ReceivedMessage | undefined) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

/** What a consumer needs from the port that made it. */
export interface ConsumerHost {
  readonly closed: boolean;
  /** Redeliveries the broker does not count (a consumer closed or nacked): id -> at least this count. */
  redeliveries(subscriptionKey: string): Map<string, number>;
  /** When a consumer of this port last closed on the subscription (ms epoch). */
  lastClosed(subscriptionKey: string): number | undefined;
  /**
   * A subscribe upgrade to this subscription timed out: the broker may still make its consumer
   * (holding an exclusive subscription) until `ended` settles. Kept across consumers: a caller
   * that gave up on one subscribe and calls subscribe again meets the late socket of the first.
   */
  subscribeAbandoned(subscriptionKey: string, ended: Promise<void>): void;
  /** Whether an abandoned upgrade may still hold the subscription: pending, or ended within graceMs. */
  abandonedMayHold(subscriptionKey: string, graceMs: number): boolean;
  consumerClosed(consumer: PulsarConsumer): void;
  /** A consumer's connection dropped and it opened a new one. */
  consumerReconnected(topic: string): void;
  siblings(subscriptionKey: string): Iterable<PulsarConsumer>;
}

export interface PulsarConsumerOptions {
  url: string;
  topic: PulsarTopic;
  subscription: string;
  type: SubscriptionType;
  authToken?: string;
  receiverQueueSize: number;
  connectTimeoutMs: number;
  unavailableAfterMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  chunkAssemblyTimeoutMs: number;
  pingIntervalMs: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** The broker releases an exclusive subscription a moment after the socket closes. */
const RELEASE_GRACE_MS = 3000;
const MAX_REMEMBERED = 10_000;

export class PulsarConsumer implements Consumer {
  readonly subscriptionKey: string;
  private ws: WebSocket | undefined;
  private closed = false;
  private buffer: Delivery[] = [];
  private readonly bufferedIds = new Set<string>();
  /** Returned by receive() and not yet acknowledged or negatively acknowledged. */
  readonly received = new Map<string, Delivery>();
  private readonly waiters: Waiter[] = [];
  private readonly groups = new Map<string, ChunkGroup<string, ChunkHead>>();
  /** Permits the broker still holds on the current socket. */
  private granted = 0;
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private lastError = '';
  private connectedWaiters: (() => void)[] = [];
  private attachedBefore = false;

  constructor(
    private readonly host: ConsumerHost,
    private readonly options: PulsarConsumerOptions,
  ) {
    this.subscriptionKey = `${options.topic.fullName}\u0000${options.subscription}`;
  }

  get topic(): string {
    return this.options.topic.logical;
  }

  /** Subscribes; retries while the broker is unreachable, within the bounded wait. */
  async start(): Promise<void> {
    const { topic, subscription, type } = this.options;
    // Upgrades of a subscribe that timed out: the broker may have made their consumer, which
    // holds an exclusive subscription until the late socket is closed (openSocket closes it).
    const abandoned = (ended: Promise<void>) => this.host.subscribeAbandoned(this.subscriptionKey, ended);
    const ws = await withRetry(
      () => openSocket(this.options.url, { authToken: this.options.authToken, timeoutMs: this.options.connectTimeoutMs, abandoned }),
      {
        deadlineMs: this.options.unavailableAfterMs,
        what: `subscribe "${subscription}" on topic "${topic.logical}"`,
        aborted: () => this.closed || this.host.closed,
        // Our own consumer that just closed, or an attempt of this subscribe that timed out, may
        // still hold the subscription for a moment.
        retryIf: (error, elapsed) =>
          error instanceof PulsarError &&
          error.code === 'CONFLICT' &&
          /already connected/i.test(error.message) &&
          ((elapsed < RELEASE_GRACE_MS && Date.now() - (this.host.lastClosed(this.subscriptionKey) ?? 0) < RELEASE_GRACE_MS) ||
            this.host.abandonedMayHold(this.subscriptionKey, RELEASE_GRACE_MS)),
      },
    ).catch((error: unknown) => {
      if (error instanceof PulsarError && error.code === 'CONFLICT') {
        const reason = /different/i.test(error.message)
          ? `has consumers of another type; a ${type} consumer cannot join it`
          : 'is exclusive and already has a consumer';
        throw new PulsarError('CONFLICT', `subscription "${subscription}" on topic "${topic.logical}" ${reason} (${error.message})`, 409);
      }
      throw error;
    });
    if (this.closed || this.host.closed) {
      ws.close(1000);
      throw new PulsarError('CLOSED', 'PulsarMessaging is closed');
    }
    this.attach(ws);
    this.pingTimer = setInterval(() => this.heartbeat(), this.options.pingIntervalMs);
    this.pingTimer.unref();
  }

  async receive(timeoutMs: number): Promise<ReceivedMessage | undefined> {
    this.assertUsable();
    if (Number.isNaN(timeoutMs)) throw new PulsarError('INVALID_ARGUMENT', 'timeoutMs must be a number');
    const delivery = this.take();
    if (delivery) return this.toReceived(delivery);
    if (timeoutMs <= 0) return undefined;
    return new Promise((resolve) => {
      const timer =
        timeoutMs < MAX_TIMER_MS
          ? setTimeout(() => {
              const index = this.waiters.indexOf(waiter);
              if (index >= 0) this.waiters.splice(index, 1);
              resolve(undefined);
            }, timeoutMs)
          : undefined;
      const waiter: Waiter = { resolve, timer };
      this.waiters.push(waiter);
    });
  }

  async ack(message: ReceivedMessage): Promise<void> {
    this.assertUsable();
    this.assertSameTopic(message);
    const delivery = this.forget(message.id);
    this.host.redeliveries(this.subscriptionKey).delete(message.id);
    const rawIds = delivery?.rawIds ?? [this.encodeId(message.id)];
    await this.command(rawIds.map((messageId) => ({ messageId })));
  }

  async nack(message: ReceivedMessage): Promise<void> {
    this.assertUsable();
    this.assertSameTopic(message);
    const delivery = this.received.get(message.id);
    if (!delivery) return;
    this.received.delete(message.id);
    // Exclusive and failover subscriptions do not count redeliveries on the broker.
    this.remember(message.id, delivery.redeliveryCount + 1);
    await this.command(delivery.rawIds.map((messageId) => ({ type: 'negativeAcknowledge', messageId })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    // Pulsar does not count a redelivery caused by a consumer leaving; this port does.
    for (const delivery of this.received.values()) this.remember(delivery.id, delivery.redeliveryCount + 1);
    this.received.clear();
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(undefined);
    }
    for (const wake of this.connectedWaiters.splice(0)) wake();
    this.buffer = [];
    this.bufferedIds.clear();
    this.groups.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.close(1000);
      });
    }
    this.host.consumerClosed(this);
  }

  // ------------------------------------------------------------ connection

  private attach(ws: WebSocket): void {
    if (this.attachedBefore) this.host.consumerReconnected(this.options.topic.logical);
    this.attachedBefore = true;
    this.ws = ws;
    this.granted = 0;
    this.reconnectAttempts = 0;
    this.awaitingPong = false;
    ws.on('message', (data) => this.onFrame(data.toString()));
    ws.on('pong', () => {
      this.awaitingPong = false;
    });
    ws.on('error', (error) => {
      this.lastError = describeError(error);
    });
    ws.on('close', () => this.onDisconnect(ws));
    for (const wake of this.connectedWaiters.splice(0)) wake();
    this.topUp();
  }

  private onDisconnect(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    if (this.closed) return;
    // The broker redelivers everything unacknowledged to the next connection:
    // what sits in the local queue would only come twice.
    for (const delivery of this.received.values()) this.remember(delivery.id, delivery.redeliveryCount + 1);
    this.buffer = [];
    this.bufferedIds.clear();
    this.groups.clear();
    this.granted = 0;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.host.closed || this.reconnectTimer) return;
    const delay = backoff(this.reconnectAttempts++, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      openSocket(this.options.url, { authToken: this.options.authToken, timeoutMs: this.options.connectTimeoutMs }).then(
        (ws) => {
          if (this.closed || this.host.closed) {
            ws.close(1000);
            return;
          }
          this.attach(ws);
        },
        (error: unknown) => {
          this.lastError = describeError(error);
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  /** Pings keep idle sockets open (the broker drops them after 5 idle minutes) and find dead ones. */
  private heartbeat(): void {
    this.expireChunkGroups();
    const ws = this.ws;
    if (!ws) return;
    if (this.awaitingPong) {
      this.lastError = 'no pong from the broker';
      ws.terminate();
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  /** Sends frames once connected, waiting for a reconnect within the bounded wait. */
  private async command(frames: object[]): Promise<void> {
    const deadline = Date.now() + this.options.unavailableAfterMs;
    while (!this.ws) {
      if (this.closed || this.host.closed) this.assertUsable();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new PulsarError(
          'UNAVAILABLE',
          `subscription "${this.options.subscription}" on topic "${this.topic}": broker unreachable for ` +
            `${(this.options.unavailableAfterMs / 1000).toFixed(1)} s (${this.lastError || 'reconnecting'})`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.connectedWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const ws = this.ws;
    await Promise.all(
      frames.map(
        (frame) =>
          new Promise<void>((resolve, reject) =>
            ws.send(JSON.stringify(frame), (error) =>
              error ? reject(new PulsarError('UNAVAILABLE', `send to the broker failed: ${describeError(error)}`)) : resolve(),
            ),
          ),
      ),
    );
  }

  // ------------------------------------------------------------ flow control

  /** Keeps queued + promised messages near receiverQueueSize, asking in batches of at least half of it. */
  private topUp(): void {
    const ws = this.ws;
    if (!ws || this.closed) return;
    const size = this.options.receiverQueueSize;
    const have = this.buffer.length + this.granted;
    if (have > size / 2) return;
    const permits = size - have;
    this.granted += permits;
    ws.send(JSON.stringify({ type: 'permit', permitMessages: permits }));
  }

  private onFrame(text: string): void {
    let frame: BrokerMessage;
    try {
      frame = JSON.parse(text) as BrokerMessage;
    } catch {
      return;
    }
    if (typeof frame.messageId !== 'string') return;
    this.granted = Math.max(0, this.granted - 1);
    const payload = Buffer.from(frame.payload ?? '', 'base64');
    const publishTime = frame.publishTime ? Date.parse(frame.publishTime) : Date.now();
    const brokerCount = frame.redeliveryCount ?? 0;
    if (isChunk(frame.properties)) {
      this.onChunk(frame, payload, publishTime, brokerCount);
    } else {
      const id = messageIdString(frame.messageId);
      this.deliver({
        id,
        rawIds: [frame.messageId],
        key: frame.key,
        properties: frame.properties ?? {},
        payload,
        publishTime,
        redeliveryCount: brokerCount,
      });
    }
    this.topUp();
  }

  private onChunk(frame: BrokerMessage, payload: Buffer, publishTime: number, brokerCount: number): void {
    const properties = frame.properties as Record<string, string>;
    const groupId = properties[CHUNK_ID];
    const count = Number(properties[CHUNK_COUNT]);
    const index = Number(properties[CHUNK_INDEX]);
    let group = this.groups.get(groupId);
    if (!group) {
      group = new ChunkGroup<string, ChunkHead>(groupId, count);
      this.groups.set(groupId, group);
    }
    group.add({ index, count, payload, item: frame.messageId });
    if (index === 0) group.head = { frame, publishTime, brokerCount };
    if (!group.complete || !group.head) return;
    this.groups.delete(groupId);
    const head = group.head;
    this.deliver({
      id: messageIdString(group.parts[0]?.item ?? frame.messageId),
      rawIds: [...group.items],
      key: head.frame.key,
      properties: userProperties(head.frame.properties),
      payload: group.payload(),
      publishTime: head.publishTime,
      redeliveryCount: head.brokerCount,
    });
  }

  /** On a shared subscription the chunks of one message may go to different consumers: give back what cannot complete here. */
  private expireChunkGroups(): void {
    const limit = Date.now() - this.options.chunkAssemblyTimeoutMs;
    for (const [id, group] of this.groups) {
      if (group.firstSeen > limit) continue;
      this.groups.delete(id);
      if (this.ws) {
        for (const messageId of group.items) this.ws.send(JSON.stringify({ type: 'negativeAcknowledge', messageId }));
      }
    }
  }

  private deliver(delivery: Delivery): void {
    if (this.closed) return;
    // The broker may send a message again that still waits here (exclusive nack redelivers all): keep one.
    if (this.bufferedIds.has(delivery.id)) return;
    const remembered = this.host.redeliveries(this.subscriptionKey).get(delivery.id) ?? 0;
    const counted = remembered > delivery.redeliveryCount ? { ...delivery, redeliveryCount: remembered } : delivery;
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this.received.set(counted.id, counted);
      waiter.resolve(this.toReceived(counted));
      return;
    }
    this.buffer.push(counted);
    this.bufferedIds.add(counted.id);
  }

  private take(): Delivery | undefined {
    const delivery = this.buffer.shift();
    if (!delivery) return undefined;
    this.bufferedIds.delete(delivery.id);
    this.received.set(delivery.id, delivery);
    this.topUp();
    return delivery;
  }

  private toReceived(delivery: Delivery): ReceivedMessage {
    return {
      id: delivery.id,
      topic: this.topic,
      key: delivery.key,
      properties: { ...delivery.properties },
      payload: new Uint8Array(delivery.payload),
      publishTime: delivery.publishTime,
      redeliveryCount: delivery.redeliveryCount,
    };
  }

  // ------------------------------------------------------------ bookkeeping

  /** Removes a received message from this consumer or a sibling on the same subscription. */
  private forget(id: string): Delivery | undefined {
    const own = this.received.get(id);
    if (own) {
      this.received.delete(id);
      return own;
    }
    for (const sibling of this.host.siblings(this.subscriptionKey)) {
      const delivery = sibling.received.get(id);
      if (delivery) {
        sibling.received.delete(id);
        return delivery;
      }
    }
    return undefined;
  }

  private remember(id: string, count: number): void {
    const map = this.host.redeliveries(this.subscriptionKey);
    map.delete(id);
    map.set(id, Math.max(count, map.get(id) ?? 0));
    if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
  }

  private encodeId(id: string): string {
    try {
      return messageIdBase64(id);
    } catch {
      throw new PulsarError('INVALID_ARGUMENT', `message id "${id}" is not a Pulsar message id`);
    }
  }

  private assertUsable(): void {
    if (this.host.closed) throw new PulsarError('CLOSED', 'PulsarMessaging is closed');
    if (this.closed) {
      throw new PulsarError(
        'CLOSED',
        `consumer of subscription "${this.options.subscription}" on topic "${this.topic}" is closed`,
      );
    }
  }

  private assertSameTopic(message: ReceivedMessage): void {
    if (message.topic !== this.topic) {
      throw new PulsarError('INVALID_ARGUMENT', `message ${message.id} is from topic "${message.topic}", not "${this.topic}"`);
    }
  }
}
