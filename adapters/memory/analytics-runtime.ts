// The embedded analytics: the TypeScript engine (core/analytics) in this process, one per swarm,
// reading the swarm's heartbeats, tasks, task-results, rounds, roster and control topics (and each
// decision's ballot topic, subscribed when its proposal is read there and released when its outcome is) and writing its
// analytics topic, as the Flink job does. The default when FLINK_JOB_MANAGER_URL is not set. Its state lives in memory:
// a restart begins new windows from the subscription's position.
import { AnalyticsEngine, closedDecision, openedDecision, type AnalyticsOptions, type AnalyticsSource } from '../../core/analytics';
import { analyticsTopics, sourceTopic } from '../../core/analytics/topics';
import { swarmTopics } from '../../core/topics';
import type { AnalyticsDeployment, AnalyticsRuntime, AnalyticsRuntimeStatus } from '../ports/analytics-runtime';
import type { Consumer, MessagingPort, ReceivedMessage } from '../ports/messaging';

export const EMBEDDED_ANALYTICS_SUBSCRIPTION = 'qp-analytics-embedded';
const SOURCES = ['roster', 'heartbeats', 'tasks', 'task-results', 'rounds', 'control'] as const;
/** How long a closed decision's ballot topic is read for what is left on it, ms without a message. */
const DRAIN_WAIT_MS = 2_000;

interface Running {
  engine: AnalyticsEngine;
  startTime: number;
  loop: Promise<void>;
  failure?: string;
  /** Ballot topics read now: one per decision opened and not closed yet. */
  ballotSubscriptions: number;
}

export class EmbeddedAnalyticsRuntime implements AnalyticsRuntime {
  readonly kind = 'embedded' as const;
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(
    private readonly messaging: MessagingPort,
    private readonly options: AnalyticsOptions,
  ) {}

  async deploy(swarmId: string): Promise<AnalyticsDeployment> {
    if (this.running.has(swarmId)) return { swarmId, runtime: 'embedded', action: 'unchanged' };
    const consumers: [AnalyticsSource, Consumer][] = [];
    for (const source of SOURCES) {
      consumers.push([source, await this.messaging.subscribe(sourceTopic(swarmId, source), EMBEDDED_ANALYTICS_SUBSCRIPTION, { initialPosition: 'earliest' })]);
    }
    const engine = new AnalyticsEngine(swarmId, this.options);
    const entry: Running = { engine, startTime: Date.now(), loop: Promise.resolve(), ballotSubscriptions: 0 };
    entry.loop = this.consume(swarmId, entry, consumers).catch((error) => {
      entry.failure = error instanceof Error ? error.message : String(error);
    });
    this.running.set(swarmId, entry);
    return { swarmId, runtime: 'embedded', action: 'started' };
  }

  /** Every message: into the engine, the windows it closes onto the analytics topic, then acked. */
  private async consume(swarmId: string, entry: Running, consumers: [AnalyticsSource, Consumer][]): Promise<void> {
    const engine = entry.engine;
    const out = analyticsTopics(swarmId).analytics;
    /** Each open decision's ballot consumer. */
    const ballotConsumers = new Map<string, Consumer>();
    const roster = consumers.find(([source]) => source === 'roster')![1];
    /** Lets a decision's ballot topic go (read no more). */
    const release = async (decisionId: string) => {
      const ballots = ballotConsumers.get(decisionId);
      if (!ballots) return;
      ballotConsumers.delete(decisionId);
      consumers.splice(consumers.findIndex(([, c]) => c === ballots), 1);
      await ballots.close();
      entry.ballotSubscriptions = ballotConsumers.size;
    };
    const take = async (source: AnalyticsSource, payload: string, properties: Record<string, string>) => {
      for (const record of engine.ingest(source, payload, properties)) {
        await this.messaging.publish(out, Buffer.from(JSON.stringify(record)), { key: record.key });
      }
    };
    try {
      while (!this.closed) {
        let idle = true;
        for (const [source, consumer] of consumers) {
          const message = await consumer.receive(idle ? 200 : 1);
          if (!message || this.closed) continue;
          idle = false;
          const payload = Buffer.from(message.payload).toString('utf8');
          // An agent's roster note is published before anything the agent sends: read the notes
          // already there first, so that a message is not taken for an unknown agent's.
          for (let note = source === 'roster' ? undefined : await roster.receive(1); note; note = await roster.receive(1)) {
            await take('roster', Buffer.from(note.payload).toString('utf8'), note.properties);
            await roster.ack(note);
          }
          const closing = source === 'control' ? closedDecision(payload) : undefined;
          const ballots = closing === undefined ? undefined : ballotConsumers.get(closing);
          if (closing !== undefined && ballots) {
            // Its ballots were all published before voting closed: take what is left, then let the topic go.
            await this.drain(ballots, (m) => take('ballots', Buffer.from(m.payload).toString('utf8'), m.properties));
            await release(closing);
          }
          await take(source, payload, message.properties);
          const opening = source === 'control' ? openedDecision(payload) : undefined;
          if (opening !== undefined && !ballotConsumers.has(opening)) {
            const topic = swarmTopics(swarmId).decision(opening);
            const subscribed = await this.messaging.subscribe(topic, EMBEDDED_ANALYTICS_SUBSCRIPTION, { initialPosition: 'earliest' });
            ballotConsumers.set(opening, subscribed);
            consumers.push(['ballots', subscribed]);
            entry.ballotSubscriptions = ballotConsumers.size;
          }
          await consumer.ack(message);
          // A decision idle past QP_ANALYTICS_DECISION_IDLE_MS without its outcome lost its turnout state: its topic goes too.
          for (const decisionId of engine.takeIdleDecisions()) await release(decisionId);
        }
      }
    } finally {
      await Promise.allSettled(consumers.map(([, c]) => c.close()));
    }
  }

  /** Takes a consumer's messages until none arrives for a while. */
  private async drain(consumer: Consumer, take: (message: ReceivedMessage) => Promise<void>): Promise<void> {
    for (let m = await consumer.receive(DRAIN_WAIT_MS); m && !this.closed; m = await consumer.receive(DRAIN_WAIT_MS)) {
      await take(m);
      await consumer.ack(m);
    }
  }

  /** Ballot topics read now, per swarm: one per decision opened and not closed yet. */
  ballotSubscriptions(swarmId: string): number | undefined {
    return this.running.get(swarmId)?.ballotSubscriptions;
  }

  async status(): Promise<AnalyticsRuntimeStatus> {
    return {
      runtime: 'embedded',
      reachable: true,
      jobs: [...this.running.entries()].map(([swarmId, r]) => ({
        jobId: `embedded-${swarmId}`,
        swarmId,
        name: `qp-analytics/${swarmId}`,
        version: 'embedded',
        state: r.failure ? 'FAILED' : 'RUNNING',
        startTime: r.startTime,
      })),
    };
  }

  /** The engine's counters for a swarm (messages, accepted, malformed, invalid, ignored, late, unmatched, unknownAgent, windowsEmitted). */
  counters(swarmId: string) {
    return this.running.get(swarmId)?.engine.counters;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running.values()].map((r) => r.loop));
  }
}
