// The ballot-counting activity when its result never reaches the workflow (a
// Temporal restart between the batch and the recording of its completion): the
// workflow calls again with the chunks it has, and the ballots of the lost batch
// must be counted by that call, none twice; and when the retry starts while the
// attempt Temporal gave up on is still receiving.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createDecisionActivities, type CountBallotsInput } from '../../activities/decisions';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { MemoryMessaging } from '../../adapters/memory/messaging';
import { signBallot } from '../../core/decisions/ballot';
import { decisionTopic } from '../../core/decisions/topics';

const SWARM = 'lost-batch-swarm';
const DECISION = 'lost-batch';
const VOTERS = ['a0', 'a1', 'a2', 'a3'];

describe('countBallots when a batch result is lost', () => {
  const messaging = new MemoryMessaging();
  const blobs = new MemoryBlobStore();
  const keys = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>(VOTERS.map((id) => [id, generateKeyPairSync('ed25519')]));
  const activities = createDecisionActivities({
    messaging,
    blobs,
    electorate: { members: async () => [] },
    agentKeys: { publicKey: async (_swarm, agentId) => keys.get(agentId)?.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  });
  const opensAt = Date.now() - 1_000;

  async function vote(agentId: string, choice: string, decisionId = DECISION): Promise<void> {
    const ballot = signBallot(keys.get(agentId)!.privateKey, { decisionId, agentId, choice, castAt: Date.now() });
    await messaging.publish(decisionTopic(SWARM, decisionId), Buffer.from(JSON.stringify(ballot)), { properties: { type: 'ballot' } });
  }

  async function batch(chunks: string[], decisionId = DECISION, waitMs = 300) {
    const input: CountBallotsInput = {
      spec: { decisionId, swarmId: SWARM, system: 'basic', options: ['for', 'against', 'abstain'] },
      snapshotDigest: await blobs.put(Buffer.from(JSON.stringify(Object.fromEntries(VOTERS.map((id) => [id, 1]))))),
      chunks,
      opensAt,
      closesAt: opensAt + 60_000,
      quorumPower: 4,
      waitMs,
      maxBallots: 100,
    };
    return activities.countBallots(input);
  }

  afterAll(() => messaging.close());

  it('counts the lost batch again on the next call, and nothing twice after it is recorded', async () => {
    await vote('a0', 'for');
    await vote('a1', 'against');
    const lost = await batch([]);
    expect(lost).toMatchObject({ accepted: 2, voters: 2 });

    // The workflow never saw `lost`: it calls again with the chunks it has (none).
    const retried = await batch([]);
    expect(retried).toMatchObject({ accepted: 2, voters: 2, tally: { scores: { for: 1, against: 1, abstain: 0 } } });
    expect(retried.chunk).toBeDefined();

    // Recorded this time: the next call acknowledges it and counts only what is new.
    await vote('a2', 'for');
    const next = await batch([retried.chunk!]);
    expect(next).toMatchObject({ accepted: 1, voters: 3, refusals: { counts: {} } });
    const last = await batch([retried.chunk!, next.chunk!]);
    expect(last).toMatchObject({ received: 0, voters: 3, tally: { turnout: 3, scores: { for: 2, against: 1, abstain: 0 } } });
  });

  it('counts every ballot when the retry starts while the attempt it replaces is still receiving', async () => {
    const decisionId = 'timed-out-batch';
    // The first attempt timed out at Temporal (its heartbeats lost in a restart) but still runs here.
    const timedOut = batch([], decisionId, 2_000);
    const retry = batch([], decisionId, 2_000);
    for (const agentId of VOTERS) await vote(agentId, 'for', decisionId);
    await timedOut;
    const retried = await retry;
    const next = await batch([retried.chunk!], decisionId);
    expect(retried.accepted + next.accepted).toBe(VOTERS.length);
    expect(next).toMatchObject({ voters: VOTERS.length, tally: { turnout: VOTERS.length } });
  });
});
