import { generateKeyPairSync } from 'node:crypto';
import { PROOF_WINDOW_MS, ReplayGuard, signAsAgent, signAsManager, verifyProof, type ProvenMessage } from '../../core/message-proof';

const agent = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const secret = 'manager-secret-0123456789abcdef';
const topic = 'swarm/s1/updates-job1';
const payload = Buffer.from('the update');
const now = 1_800_000_000_000;
const keys = { secret, agentKey: (id: string) => (id === 'agent-1' ? agent.publicKey : undefined) };

function signed(properties: Record<string, string> = { round: '3', examples: '10' }, sentAt = now): ProvenMessage {
  return { topic, payload, publishTime: sentAt, properties: signAsAgent(agent.privateKey, 'agent-1', topic, properties, payload, sentAt) };
}

describe('message proofs on shared topics', () => {
  it('a message signed by the agent’s registered key proves its sender', () => {
    expect(verifyProof(signed(), keys)).toEqual({ ok: true, agentId: 'agent-1', sentAt: now });
  });

  it('changing any property, the payload or the topic breaks the proof', () => {
    const message = signed();
    expect(verifyProof({ ...message, properties: { ...message.properties, examples: '10000' } }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(verifyProof({ ...message, properties: { ...message.properties, extra: 'x' } }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(verifyProof({ ...message, payload: Buffer.from('another update') }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(verifyProof({ ...message, topic: 'swarm/s1/heartbeats' }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
  });

  it('another key, a missing proof, an unknown sender and a send time outside the window are refused by reason', () => {
    const forged = signAsAgent(other.privateKey, 'agent-1', topic, {}, payload, now);
    expect(verifyProof({ topic, payload, publishTime: now, properties: forged }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    expect(verifyProof({ topic, payload, publishTime: now, properties: { agentId: 'agent-1', credential: 'qpc1.x.y' } }, keys)).toMatchObject({
      ok: false,
      reason: 'missing-proof',
    });
    const stranger = signAsAgent(other.privateKey, 'agent-2', topic, {}, payload, now);
    expect(verifyProof({ topic, payload, publishTime: now, properties: stranger }, keys)).toMatchObject({ ok: false, reason: 'unknown-agent' });
    const old = signed({}, now - PROOF_WINDOW_MS - 1);
    expect(verifyProof({ ...old, publishTime: now }, keys)).toMatchObject({ ok: false, reason: 'stale' });
  });

  it('the manager’s relay proof verifies only with its secret, and cannot be claimed by an agent signature', () => {
    const relayed = signAsManager(secret, 'agent-1', topic, {}, payload, now);
    expect(verifyProof({ topic, payload, publishTime: now, properties: relayed }, keys)).toMatchObject({ ok: true, agentId: 'agent-1' });
    const wrongSecret = signAsManager('not-the-secret', 'agent-1', topic, {}, payload, now);
    expect(verifyProof({ topic, payload, publishTime: now, properties: wrongSecret }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
    const agentClaimsRelay = { ...signed().properties, relay: 'manager' };
    expect(verifyProof({ topic, payload, publishTime: now, properties: agentClaimsRelay }, keys)).toMatchObject({ ok: false, reason: 'bad-proof' });
  });

  it('the replay guard accepts each sender’s send times once, in increasing order, per topic', () => {
    const guard = new ReplayGuard();
    expect(guard.accept(topic, 'agent-1', now)).toBe(true);
    expect(guard.accept(topic, 'agent-1', now)).toBe(false);
    expect(guard.accept(topic, 'agent-1', now - 1)).toBe(false);
    expect(guard.accept(topic, 'agent-1', now + 1)).toBe(true);
    expect(guard.accept('swarm/s1/heartbeats', 'agent-1', now)).toBe(true);
    guard.prune(now + 3 * PROOF_WINDOW_MS);
    expect(guard.accept(topic, 'agent-1', now)).toBe(true);
  });
});
