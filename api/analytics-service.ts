// Analytics for the API: deploys a swarm's analytics (Flink job or embedded engine), reads the
// swarm's analytics topic into the latest windows (first of each window name wins) and reports
// the runtime's state.
import { randomUUID } from 'node:crypto';
import type { AgentDirectory, AnalyticsDeployment, AnalyticsRuntime, AnalyticsRuntimeStatus, Consumer, MessagingPort } from '../adapters/ports';
import type { AgentRegisteredMessage } from '../core/analytics/roster';
import { StreamJobError } from '../adapters/ports';
import { LatestWindows, type AnalyticsRecord, type AnalyticsSignal, type LatestWindowsStats } from '../core/analytics';
import { DomainError } from '../core/errors';
import { analyticsTopics } from '../core/analytics/topics';
import { swarmTopics } from '../core/topics';

export interface AnalyticsLatest {
  swarmId: string;
  runtime: 'flink' | 'embedded';
  windows: AnalyticsRecord[];
  stats: LatestWindowsStats;
}

export interface AnalyticsStatus extends AnalyticsRuntimeStatus {
  swarms: ({ swarmId: string } & LatestWindowsStats)[];
}

export class AnalyticsService {
  readonly store = new LatestWindows();
  private readonly readers = new Map<string, Promise<Consumer>>();
  private readonly loops: Promise<void>[] = [];
  /** Records on the analytics topic that are not analytics records. */
  unreadable = 0;
  private closed = false;
  /** Called with each new window (metrics). */
  onWindow?: (record: AnalyticsRecord) => void;
  /** The swarm's ACTIVE agents, named again on the roster at each deployment; absent: not named. */
  directory?: AgentDirectory;

  constructor(
    private readonly messaging: MessagingPort,
    readonly runtime: AnalyticsRuntime,
    /** Each API process reads the whole topic under a subscription of its own. */
    private readonly subscription = `qp-manager-api-analytics-${randomUUID().slice(0, 8)}`,
  ) {}

  async deploy(swarmId: string): Promise<AnalyticsDeployment> {
    await this.announceRoster(swarmId);
    let deployment: AnalyticsDeployment;
    try {
      deployment = await this.runtime.deploy(swarmId);
    } catch (error) {
      if (error instanceof StreamJobError) {
        throw new DomainError(error.code === 'REJECTED' ? 'CONFLICT' : 'UNAVAILABLE', `analytics job for swarm ${swarmId}: ${error.message}`);
      }
      throw error;
    }
    await this.watch(swarmId);
    return deployment;
  }

  /**
   * Names the swarm's ACTIVE agents on its roster topic (without a generation): registrations
   * older than the topic's retention are gone, and a job deployed now must know those agents.
   */
  private async announceRoster(swarmId: string): Promise<void> {
    if (!this.directory) return;
    const topic = swarmTopics(swarmId).roster;
    for (const { agentId } of await this.directory.listActive(swarmId)) {
      const note: AgentRegisteredMessage = { type: 'agent-registered', agentId, registeredAt: Date.now() };
      await this.messaging.publish(topic, Buffer.from(JSON.stringify(note)), { key: agentId, properties: { type: 'agent-registered', agentId } });
    }
  }

  async latest(swarmId: string, signal?: AnalyticsSignal): Promise<AnalyticsLatest> {
    await this.watch(swarmId);
    return { swarmId, runtime: this.runtime.kind, windows: this.store.latest(swarmId, signal), stats: { ...this.store.statsOf(swarmId) } };
  }

  async status(): Promise<AnalyticsStatus> {
    const runtime = await this.runtime.status();
    return { ...runtime, swarms: this.store.swarms().map((swarmId) => ({ swarmId, ...this.store.statsOf(swarmId) })) };
  }

  /** Starts reading the swarm's analytics topic (once). */
  watch(swarmId: string): Promise<Consumer> {
    let reader = this.readers.get(swarmId);
    if (!reader) {
      reader = this.messaging.subscribe(analyticsTopics(swarmId).analytics, this.subscription, { initialPosition: 'earliest' });
      this.readers.set(swarmId, reader);
      reader.then(
        (consumer) => this.loops.push(this.read(consumer)),
        () => this.readers.delete(swarmId),
      );
    }
    return reader;
  }

  private async read(consumer: Consumer): Promise<void> {
    try {
      while (!this.closed) {
        const message = await consumer.receive(500);
        if (!message) continue;
        let record: AnalyticsRecord | undefined;
        try {
          record = JSON.parse(Buffer.from(message.payload).toString('utf8')) as AnalyticsRecord;
        } catch {
          record = undefined;
        }
        if (record && typeof record.swarmId === 'string' && typeof record.signal === 'string' && Number.isFinite(record.windowStart)) {
          if (this.store.add(record)) this.onWindow?.(record);
        } else {
          this.unreadable++;
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
