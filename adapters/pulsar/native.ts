// Optional transport over the official npm `pulsar-client` (C++ libpulsar
// underneath), chosen with QP_PULSAR_TRANSPORT=native. It is an optional
// dependency: its install script downloads a prebuilt binary from outside the
// package registries, or builds against libpulsar, and where neither works npm
// leaves it out. So it is loaded with import() where it installed, and
// reported as missing (with the reason) where not. Topic mapping, admin and
// namespaces are shared with the WebSocket transport.
import type { Consumer, MessagingPort, PublishOptions, ReceivedMessage, SubscribeOptions } from '../ports';
import { PulsarAdmin, DEFAULT_POLICIES, type NamespacePolicies } from './admin';
import { PulsarError, describeError } from './errors';
import { toPulsarTopic, type TopicMapping } from './topics';

const MODULE = 'pulsar-client';

/** The slice of pulsar-client's API this transport uses. */
interface NativeMessage {
  getData(): Buffer;
  getMessageId(): { toString(): string };
  getPartitionKey(): string;
  getProperties(): Record<string, string>;
  getPublishTimestamp(): number;
  getRedeliveryCount(): number;
}
interface NativeConsumer {
  receive(timeoutMs?: number): Promise<NativeMessage>;
  acknowledge(message: NativeMessage): Promise<null>;
  negativeAcknowledge(message: NativeMessage): void;
  close(): Promise<null>;
}
interface NativeProducer {
  send(message: { data: Buffer; partitionKey?: string; properties?: Record<string, string> }): Promise<{ toString(): string }>;
  close(): Promise<null>;
}
interface NativeClient {
  createProducer(config: Record<string, unknown>): Promise<NativeProducer>;
  subscribe(config: Record<string, unknown>): Promise<NativeConsumer>;
  close(): Promise<null>;
}
interface NativeModule {
  Client: new (config: Record<string, unknown>) => NativeClient;
  AuthenticationToken: new (config: { token: string }) => unknown;
}

/** Why the native transport cannot run here, or undefined when its package resolves. */
export function nativeTransportUnavailable(): string | undefined {
  try {
    require.resolve(MODULE);
    return undefined;
  } catch {
    return `npm package "${MODULE}" is not installed (its install needs libpulsar or a download from outside the package registries)`;
  }
}

export type NativeTransport =
  | { available: true; create: (options: NativeMessagingOptions) => NativePulsarMessaging }
  | { available: false; reason: string };

export async function loadNativeTransport(): Promise<NativeTransport> {
  const missing = nativeTransportUnavailable();
  if (missing) return { available: false, reason: missing };
  try {
    const name = MODULE; // a variable keeps TypeScript from resolving the optional module
    const loaded = (await import(name)) as NativeModule & { default?: NativeModule };
    const module = loaded.Client ? loaded : (loaded.default as NativeModule);
    return { available: true, create: (options) => new NativePulsarMessaging(module, options) };
  } catch (error) {
    return { available: false, reason: `npm package "${MODULE}" failed to load: ${describeError(error)}` };
  }
}

export interface NativeMessagingOptions {
  /** pulsar://host:6650 */
  serviceUrl: string;
  adminUrl: string;
  authToken?: string;
  tenant?: string;
  defaultNamespace?: string;
  policies?: Partial<NamespacePolicies>;
  operationTimeoutSeconds?: number;
}

const TYPES = { exclusive: 'Exclusive', shared: 'Shared', failover: 'Failover', key_shared: 'KeyShared' } as const;

export class NativePulsarMessaging implements MessagingPort {
  private readonly client: NativeClient;
  private readonly admin: PulsarAdmin;
  private readonly mapping: TopicMapping;
  private readonly producers = new Map<string, Promise<NativeProducer>>();
  private readonly consumers = new Set<{ close(): Promise<void> }>();
  private readonly namespaces = new Map<string, Promise<void>>();
  private closed = false;

  constructor(module: NativeModule, private readonly options: NativeMessagingOptions) {
    this.client = new module.Client({
      serviceUrl: options.serviceUrl,
      operationTimeoutSeconds: options.operationTimeoutSeconds ?? 30,
      ...(options.authToken ? { authentication: new module.AuthenticationToken({ token: options.authToken }) } : {}),
    });
    this.admin = new PulsarAdmin({ url: options.adminUrl, authToken: options.authToken });
    this.mapping = { tenant: options.tenant ?? 'qp-manager', defaultNamespace: options.defaultNamespace ?? 'system' };
  }

  async publish(topic: string, payload: Uint8Array, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    const data = Buffer.from(payload);
    const target = toPulsarTopic(topic, this.mapping);
    await this.ensureNamespace(target.tenant, target.namespace);
    let producer = this.producers.get(target.fullName);
    if (!producer) {
      producer = this.client.createProducer({ topic: target.fullName, batchingEnabled: false, chunkingEnabled: true });
      this.producers.set(target.fullName, producer);
      producer.catch(() => this.producers.delete(target.fullName));
    }
    const id = await (await producer).send({ data, partitionKey: options.key, properties: { ...options.properties } });
    return id.toString();
  }

  async deleteTopic(topic: string): Promise<void> {
    this.assertOpen();
    const target = toPulsarTopic(topic, this.mapping);
    const producer = this.producers.get(target.fullName);
    this.producers.delete(target.fullName);
    if (producer) await producer.then((p) => p.close()).catch(() => undefined);
    await this.admin.deleteTopic(target.path);
  }

  async subscribe(topic: string, subscription: string, options: SubscribeOptions = {}): Promise<Consumer> {
    this.assertOpen();
    const target = toPulsarTopic(topic, this.mapping);
    await this.ensureNamespace(target.tenant, target.namespace);
    const native = await this.client.subscribe({
      topic: target.fullName,
      subscription,
      subscriptionType: TYPES[options.type ?? 'exclusive'],
      subscriptionInitialPosition: options.initialPosition === 'earliest' ? 'Earliest' : 'Latest',
      nAckRedeliverTimeoutMs: 100,
    });
    const received = new Map<string, NativeMessage>();
    let closed = false;
    const assertUsable = () => {
      if (this.closed || closed) throw new PulsarError('CLOSED', `consumer of "${subscription}" on "${topic}" is closed`);
    };
    const consumer: Consumer = {
      receive: async (timeoutMs) => {
        assertUsable();
        let message: NativeMessage;
        try {
          message = await native.receive(Math.max(1, Math.min(timeoutMs, 2 ** 31 - 1)));
        } catch {
          return undefined; // pulsar-client rejects a receive that times out
        }
        const id = message.getMessageId().toString();
        received.set(id, message);
        const out: ReceivedMessage = {
          id,
          topic,
          key: message.getPartitionKey() || undefined,
          properties: { ...message.getProperties() },
          payload: new Uint8Array(message.getData()),
          publishTime: message.getPublishTimestamp(),
          redeliveryCount: message.getRedeliveryCount(),
        };
        return out;
      },
      ack: async (message) => {
        assertUsable();
        const native_ = received.get(message.id);
        received.delete(message.id);
        if (native_) await native.acknowledge(native_);
      },
      nack: async (message) => {
        assertUsable();
        const native_ = received.get(message.id);
        received.delete(message.id);
        if (native_) native.negativeAcknowledge(native_);
      },
      close: async () => {
        if (closed) return;
        closed = true;
        this.consumers.delete(handle);
        await native.close();
      },
    };
    const handle = { close: () => consumer.close() };
    this.consumers.add(handle);
    return consumer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.consumers].map((c) => c.close()));
    this.closed = true;
    for (const producer of this.producers.values()) await (await producer.catch(() => undefined))?.close();
    await this.client.close();
  }

  private ensureNamespace(tenant: string, namespace: string): Promise<void> {
    const key = `${tenant}/${namespace}`;
    let ready = this.namespaces.get(key);
    if (!ready) {
      ready = this.admin.ensureNamespace(tenant, namespace, { ...DEFAULT_POLICIES, ...this.options.policies });
      this.namespaces.set(key, ready);
      ready.catch(() => this.namespaces.delete(key));
    }
    return ready;
  }

  private assertOpen(): void {
    if (this.closed) throw new PulsarError('CLOSED', 'NativePulsarMessaging is closed');
  }
}
