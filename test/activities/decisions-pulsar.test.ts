// The ballot count's last batch, after the deadline, on the real broker: it
// must read the decision's topic to its end. A subscription just opened, or
// one whose messages a closed consumer gave back for redelivery (a batch whose
// result a Temporal restart lost), delivers nothing within the first
// millisecond, and what the last batch leaves is drained uncounted.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createDecisionActivities, type CountBallotsInput } from '../../activities/decisions';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { PulsarMessaging } from '../../adapters/pulsar/messaging';
import { signBallot } from '../../core/decisions/ballot';
import { decisionTopic } from '../../core/decisions/topics';
import { sharedPulsarOptions } from '../support/pulsar';
import { uniqueId } from '../support/stack';

const VOTERS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];

describe('the last ballot batch after the deadline, on Pulsar', () => {
  const swarmId = uniqueId('last-batch');
  let messaging: PulsarMessaging;
  const blobs = new MemoryBlobStore();
  const keys = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>(VOTERS.map((id) => [id, generateKeyPairSync('ed25519')]));
  let activities: ReturnType<typeof createDecisionActivities>;

  beforeAll(() => {
    messaging = new PulsarMessaging(sharedPulsarOptions());
    activities = createDecisionActivities({
      messaging,
      blobs,
      electorate: { members: async () => [] },
      agentKeys: { publicKey: async (_swarm, agentId) => keys.get(agentId)?.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    });
  });
  afterAll(() => messaging.close());

  async function voteAll(decisionId: string): Promise<void> {
    for (const [i, agentId] of VOTERS.entries()) {
      const ballot = signBallot(keys.get(agentId)!.privateKey, { decisionId, agentId, choice: i % 2 ? 'against' : 'for', castAt: Date.now() });
      await messaging.publish(decisionTopic(swarmId, decisionId), Buffer.from(JSON.stringify(ballot)), { properties: { type: 'ballot' } });
    }
  }

  async function batch(decisionId: string, chunks: string[], window: { opensAt: number; closesAt: number }, waitMs: number) {
    const input: CountBallotsInput = {
      spec: { decisionId, swarmId, system: 'basic', options: ['for', 'against', 'abstain'] },
      snapshotDigest: await blobs.put(Buffer.from(JSON.stringify(Object.fromEntries(VOTERS.map((id) => [id, 1]))))),
      chunks,
      ...window,
      quorumPower: VOTERS.length + 1,
      waitMs,
      maxBallots: 100,
    };
    return activities.countBallots(input);
  }

  it('counts ballots published before the deadline when the first batch starts after it', async () => {
    const decisionId = uniqueId('first-after-deadline');
    const opensAt = Date.now() - 1_000;
    await voteAll(decisionId);
    const last = await batch(decisionId, [], { opensAt, closesAt: Date.now() }, 0);
    expect(last).toMatchObject({ received: VOTERS.length, accepted: VOTERS.length, voters: VOTERS.length });
    await activities.settleBallots({ swarmId, decisionId, chunks: last.chunk ? [last.chunk] : [] });
  }, 120_000);

  it('counts a lost batch again when its retry comes after the deadline', async () => {
    const decisionId = uniqueId('lost-then-deadline');
    const opensAt = Date.now() - 1_000;
    await voteAll(decisionId);
    const lost = await batch(decisionId, [], { opensAt, closesAt: Date.now() + 60_000 }, 30_000);
    expect(lost).toMatchObject({ accepted: VOTERS.length });
    // The workflow never recorded `lost`; its next call comes once the deadline has passed.
    const last = await batch(decisionId, [], { opensAt, closesAt: Date.now() }, 0);
    expect(last).toMatchObject({ received: VOTERS.length, accepted: VOTERS.length, voters: VOTERS.length });
    const settled = await activities.settleBallots({ swarmId, decisionId, chunks: [last.chunk!] });
    expect(settled.drained).toBe(0);
  }, 120_000);
});
