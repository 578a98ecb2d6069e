// The messaging port on Apache Pulsar, through the broker's WebSocket API
// (the npm pulsar-client needs libpulsar, which cannot be installed here).
// One socket per producer topic (pooled, closed when idle) and one per consumer.
import { randomUUID } from 'node:crypto';
import type {
  Consumer,
  MessagingBacklog,
  MessagingReconnects,
  MessagingPort,
  PublishOptions,
  SubscribeOptions,
  SubscriptionBacklog,
  SubscriptionType,
} from '../ports';
import { DEFAULT_POLICIES, PulsarAdmin, type NamespacePolicies } from './admin';
import { CHUNK_COUNT, CHUNK_ID, CHUNK_INDEX, split } from './chunks';
import { PulsarConsumer, type ConsumerHost } from './consumer';
import { PulsarError } from './errors';
import { messageIdString } from './message-id';
import { ProducerChannel } from './producer';
import { toPulsarTopic, type PulsarTopic, type TopicMapping } from './topics';

export interface PulsarMessagingOptions {
  /** ws(s)://host:port of the broker's web service; /ws/v2/... is appended. */
  webSocketUrl: string;
  /** http(s)://host:port of the admin REST API (the same web service on a standalone broker). */
  adminUrl: string;
  /** Tenant of every topic. Default qp-manager. */
  tenant?: string;
  /** Namespace of topic names outside swarm/<swarmId>/. Default system. */
  defaultNamespace?: string;
  /** JWT sent as `Authorization: Bearer` to the WebSocket and admin APIs. */
  authToken?: string;
  /** Retention, TTL and replication clusters of every namespace the adapter creates. */
  policies?: Partial<NamespacePolicies>;
  /** Create the tenant and each namespace (and apply the policies) on first use. Default true. */
  manageNamespaces?: boolean;
  /** Bound on one socket connect/upgrade. Default 5 s. */
  connectTimeoutMs?: number;
  /** Bound on one admin HTTP request. Default 10 s. */
  requestTimeoutMs?: number;
  /** How long publish, subscribe, ack and admin calls keep trying while the broker is unreachable. Default 30 s. */
  unavailableAfterMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** Messages a consumer asks for ahead of receive() (permits). Default 1000, the broker caps it there. */
  receiverQueueSize?: number;
  /** Delay before a negatively acknowledged message comes back. Default 100 ms (the client's tick anyway). */
  negativeAckRedeliveryDelayMs?: number;
  /** Payloads above this travel as several messages. Default 512 KiB, inside a stock broker's 1 MiB text frame. */
  maxChunkBytes?: number;
  /** Incomplete chunk groups are given back after this. Default 60 s. */
  chunkAssemblyTimeoutMs?: number;
  /** Producer sockets unused this long are closed. Default 60 s. */
  producerIdleMs?: number;
  /** Default 30 s. */
  pingIntervalMs?: number;
}

export interface DeadLetterPolicy {
  /** After this many redeliveries (negative acknowledgements) the message goes to the dead-letter topic. */
  maxRedeliverCount: number;
  /** Logical topic name; default Pulsar's `<topic>-<subscription>-DLQ` beside the topic. */
  topic?: string;
}

export interface PulsarSubscribeOptions extends SubscribeOptions {
  /**
   * Pulsar counts redeliveries on the broker only for shared and key_shared
   * subscriptions, so the policy only takes effect there.
   */
  deadLetter?: DeadLetterPolicy;
}

const SUBSCRIPTION_TYPES: Record<SubscriptionType, string> = {
  exclusive: 'Exclusive',
  shared: 'Shared',
  failover: 'Failover',
  key_shared: 'Key_Shared',
};

export class PulsarMessaging implements MessagingPort, MessagingBacklog, MessagingReconnects {
  readonly admin: PulsarAdmin;
  private readonly mapping: TopicMapping;
  private readonly wsBase: string;
  private readonly policies: NamespacePolicies;
  private readonly settings: Required<
    Omit<PulsarMessagingOptions, 'authToken' | 'policies' | 'tenant' | 'defaultNamespace' | 'webSocketUrl' | 'adminUrl'>
  >;
  private readonly namespaces = new Map<string, Promise<void>>();
  private readonly producers = new Map<string, ProducerChannel>();
  private readonly consumers = new Map<string, Set<PulsarConsumer>>();
  private readonly reconnectListeners: Array<(topic: string) => void> = [];
  private readonly redeliveryCounts = new Map<string, Map<string, number>>();
  private readonly closedAt = new Map<string, number>();
  /** Timed-out subscribe upgrades per subscription (see ConsumerHost.subscribeAbandoned). */
  private readonly abandonedSubscribes = new Map<string, { pending: number; endedAt: number }>();
  /** Next failover priority level per subscription (0 = active). */
  private readonly failoverLevels = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private isClosed = false;
  private readonly host: ConsumerHost;

  constructor(private readonly options: PulsarMessagingOptions) {
    this.mapping = { tenant: options.tenant ?? 'qp-manager', defaultNamespace: options.defaultNamespace ?? 'system' };
    this.wsBase = `${options.webSocketUrl.replace(/\/+$/, '').replace(/\/ws(\/v2)?$/, '')}/ws/v2`;
    this.policies = { ...DEFAULT_POLICIES, ...options.policies };
    this.settings = {
      manageNamespaces: options.manageNamespaces ?? true,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      unavailableAfterMs: options.unavailableAfterMs ?? 30_000,
      reconnectInitialMs: options.reconnectInitialMs ?? 100,
      reconnectMaxMs: options.reconnectMaxMs ?? 5000,
      receiverQueueSize: clampInt('receiverQueueSize', options.receiverQueueSize ?? 1000, 1, 1000),
      negativeAckRedeliveryDelayMs: options.negativeAckRedeliveryDelayMs ?? 100,
      maxChunkBytes: clampInt('maxChunkBytes', options.maxChunkBytes ?? 512 * 1024, 1, 5 * 1024 * 1024 - 64 * 1024),
      chunkAssemblyTimeoutMs: options.chunkAssemblyTimeoutMs ?? 60_000,
      producerIdleMs: options.producerIdleMs ?? 60_000,
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
    };
    this.admin = new PulsarAdmin({
      url: options.adminUrl,
      authToken: options.authToken,
      requestTimeoutMs: this.settings.requestTimeoutMs,
      unavailableAfterMs: this.settings.unavailableAfterMs,
    });
    this.sweeper = setInterval(() => this.closeIdleProducers(), Math.max(1000, this.settings.producerIdleMs / 2));
    this.sweeper.unref();
    const self = this;
    this.host = {
      get closed() {
        return self.isClosed;
      },
      redeliveries: (key) => {
        let map = this.redeliveryCounts.get(key);
        if (!map) {
          map = new Map();
          this.redeliveryCounts.set(key, map);
        }
        return map;
      },
      lastClosed: (key) => this.closedAt.get(key),
      subscribeAbandoned: (key, ended) => {
        const entry = this.abandonedSubscribes.get(key) ?? { pending: 0, endedAt: 0 };
        entry.pending++;
        this.abandonedSubscribes.set(key, entry);
        void ended.then(() => {
          entry.pending--;
          entry.endedAt = Date.now();
        });
      },
      abandonedMayHold: (key, graceMs) => {
        const entry = this.abandonedSubscribes.get(key);
        if (!entry) return false;
        if (entry.pending > 0 || Date.now() - entry.endedAt < graceMs) return true;
        this.abandonedSubscribes.delete(key);
        return false;
      },
      consumerClosed: (consumer) => {
        this.closedAt.set(consumer.subscriptionKey, Date.now());
        const set = this.consumers.get(consumer.subscriptionKey);
        set?.delete(consumer);
        if (set?.size === 0) {
          this.consumers.delete(consumer.subscriptionKey);
          this.failoverLevels.delete(consumer.subscriptionKey);
        }
      },
      siblings: (key) => this.consumers.get(key) ?? [],
      consumerReconnected: (topic) => {
        for (const listener of this.reconnectListeners) listener(topic);
      },
    };
  }

  /** The Pulsar topic a logical name maps to. */
  topicFor(topic: string): PulsarTopic {
    return toPulsarTopic(topic, this.mapping);
  }

  async publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    if (!(payload instanceof Uint8Array)) throw new PulsarError('INVALID_ARGUMENT', 'payload must be a Uint8Array');
    const target = this.topicFor(topic);
    const properties = checkProperties(options.properties);
    // Encode before the first await: the caller may reuse the array as soon as publish returns.
    const max = this.settings.maxChunkBytes;
    const frames =
      payload.length <= max
        ? [{ payload: Buffer.from(payload).toString('base64'), key: options.key, properties }]
        : chunkFrames(payload, max, options.key, properties);
    await this.ensureNamespace(target);
    this.assertOpen();
    const channel = this.producer(target);
    // Queued in one synchronous loop, so the chunks of a message stay together and in order.
    const ids = await Promise.all(frames.map((frame) => channel.send(frame)));
    return messageIdString(ids[0]);
  }

  async subscribe(topic: string, subscription: string, options: PulsarSubscribeOptions = {}): Promise<Consumer> {
    this.assertOpen();
    if (typeof subscription !== 'string' || subscription.length === 0) {
      throw new PulsarError('INVALID_ARGUMENT', 'subscription name must be a non-empty string');
    }
    const type = options.type ?? 'exclusive';
    const initialPosition = options.initialPosition ?? 'latest';
    if (!(type in SUBSCRIPTION_TYPES)) throw new PulsarError('INVALID_ARGUMENT', `unknown subscription type "${type}"`);
    if (initialPosition !== 'earliest' && initialPosition !== 'latest') {
      throw new PulsarError('INVALID_ARGUMENT', `unknown initial position "${initialPosition}"`);
    }
    const target = this.topicFor(topic);
    const query = new URLSearchParams({
      subscriptionType: SUBSCRIPTION_TYPES[type],
      subscriptionInitialPosition: initialPosition === 'earliest' ? 'Earliest' : 'Latest',
      pullMode: 'true',
      receiverQueueSize: String(this.settings.receiverQueueSize),
      negativeAckRedeliveryDelay: String(this.settings.negativeAckRedeliveryDelayMs),
    });
    if (options.deadLetter) {
      const max = options.deadLetter.maxRedeliverCount;
      if (!Number.isInteger(max) || max < 1) {
        throw new PulsarError('INVALID_ARGUMENT', `deadLetter.maxRedeliverCount must be a positive integer, got ${max}`);
      }
      query.set('maxRedeliverCount', String(max));
      if (options.deadLetter.topic) {
        const dlq = this.topicFor(options.deadLetter.topic);
        await this.ensureNamespace(dlq);
        query.set('deadLetterTopic', dlq.fullName);
      }
    }
    const key = `${target.fullName}\u0000${subscription}`;
    if (type === 'failover') {
      // Pulsar picks the active consumer of a non-partitioned topic by hashing consumer names;
      // a priority per attach order makes it the first one attached (from this port), as in
      // the in-memory adapter. Across processes, equal priorities fall back to Pulsar's choice.
      const level = this.failoverLevels.get(key) ?? 0;
      this.failoverLevels.set(key, level + 1);
      query.set('priorityLevel', String(level));
    }
    await this.ensureNamespace(target);
    this.assertOpen();
    const consumer = new PulsarConsumer(this.host, {
      url: `${this.wsBase}/consumer/persistent/${target.path}/${encodeURIComponent(subscription)}?${query}`,
      topic: target,
      subscription,
      type,
      authToken: this.options.authToken,
      receiverQueueSize: this.settings.receiverQueueSize,
      connectTimeoutMs: this.settings.connectTimeoutMs,
      unavailableAfterMs: this.settings.unavailableAfterMs,
      reconnectInitialMs: this.settings.reconnectInitialMs,
      reconnectMaxMs: this.settings.reconnectMaxMs,
      chunkAssemblyTimeoutMs: this.settings.chunkAssemblyTimeoutMs,
      pingIntervalMs: this.settings.pingIntervalMs,
    });
    await consumer.start();
    let set = this.consumers.get(consumer.subscriptionKey);
    if (!set) {
      set = new Set();
      this.consumers.set(consumer.subscriptionKey, set);
    }
    set.add(consumer);
    return consumer;
  }

  async deleteTopic(topic: string): Promise<void> {
    this.assertOpen();
    const { path } = this.topicFor(topic);
    // The broker disconnects the topic's producers: a later publish opens a new one.
    this.producers.get(path)?.close(`topic ${topic} was deleted`);
    this.producers.delete(path);
    await this.admin.deleteTopic(path);
  }

  /** Messages not yet acknowledged, per subscription of the topic (Pulsar's msgBacklog). For the scheduler. */
  onReconnect(listener: (topic: string) => void): void {
    this.reconnectListeners.push(listener);
  }

  async backlog(topic: string): Promise<SubscriptionBacklog[]> {
    this.assertOpen();
    const stats = await this.admin.backlog(this.topicFor(topic).path);
    return stats.map((s) => ({
      subscription: s.subscription,
      backlog: s.msgBacklog,
      ...(s.earliestMsgPublishTimeInBacklog !== undefined ? { oldestPublishedAt: s.earliestMsgPublishTimeInBacklog } : {}),
    }));
  }

  /** Creates a swarm's namespace and its fixed topics now rather than on first use. Idempotent. */
  async prepareSwarm(swarmId: string, topics: string[] = ['control', 'broadcast', 'heartbeats', 'behaviors', 'tasks']) {
    this.assertOpen();
    for (const name of topics) {
      const target = this.topicFor(`swarm/${swarmId}/${name}`);
      await this.ensureNamespace(target);
      await this.admin.ensureTopic(target.path);
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.sweeper);
    const all = [...this.consumers.values()].flatMap((set) => [...set]);
    for (const producer of this.producers.values()) producer.close('PulsarMessaging is closed');
    this.producers.clear();
    await Promise.all(all.map((consumer) => consumer.close()));
  }

  private producer(target: PulsarTopic): ProducerChannel {
    let channel = this.producers.get(target.path);
    if (!channel) {
      channel = new ProducerChannel({
        url: `${this.wsBase}/producer/persistent/${target.path}`,
        authToken: this.options.authToken,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        unavailableAfterMs: this.settings.unavailableAfterMs,
        reconnectInitialMs: this.settings.reconnectInitialMs,
        reconnectMaxMs: this.settings.reconnectMaxMs,
      });
      this.producers.set(target.path, channel);
    }
    return channel;
  }

  private closeIdleProducers(): void {
    const limit = Date.now() - this.settings.producerIdleMs;
    for (const [path, channel] of this.producers) {
      if (channel.inFlight === 0 && channel.lastUsed < limit) {
        this.producers.delete(path);
        channel.close('idle');
      }
    }
  }

  private ensureNamespace(target: PulsarTopic): Promise<void> {
    if (!this.settings.manageNamespaces) return Promise.resolve();
    const key = `${target.tenant}/${target.namespace}`;
    let ready = this.namespaces.get(key);
    if (!ready) {
      ready = this.admin.ensureNamespace(target.tenant, target.namespace, this.policies);
      this.namespaces.set(key, ready);
      // A failure is not cached: the next call tries again.
      ready.catch(() => this.namespaces.delete(key));
    }
    return ready;
  }

  private assertOpen(): void {
    if (this.isClosed) throw new PulsarError('CLOSED', 'PulsarMessaging is closed');
  }
}

function chunkFrames(payload: Uint8Array, max: number, key: string | undefined, properties: Record<string, string>) {
  const parts = split(payload, max);
  const id = randomUUID();
  return parts.map((part, index) => ({
    payload: Buffer.from(part).toString('base64'),
    key,
    properties: { ...properties, [CHUNK_ID]: id, [CHUNK_INDEX]: String(index), [CHUNK_COUNT]: String(parts.length) },
  }));
}

function checkProperties(properties: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    if (typeof value !== 'string') throw new PulsarError('INVALID_ARGUMENT', `property "${key}" must be a string`);
    if (key.startsWith('qp.chunk.')) throw new PulsarError('INVALID_ARGUMENT', `property "${key}" is reserved`);
    out[key] = value;
  }
  return out;
}

function clampInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PulsarError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}
