// The round start on in-memory messaging: each participant gets its own start
// in its inbox, nobody else gets one, and a round's bytes grow with the
// number of participants, not with its square.
import { TestAgentKeys } from '../support/agent-keys';
import { createTuningActivities, type StartRoundInput } from '../../activities/tuning';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import type { MessagingPort } from '../../adapters/ports';
import { swarmTopics } from '../../core/topics';
import { bytesToParams, paramsToBytes, type RoundStartMessage } from '../../core/tuning';

const SWARM = 'swarm-rs';

/** In-memory messaging that counts what is published, per topic. */
function countingMessaging(): MessagingPort & { bytes: number; messages: Map<string, number> } {
  const inner = new MemoryMessaging();
  return {
    bytes: 0,
    messages: new Map(),
    async publish(topic, payload, options) {
      this.bytes += payload.byteLength + JSON.stringify(options?.properties ?? {}).length + (options?.key?.length ?? 0);
      this.messages.set(topic, (this.messages.get(topic) ?? 0) + 1);
      return inner.publish(topic, payload, options);
    },
    subscribe: (topic, subscription, options) => inner.subscribe(topic, subscription, options),
    deleteTopic: (topic) => inner.deleteTopic(topic),
    close: () => inner.close(),
  };
}

async function setup(dimension: number) {
  const messaging = countingMessaging();
  const blobs = new MemoryBlobStore();
  const activities = createTuningActivities({
    messaging,
    blobs,
    directory: { listActive: async () => [] },
    evaluator: { evaluate: async () => undefined },
    agentKeys: new TestAgentKeys(),
    credentialSecret: 'round-start-test-secret-0123456789',
  });
  const global = Float32Array.from({ length: dimension }, (_, i) => i / dimension);
  const globalDigest = await blobs.put(paramsToBytes(global));
  return { messaging, activities, global, globalDigest };
}

const agents = (n: number) => Array.from({ length: n }, (_, i) => `agent-${String(i).padStart(5, '0')}`);

function roundInput(participants: string[], globalDigest: string, extra: Partial<StartRoundInput> = {}): StartRoundInput {
  return {
    jobId: 'job-1',
    swarmId: SWARM,
    round: 1,
    attempt: 1,
    participants,
    deadlineAt: Date.now() + 60_000,
    globalDigest,
    training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    ...extra,
  };
}

describe('the round start', () => {
  it('goes to each participant in its own inbox, with the model inline, and to nobody else', async () => {
    const { messaging, activities, global, globalDigest } = await setup(650);
    const all = agents(6);
    const participants = all.slice(1); // all[0] is not selected
    const inboxes = await Promise.all(
      all.map((id) => messaging.subscribe(swarmTopics(SWARM).inbox(id), `agent-${id}-rounds`, { initialPosition: 'earliest' })),
    );
    const control = await messaging.subscribe(swarmTopics(SWARM).control, 'watcher', { initialPosition: 'earliest' });

    await activities.startRound(roundInput(participants, globalDigest));

    expect(await inboxes[0].receive(50)).toBeUndefined();
    expect(await control.receive(50)).toBeUndefined();
    for (const [i, id] of participants.entries()) {
      const received = await inboxes[i + 1].receive(1000);
      expect(received?.properties).toMatchObject({ type: 'round-start', jobId: 'job-1' });
      const start = JSON.parse(Buffer.from(received!.payload).toString('utf8')) as RoundStartMessage & { participants?: unknown };
      expect(start).toMatchObject({ type: 'round-start', agentId: id, jobId: 'job-1', round: 1, attempt: 1, globalDigest });
      expect(start.participants).toBeUndefined();
      expect(bytesToParams(Buffer.from(start.globalParams!, 'base64'))).toEqual(global);
      expect(await inboxes[i + 1].receive(20)).toBeUndefined();
    }
    await messaging.close();
  });

  it('names the model by digest when it is over 256 KiB', async () => {
    const { messaging, activities, globalDigest } = await setup(70_000);
    const inbox = await messaging.subscribe(swarmTopics(SWARM).inbox('agent-a'), 'a', { initialPosition: 'earliest' });
    await activities.startRound(roundInput(['agent-a', 'agent-b'], globalDigest));
    const start = JSON.parse(Buffer.from((await inbox.receive(1000))!.payload).toString('utf8')) as RoundStartMessage;
    expect(start.globalParams).toBeUndefined();
    expect(start.globalDigest).toBe(globalDigest);
    expect(messaging.bytes).toBeLessThan(2 * 2048);
    await messaging.close();
  });

  it('carries the secure-aggregation config, but no participant list, to secure rounds', async () => {
    const { messaging, activities, globalDigest } = await setup(16);
    const inbox = await messaging.subscribe(swarmTopics(SWARM).inbox('agent-b'), 'b', { initialPosition: 'earliest' });
    await activities.startRound(roundInput(['agent-a', 'agent-b', 'agent-c'], globalDigest, { secureAggregation: { stageTimeoutMs: 1000 } }));
    const raw = Buffer.from((await inbox.receive(1000))!.payload).toString('utf8');
    const start = JSON.parse(raw) as RoundStartMessage;
    expect(start.secureAggregation).toMatchObject({ config: { roundId: 'job-1/1/1', dimension: 16 }, stageTimeoutMs: 1000 });
    expect(raw).not.toContain('agent-a');
    expect(raw).not.toContain('agent-c');
    await messaging.close();
  });

  it('costs the same bytes per participant with 200 and with 400 participants (no N² term)', async () => {
    const bytesFor = async (n: number) => {
      const { messaging, activities, globalDigest } = await setup(650);
      await activities.startRound(roundInput(agents(n), globalDigest));
      expect(messaging.messages.size).toBe(n);
      await messaging.close();
      return messaging.bytes;
    };
    const at200 = await bytesFor(200);
    const at400 = await bytesFor(400);
    // With the participant list in every message, doubling N would quadruple the bytes.
    expect(at400 / at200).toBeGreaterThan(1.99);
    expect(at400 / at200).toBeLessThan(2.01);
    // A participant's start is the inline model (650 float32, base64) plus a few hundred bytes.
    expect(at400 / 400).toBeLessThan(Math.ceil((650 * 4) / 3) * 4 + 512);
  });

  it('lets timers run while it fans out to 10,000 inboxes on the in-process broker (the heartbeats of its activity keep going)', async () => {
    const { activities, globalDigest } = await setup(650);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    try {
      await activities.startRound(roundInput(agents(10_000), globalDigest));
    } finally {
      clearInterval(timer);
    }
    // Each publish resolves as a microtask: without turns of the event loop no timer would fire until the end.
    expect(performance.now() - started).toBeGreaterThan(5);
    expect(ticks).toBeGreaterThan(0);
  });
});
