// Messaging metrics around any MessagingPort: publish/consume counts and bytes, publish
// latency, and (when the adapter reports them, as Pulsar does) the backlog of the
// subscriptions this process consumes and its consumers' reconnects. Labelled by channel, the kind of a swarm
// topic (inbox, updates, heartbeats, ...), never by the topic itself: a topic per
// agent inbox and per job would be unbounded series.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type {
  Consumer,
  MessagingBacklog,
  MessagingPort,
  MessagingReconnects,
  PublishOptions,
  ReceivedMessage,
  SubscribeOptions,
} from '../ports/messaging';

const CHANNELS = ['inbox', 'updates', 'control', 'broadcast', 'heartbeats', 'behaviors', 'tasks', 'analytics'];

/** The kind of a logical topic `swarm/<id>/<name>` (inbox-<agent> is `inbox`), or `other`. */
export function topicChannel(topic: string): string {
  const name = topic.split('/').at(-1) ?? '';
  const kind = name.replace(/-.*$/, '');
  return CHANNELS.includes(kind) ? kind : 'other';
}

/** Subscriptions watched for backlog at most (each is one admin call per scrape). */
const BACKLOG_WATCH_MAX = 50;
const BACKLOG_TIMEOUT_MS = 2_000;

function metricOnce<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function instrumentMessaging(inner: MessagingPort, registry: Registry): MessagingPort {
  const registers = [registry];
  const published = metricOnce(registry, 'qp_manager_messaging_published_total', () =>
    new Counter({ name: 'qp_manager_messaging_published_total', help: 'Messages published, by channel and result', labelNames: ['channel', 'result'], registers }));
  const publishedBytes = metricOnce(registry, 'qp_manager_messaging_published_bytes_total', () =>
    new Counter({ name: 'qp_manager_messaging_published_bytes_total', help: 'Payload bytes published, by channel', labelNames: ['channel'], registers }));
  const publishSeconds = metricOnce(registry, 'qp_manager_messaging_publish_duration_seconds', () =>
    new Histogram({
      name: 'qp_manager_messaging_publish_duration_seconds',
      help: 'Publish latency (until the broker acknowledged), by channel',
      labelNames: ['channel'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }));
  const consumed = metricOnce(registry, 'qp_manager_messaging_consumed_total', () =>
    new Counter({ name: 'qp_manager_messaging_consumed_total', help: 'Messages received, by channel', labelNames: ['channel'], registers }));
  const consumedBytes = metricOnce(registry, 'qp_manager_messaging_consumed_bytes_total', () =>
    new Counter({ name: 'qp_manager_messaging_consumed_bytes_total', help: 'Payload bytes received, by channel', labelNames: ['channel'], registers }));
  const redelivered = metricOnce(registry, 'qp_manager_messaging_redelivered_total', () =>
    new Counter({ name: 'qp_manager_messaging_redelivered_total', help: 'Messages received again after a nack or a consumer crash, by channel', labelNames: ['channel'], registers }));
  for (const channel of CHANNELS) {
    published.inc({ channel, result: 'ok' }, 0);
    consumed.inc({ channel }, 0);
  }

  const watched = new Map<string, { topic: string; subscription: string }>();
  const backlogOf = (inner as Partial<MessagingBacklog>).backlog?.bind(inner);
  metricOnce(registry, 'qp_manager_messaging_backlog_messages', () =>
    new Gauge({
      name: 'qp_manager_messaging_backlog_messages',
      help: 'Unacknowledged messages on the subscriptions this process consumes, by channel (0 where the adapter cannot tell)',
      labelNames: ['channel'],
      registers,
      async collect() {
        const sums = new Map<string, number>(CHANNELS.map((c) => [c, 0]));
        if (backlogOf) {
          await Promise.all(
            [...watched.values()].map(async ({ topic, subscription }) => {
              const stats = await Promise.race([
                backlogOf(topic).catch(() => []),
                new Promise<[]>((resolve) => setTimeout(() => resolve([]), BACKLOG_TIMEOUT_MS).unref()),
              ]);
              const channel = topicChannel(topic);
              const mine = stats.find((s) => s.subscription === subscription)?.backlog ?? 0;
              sums.set(channel, (sums.get(channel) ?? 0) + mine);
            }),
          );
        }
        this.reset();
        for (const [channel, value] of sums) this.set({ channel }, value);
      },
    }));

  const reconnects = metricOnce(registry, 'qp_manager_messaging_reconnects_total', () =>
    new Counter({ name: 'qp_manager_messaging_reconnects_total', help: 'Consumers that reconnected after their connection to the broker dropped, by channel', labelNames: ['channel'], registers }));
  (inner as Partial<MessagingReconnects>).onReconnect?.((topic) => reconnects.inc({ channel: topicChannel(topic) }));

  const wrapConsumer = (consumer: Consumer, topic: string, key: string): Consumer => {
    const channel = topicChannel(topic);
    return {
      async receive(timeoutMs: number): Promise<ReceivedMessage | undefined> {
        const message = await consumer.receive(timeoutMs);
        if (message) {
          consumed.inc({ channel });
          consumedBytes.inc({ channel }, message.payload.byteLength);
          if (message.redeliveryCount > 0) redelivered.inc({ channel });
        }
        return message;
      },
      ack: (message) => consumer.ack(message),
      nack: (message) => consumer.nack(message),
      async close() {
        watched.delete(key);
        await consumer.close();
      },
    };
  };

  const port: MessagingPort & Partial<MessagingBacklog> = {
    async publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<string> {
      const channel = topicChannel(topic);
      const end = publishSeconds.startTimer({ channel });
      try {
        const id = await inner.publish(topic, payload, options);
        published.inc({ channel, result: 'ok' });
        publishedBytes.inc({ channel }, payload.byteLength);
        return id;
      } catch (error) {
        published.inc({ channel, result: 'error' });
        throw error;
      } finally {
        end();
      }
    },
    async subscribe(topic: string, subscription: string, options?: SubscribeOptions): Promise<Consumer> {
      const consumer = await inner.subscribe(topic, subscription, options);
      const key = `${topic}\u0000${subscription}`;
      if (watched.size < BACKLOG_WATCH_MAX) watched.set(key, { topic, subscription });
      return wrapConsumer(consumer, topic, key);
    },
    deleteTopic: (topic) => inner.deleteTopic(topic),
    close: () => inner.close(),
  };
  if (backlogOf) port.backlog = backlogOf;
  return port;
}
