// The embedded analytics runtime over in-memory messaging: a decision whose outcome never comes
// loses its turnout state after QP_ANALYTICS_DECISION_IDLE_MS of event time, and its ballot topic is let go.
import { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { MemoryMessaging } from '../adapters/memory/messaging';
import type { AnalyticsRecord, BallotTurnout } from '../core/analytics';
import { analyticsTopics } from '../core/analytics/topics';
import { swarmTopics } from '../core/topics';
import { STREAM_OPTIONS, T0 } from './support/analytics-stream';
import { waitFor } from './support/stack';

describe('embedded analytics: a decision without outcome', () => {
  const swarmId = 'idle-swarm';
  const messaging = new MemoryMessaging();
  const runtime = new EmbeddedAnalyticsRuntime(messaging, { ...STREAM_OPTIONS, latenessMs: 0, decisionIdleMs: 30_000 });
  const topics = swarmTopics(swarmId);
  const publish = (topic: string, body: object) => messaging.publish(topic, Buffer.from(JSON.stringify(body)), {});

  afterAll(async () => {
    await runtime.close();
  });

  it('keeps its ballot topic while it is active and lets it go with its state once idle', async () => {
    const out = await messaging.subscribe(analyticsTopics(swarmId).analytics, 'test', { initialPosition: 'earliest' });
    const turnout: BallotTurnout[] = [];
    const drain = async () => {
      for (let m = await out.receive(20); m; m = await out.receive(20)) {
        const r = JSON.parse(Buffer.from(m.payload).toString('utf8')) as AnalyticsRecord;
        if (r.signal === 'ballot-turnout') turnout.push(r);
        await out.ack(m);
      }
      return turnout;
    };
    await runtime.deploy(swarmId);
    await publish(topics.roster, { type: 'agent-registered', agentId: 'a1', registeredAt: T0 });
    await publish(topics.control, { type: 'decision-proposal', decisionId: 'd9', opensAt: T0 + 1_000, voters: 2 });
    await waitFor('the ballot topic read', () => (runtime.ballotSubscriptions(swarmId) === 1 ? true : undefined));
    await publish(topics.decision('d9'), { decisionId: 'd9', agentId: 'a1', castAt: T0 + 2_000 });
    // the topics are read in turn: the ballot before the heartbeat that closes its window
    await waitFor('the proposal and the ballot taken', () => (runtime.counters(swarmId)?.accepted === 2 ? true : undefined));
    // window 0 fires: d9's turnout so far
    await publish(topics.heartbeats, { agentId: 'a1', sentAt: T0 + 10_000 });
    await waitFor('d9 in window 0', async () => ((await drain()).length === 1 ? true : undefined));
    expect(turnout[0]).toMatchObject({ key: 'd9', windowStart: T0, voters: 1, eligible: 2 });
    // 25 s later: not idle yet
    await publish(topics.heartbeats, { agentId: 'a1', sentAt: T0 + 35_000 });
    await waitFor('the heartbeat taken', () => (runtime.counters(swarmId)?.accepted === 4 ? true : undefined));
    expect(runtime.ballotSubscriptions(swarmId)).toBe(1);
    // the watermark reaches 10 000 - 1 + 30 000: idle, its state and its topic go
    await publish(topics.heartbeats, { agentId: 'a1', sentAt: T0 + 40_000 });
    await waitFor('the ballot topic let go', () => (runtime.ballotSubscriptions(swarmId) === 0 ? true : undefined));
    await out.close();
  });
});
