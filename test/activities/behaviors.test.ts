// The sweep's activities on in-memory ports, in a mock activity context:
// what is accepted, what is refused and why, heartbeats and resumption,
// discovery from the scored batches, dissemination.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import type { Info } from '@temporalio/activity';
import {
  createBehaviorActivities,
  type IngestBatchResult,
  type IngestProgress,
} from '../../activities/behaviors';
import type { BehaviorAgentRegistry } from '../../adapters/ports';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import { MemoryVectors } from '../../adapters/memory/vectors';
import { behaviorCollection, skillCollection } from '../../core/behaviors/collections';
import { DEFAULT_SWEEP_PARAMETERS, type ScoredBehavior, type SkillMessage } from '../../core/behaviors/types';
import { TestAgentKeys } from '../support/agent-keys';
import { swarmTopics } from '../../core/topics';

const SECRET = 'behavior-test-secret-0123456789abcdef';
const SWARM = 'swarm-b';
const TOPIC = swarmTopics(SWARM).behaviors;

/** A mock activity context that logs only errors; run() keeps the activity's own types. */
function mockContext(info: Partial<Info> = {}) {
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  return Object.assign(env, {
    call: <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => env.run(fn, ...args) as Promise<R>,
  });
}

function registry(agents: string[]): BehaviorAgentRegistry & { reads: number } {
  return {
    reads: 0,
    async registeredAgents(swarmId) {
      this.reads++;
      return new Set(swarmId === SWARM ? agents : []);
    },
    async swarms() {
      return [SWARM];
    },
  };
}

function setUp(agents = ['a1', 'a2'], batchSize = 3) {
  const messaging = new MemoryMessaging();
  const vectors = new MemoryVectors();
  const blobs = new MemoryBlobStore();
  const reg = registry(agents);
  // Every agent that reports has a key except 'stranger'; the registry may not know it yet ('late').
  const keys = new TestAgentKeys(['a1', 'a2', 'late']);
  const activities = createBehaviorActivities({
    messaging,
    vectors,
    blobs,
    registry: reg,
    agentKeys: keys,
    credentialSecret: SECRET,
    settings: { dimension: 3, metric: 'L2', batchSize, maxReports: 1000, drainIdleMs: 50 },
  });
  /** Publishes as `signer` (by default the report's own agent); signer null publishes without a proof. */
  const publish = (payload: unknown, signer?: string | null) => {
    const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const claimed = (): string | undefined => {
      try {
        return (JSON.parse(bytes.toString()) as { agentId?: string }).agentId;
      } catch {
        return undefined;
      }
    };
    const by = signer === undefined ? claimed() : signer;
    return messaging.publish(TOPIC, bytes, { properties: by ? keys.sign(by, TOPIC, bytes) : {} });
  };
  const report = (agentId: string, episode: number, descriptor = [episode, 0, 0], extra: object = {}) => ({
    type: 'behavior',
    agentId,
    swarmId: SWARM,
    episodeId: `e${episode}`,
    descriptor,
    fitness: 0.5,
    timestamp: Date.now(),
    ...extra,
  });
  return { messaging, vectors, blobs, reg, activities, publish, report, keys };
}

describe('ingestBehaviorReports', () => {
  it('stores and scores the good reports and counts each refused one by its reason', async () => {
    const { activities, publish, report, vectors, blobs, messaging } = setUp();
    for (let e = 0; e < 3; e++) await publish(report('a1', e));
    await publish(report('a2', 0, [0, 1, 0]));
    await publish(report('a2', 1, [0, 1, 0, 5])); // wrong dimension
    // 1e999 is valid JSON and parses to Infinity.
    await publish(JSON.stringify(report('a2', 2)).replace('"descriptor":[2,0,0]', '"descriptor":[2,1e999,0]'));
    const forged = report('a2', 3, [0, 0, 1]);
    const bytes = Buffer.from(JSON.stringify(forged));
    await messaging.publish(TOPIC, bytes, { properties: new TestAgentKeys(['a2']).sign('a2', TOPIC, bytes) }); // another key
    await publish(report('a2', 4, [0, 0, 1]), null); // no proof
    await publish(report('a2', 5, [0, 0, 1]), 'a1'); // signed by another agent
    await publish(report('stranger', 0)); // a valid signature by a key nobody registered
    await publish('{not json');
    await publish(report('a2', 6, [0, 0, 1], { fitness: 'high' }));
    const heartbeats: IngestProgress[] = [];
    const env = mockContext();
    env.on('heartbeat', (details: IngestProgress) => heartbeats.push(structuredClone(details)));

    const result = await env.call(activities.ingestBehaviorReports, { swarmId: SWARM, reportId: 'sweep-1', k: 2 });

    expect(result).toMatchObject({
      batches: 4,
      received: 12,
      accepted: 4,
      archive: 4,
      rejections: { wrong_dimension: 1, not_finite: 1, bad_proof: 2, missing_proof: 1, unknown_agent: 1, malformed: 2 },
    });
    // Batches that accepted nothing leave no blob.
    expect(result.scoredBlobs).toHaveLength(2);
    expect(await vectors.count(behaviorCollection(SWARM))).toBe(4);
    const [stored] = await vectors.get(behaviorCollection(SWARM), ['a1:e2']);
    expect(stored.fields).toMatchObject({ agentId: 'a1', episodeId: 'e2', fitness: 0.5, reportId: 'sweep-1' });
    const scored = JSON.parse(Buffer.from((await blobs.get(result.scoredBlobs[0]))!).toString()) as ScoredBehavior[];
    // a1:e0 at (0,0,0), stored together with a1:e1 (1,0,0) and a1:e2 (2,0,0): its 2 nearest others are 1 and 2 away.
    expect(scored.find((b) => b.behaviorId === 'a1:e0')).toMatchObject({ novelty: 1.5, neighbours: 2 });
    expect(heartbeats.length).toBeGreaterThan(0);
    expect(heartbeats.at(-1)).toMatchObject({ batches: 4, received: 12 });
  });

  it('reads the registry again when an agent it does not know reports', async () => {
    const { activities, publish, report, reg } = setUp(['a1']);
    await publish(report('a1', 0));

    await mockContext().call(activities.ingestBehaviorReports, { swarmId: SWARM, reportId: 'r', k: 2 });
    expect(reg.reads).toBe(1);

    await publish(report('late', 0));
    await mockContext().call(activities.ingestBehaviorReports, { swarmId: SWARM, reportId: 'r', k: 2 });
    expect(reg.reads).toBe(3);
  });

  it('a retried attempt continues from its heartbeat details, and the broker has kept what was not acknowledged', async () => {
    const { activities, publish, report } = setUp();
    await publish(report('a1', 0));
    await publish(report('a1', 1));
    const earlier: IngestProgress = { batches: 2, received: 6, accepted: 5, rejections: { malformed: 1 }, scoredBlobs: ['d1', 'd2'] };

    const result = await mockContext({ heartbeatDetails: earlier }).call(activities.ingestBehaviorReports, {
      swarmId: SWARM,
      reportId: 'r',
      k: 2,
    });

    expect(result).toMatchObject({ batches: 3, received: 8, accepted: 7, rejections: { malformed: 1 } });
    expect(result.scoredBlobs.slice(0, 2)).toEqual(['d1', 'd2']);
    expect(result.scoredBlobs).toHaveLength(3);
  });

  it('drains nothing from an empty topic and still reports the archive', async () => {
    const { activities } = setUp();

    const result = await mockContext().call(activities.ingestBehaviorReports, { swarmId: SWARM, reportId: 'r', k: 2 });

    expect(result).toEqual({ batches: 0, received: 0, accepted: 0, rejections: {}, scoredBlobs: [], archive: 0 });
  });

  it('stops at maxReports and leaves the rest for the next sweep', async () => {
    const messaging = new MemoryMessaging();
    const keys = new TestAgentKeys(['a1']);
    const activities = createBehaviorActivities({
      messaging,
      vectors: new MemoryVectors(),
      blobs: new MemoryBlobStore(),
      registry: registry(['a1']),
      agentKeys: keys,
      credentialSecret: SECRET,
      settings: { dimension: 3, metric: 'L2', batchSize: 4, maxReports: 5, drainIdleMs: 50 },
    });
    for (let e = 0; e < 8; e++) {
      const bytes = Buffer.from(JSON.stringify({ agentId: 'a1', episodeId: `e${e}`, descriptor: [e, 0, 0], fitness: 1, timestamp: 1 }));
      await messaging.publish(TOPIC, bytes, { properties: keys.sign('a1', TOPIC, bytes) });
    }
    const run = () => mockContext().call(activities.ingestBehaviorReports, { swarmId: SWARM, reportId: 'r', k: 2 });

    expect((await run()).received).toBe(5);
    expect((await run()).received).toBe(3);
  });
});

describe('discoverBehaviorStrategies and disseminateSkills', () => {
  function behavior(id: string, descriptor: number[], fitness: number, novelty: number): ScoredBehavior {
    const [agentId, episodeId] = id.split(':');
    return { behaviorId: id, agentId, episodeId, descriptor, fitness, novelty, neighbours: 2 };
  }
  const baseline = Array.from({ length: 10 }, (_, i) => behavior(`b${i}:e0`, [0, 0, 0.01 * i], 0.5, 0.05));
  const novel = [
    behavior('n1:e0', [5, 5, 5], 0.9, 4),
    behavior('n1:e1', [5, 5, 5.05], 0.9, 4),
    behavior('n2:e0', [5.05, 5, 5], 0.9, 4),
  ];

  it('clusters the novel fit behaviors, counting a behavior scored twice once, and stores the skill', async () => {
    const { activities, blobs, vectors } = setUp();
    const first = await blobs.put(Buffer.from(JSON.stringify([...baseline, ...novel])));
    // The last batch redelivered after a crash and scored again.
    const again = await blobs.put(Buffer.from(JSON.stringify(novel.slice(2))));

    const result = await mockContext().call(activities.discoverBehaviorStrategies, {
      swarmId: SWARM,
      reportId: 'sweep-r',
      scoredBlobs: [first, again],
      parameters: DEFAULT_SWEEP_PARAMETERS,
    });

    expect(result).toMatchObject({ candidates: 3, clustered: 3, noise: 0 });
    expect(result.strategies).toHaveLength(1);
    expect(result.strategies[0]).toMatchObject({ strategyId: 'sweep-r-s1', size: 3, agents: ['n1', 'n2'] });
    expect(result.strategies[0]).not.toHaveProperty('centroid');
    const [skill] = await vectors.get(skillCollection(SWARM), ['sweep-r-s1']);
    expect(skill.vector[0]).toBeCloseTo(5.0167, 3);
    expect(skill.fields).toMatchObject({ reportId: 'sweep-r', size: 3, agentCount: 2 });
  });

  it('fails for good, not in a retry loop, when the scored batches are gone', async () => {
    const { activities } = setUp();

    const failure = await mockContext()
      .call(activities.discoverBehaviorStrategies, {
        swarmId: SWARM,
        reportId: 'r',
        scoredBlobs: ['0'.repeat(64)],
        parameters: DEFAULT_SWEEP_PARAMETERS,
      })
      .catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'SCORES_LOST', nonRetryable: true });
  });

  it('publishes the chosen strategies on the broadcast topic with their centroids', async () => {
    const { activities, blobs, messaging } = setUp();
    const digest = await blobs.put(Buffer.from(JSON.stringify([...baseline, ...novel])));
    const listener = await messaging.subscribe(swarmTopics(SWARM).broadcast, 'test', { initialPosition: 'earliest' });
    const env = mockContext();
    await env.call(activities.discoverBehaviorStrategies, { swarmId: SWARM, reportId: 'sweep-r', scoredBlobs: [digest], parameters: DEFAULT_SWEEP_PARAMETERS });

    const { published } = await env.call(activities.disseminateSkills, { swarmId: SWARM, reportId: 'sweep-r', strategyIds: ['sweep-r-s1'] });

    expect(published).toEqual(['sweep-r-s1']);
    const message = await listener.receive(1000);
    expect(message?.properties.type).toBe('skill');
    const skill = JSON.parse(Buffer.from(message!.payload).toString()) as SkillMessage;
    expect(skill).toMatchObject({ type: 'skill', swarmId: SWARM, skillId: 'sweep-r-s1', reportId: 'sweep-r', size: 3, agentCount: 2 });
    expect(skill.descriptor).toHaveLength(3);
    await listener.close();
  });
});

describe('ingestBehaviorBatch', () => {
  /** Drains as the workflow does, one call per batch, feeding each call the progress `record` keeps of the last. */
  async function drain(
    activities: ReturnType<typeof setUp>['activities'],
    record: (progress: IngestBatchResult['progress']) => IngestBatchResult['progress'] | undefined = (p) => p,
  ): Promise<IngestBatchResult> {
    let progress: IngestBatchResult['progress'] | undefined;
    for (let calls = 0; calls < 50; calls++) {
      const step = await mockContext().call(activities.ingestBehaviorBatch, { swarmId: SWARM, reportId: 'r', k: 2, progress });
      if (step.done) return step;
      progress = record(step.progress);
    }
    throw new Error('the drain did not end');
  }

  it('counts each report once, batch by batch', async () => {
    const { activities, publish, report } = setUp(['a1', 'a2'], 2);
    for (let e = 0; e < 5; e++) await publish(report('a1', e));
    await publish(report('a2', 0, [0, 1, 0]));
    const result = await drain(activities);
    expect(result.progress).toMatchObject({ batches: 3, received: 6, accepted: 6 });
    expect(result.archive).toBe(6);
  });

  it('counts a batch whose result never reached the workflow on the retry, and none twice', async () => {
    const { activities, publish, report } = setUp(['a1', 'a2'], 2);
    for (let e = 0; e < 5; e++) await publish(report('a1', e));
    await publish(report('a2', 0, [0, 1, 0]));
    // The second batch's result is lost once (a Temporal restart): the workflow calls again with the first one's progress.
    let lost = false;
    let previous: IngestBatchResult['progress'] | undefined;
    const result = await drain(activities, (progress) => {
      if (progress.batches === 2 && !lost) {
        lost = true;
        return previous;
      }
      previous = progress;
      return progress;
    });
    expect(lost).toBe(true);
    expect(result.progress).toMatchObject({ batches: 3, received: 6, accepted: 6, rejections: {} });
    expect(result.archive).toBe(6);
  });

  it('counts every report when an attempt Temporal gave up on (stuck in the vector store) finishes after its retry', async () => {
    const { activities, publish, report, vectors } = setUp(['a1', 'a2'], 2);
    for (let e = 0; e < 5; e++) await publish(report('a1', e));
    await publish(report('a2', 0, [0, 1, 0]));
    const first = await mockContext().call(activities.ingestBehaviorBatch, { swarmId: SWARM, reportId: 'r', k: 2 });
    // The second call's first attempt hangs in the store (a Milvus gone away) until released.
    const upsert = vectors.upsert.bind(vectors);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let stuck: (() => void) | undefined = () => undefined;
    vectors.upsert = async (...args) => {
      if (stuck) {
        stuck();
        stuck = undefined;
        await released;
      }
      return upsert(...args);
    };
    let entered!: () => void;
    const hanging = new Promise<void>((resolve) => (entered = resolve));
    stuck = entered;
    const input = { swarmId: SWARM, reportId: 'r', k: 2, progress: first.progress };
    const abandoned = mockContext().call(activities.ingestBehaviorBatch, input).catch((error: unknown) => error);
    await hanging;
    // Temporal timed the attempt out and retries it on the same worker while it still runs.
    const retried = await mockContext().call(activities.ingestBehaviorBatch, input);
    release();
    expect(await abandoned).toMatchObject({ type: 'DRAIN_SUPERSEDED' });

    let progress = retried.progress;
    for (let calls = 0; calls < 10; calls++) {
      const step = await mockContext().call(activities.ingestBehaviorBatch, { swarmId: SWARM, reportId: 'r', k: 2, progress });
      progress = step.progress;
      if (step.done) {
        expect(progress).toMatchObject({ batches: 3, received: 6, accepted: 6 });
        expect(step.archive).toBe(6);
        return;
      }
    }
    throw new Error('the drain did not end');
  });
});
