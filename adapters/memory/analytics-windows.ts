// The newest analytics windows of each swarm, kept in this process: a reader of the swarm's
// analytics topic (written by the Flink job or the embedded engine) started on the first request,
// under a subscription of this process's own so that every process sees every window. The first
// record of each window name wins (the Flink sink is at-least-once).
import { randomUUID } from 'node:crypto';
import { LatestWindows, type AnalyticsRecord } from '../../core/analytics';
import { analyticsTopics } from '../../core/analytics/topics';
import type { AnalyticsWindowSource } from '../ports/analytics-windows';
import type { Consumer, MessagingPort } from '../ports/messaging';

export class AnalyticsWindowsReader implements AnalyticsWindowSource {
  readonly store = new LatestWindows();
  private readonly readers = new Map<string, Promise<Consumer>>();
  private readonly loops: Promise<void>[] = [];
  private closed = false;

  constructor(
    private readonly messaging: MessagingPort,
    private readonly subscription = `qp-manager-worker-analytics-${randomUUID().slice(0, 8)}`,
  ) {}

  /** The newest window of every series of the swarm read so far; the first call for a swarm starts reading it. */
  async latest(swarmId: string): Promise<AnalyticsRecord[]> {
    if (this.closed) return [];
    let reader = this.readers.get(swarmId);
    if (!reader) {
      reader = this.messaging.subscribe(analyticsTopics(swarmId).analytics, this.subscription, { initialPosition: 'earliest' });
      this.readers.set(swarmId, reader);
      reader.then(
        // a reader that fails is started again by the next request
        (consumer) => this.loops.push(this.read(consumer).catch(() => void this.readers.delete(swarmId))),
        () => this.readers.delete(swarmId),
      );
      // not awaited: placement goes on with the declared profiles until the first windows are read
    }
    return this.store.latest(swarmId);
  }

  private async read(consumer: Consumer): Promise<void> {
    try {
      while (!this.closed) {
        const message = await consumer.receive(500);
        if (!message) continue;
        try {
          const record = JSON.parse(Buffer.from(message.payload).toString('utf8')) as AnalyticsRecord;
          if (record && typeof record.signal === 'string' && typeof record.key === 'string' && Number.isFinite(record.windowEnd)) this.store.add(record);
        } catch {
          // not a window: skipped
        }
        await consumer.ack(message);
      }
    } finally {
      await consumer.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.loops);
  }
}
