// The round's collection when its result never reaches the workflow (a Temporal
// restart between the aggregation and the recording of its completion): the
// activity runs again with the same input, and it must find the same updates and
// compute the same model; once the workflow recorded a collection, the next one
// acknowledges its messages without counting them again.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createTuningActivities, type CollectInput, type CollectOutcome } from '../../activities/tuning';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import { swarmTopics } from '../../core/topics';
import { encodeUpdateHeader, paramsToBytes } from '../../core/tuning';
import { TestAgentKeys } from '../support/agent-keys';

const SWARM = 'lost-collection-swarm';
const JOB = 'lost-collection';
const AGENTS = ['a0', 'a1', 'a2'];
const DIMENSION = 4;
const TOPIC = swarmTopics(SWARM).updates(JOB);

describe('collectAndAggregate when a round result is lost', () => {
  const messaging = new MemoryMessaging();
  const blobs = new MemoryBlobStore();
  const keys = new TestAgentKeys(AGENTS);
  const activities = createTuningActivities({
    messaging,
    blobs,
    directory: { listActive: async () => [] },
    evaluator: { evaluate: async () => undefined },
    agentKeys: keys,
    credentialSecret: 'lost-collection-secret-0123456789abcdef',
  });
  const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  const collect = (input: CollectInput): Promise<CollectOutcome> => env.run(activities.collectAndAggregate, input) as Promise<CollectOutcome>;
  afterAll(() => messaging.close());

  async function send(agentId: string, round: number, value: number): Promise<void> {
    const payload = paramsToBytes(Float32Array.from({ length: DIMENSION }, () => value));
    const header = encodeUpdateHeader({ jobId: JOB, round, attempt: 1, agentId, examples: 10 });
    await messaging.publish(TOPIC, payload, { key: agentId, properties: keys.sign(agentId, TOPIC, payload, header) });
  }

  function roundInput(round: number, participants: string[], globalDigest: string, extra: Partial<CollectInput>): CollectInput {
    return {
      jobId: JOB,
      swarmId: SWARM,
      round,
      attempt: 1,
      participants,
      deadlineAt: Date.now() + 1_500,
      minParticipants: 2,
      dimension: DIMENSION,
      globalDigest,
      strategy: 'fedavg',
      strategyOptions: {},
      seed: 1,
      deferAcks: true,
      ...extra,
    };
  }

  it('counts the lost round again on the retry, and its messages not again in the next round', async () => {
    // Subscribed before anything is published, as the workflow's first collection is before agents answer.
    await (await messaging.subscribe(TOPIC, `aggregator-${JOB}`, { type: 'exclusive', initialPosition: 'earliest' })).close();
    const zero = await blobs.put(paramsToBytes(new Float32Array(DIMENSION)));
    await send('a0', 1, 1);
    await send('a1', 1, 3);
    const first = roundInput(1, ['a0', 'a1'], zero, {});
    const lost = await collect(first);
    expect(lost).toMatchObject({ status: 'aggregated', accepted: 2, reported: ['a0', 'a1'] });

    // The workflow never saw `lost`: Temporal runs the activity again with the same input.
    const retried = await collect(first);
    expect(retried).toMatchObject({ status: 'aggregated', accepted: 2, reported: ['a0', 'a1'] });
    if (retried.status !== 'aggregated' || lost.status !== 'aggregated') throw new Error('not aggregated');
    expect(retried.globalDigest).toBe(lost.globalDigest);
    expect(retried.heldDigest).toBeDefined();

    // Recorded this time: round 2 settles round 1's messages and counts only a2's late one as late.
    await send('a2', 1, 5);
    await send('a0', 2, 2);
    await send('a1', 2, 2);
    const second = await collect(roundInput(2, ['a0', 'a1'], retried.globalDigest, { settled: retried.heldDigest }));
    expect(second).toMatchObject({ status: 'aggregated', accepted: 2, lateByRound: { 1: 1 }, rejected: {} });
    if (second.status !== 'aggregated') throw new Error('not aggregated');

    // Round 3 reads nothing of rounds 1 and 2 again, whether it was redelivered or not.
    const third = await collect(
      roundInput(3, ['a0', 'a1'], second.globalDigest, { settled: second.heldDigest, deadlineAt: Date.now() + 300, minParticipants: 1 }),
    );
    expect(third).toMatchObject({ status: 'quorum-not-met', accepted: 0, reported: [], rejected: {} });
    expect(third.lateByRound).toBeUndefined();
  });
});
