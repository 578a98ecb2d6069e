// Proofs on messages that agents (and the manager, relaying for them) put on
// shared topics. No bearer credential travels over messaging: a message carries
// its sender's id, a send time and a signature over the topic, every other
// property and a digest of the payload, so a reader of the topic can neither
// reuse it elsewhere nor change a field, and a replay outside a short window,
// or of a message already seen, is refused.
//   agent:   proof = Ed25519(agent's registration key, signingInput)
//   manager: proof = HMAC-SHA256(manager secret, signingInput), property relay=manager
// Pure computation: node:crypto does no I/O.
import { createHash, createHmac, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/** Message properties that carry the proof. */
export const PROOF_AGENT = 'agentId';
export const PROOF_SENT_AT = 'sentAt';
export const PROOF = 'proof';
export const PROOF_RELAY = 'relay';

/** How far a message's send time may be from the broker's publish time (either way), ms. */
export const PROOF_WINDOW_MS = 60_000;

export type ProofRejection =
  /** No agentId, sentAt or proof property, or malformed ones. */
  | 'missing-proof'
  /** The signature does not verify with the sender's registered key. */
  | 'bad-proof'
  /** sentAt is further than the window from the broker's publish time. */
  | 'stale'
  /** The same sender already had a message with this or a later send time accepted on this topic. */
  | 'replayed'
  /** No registered key for the sender (never registered, or deregistered). */
  | 'unknown-agent';

/** The bytes a proof signs: version, topic, every property but the proof (sorted), payload digest. */
export function proofSigningInput(topic: string, properties: Record<string, string>, payload: Uint8Array): Buffer {
  const fields = Object.keys(properties)
    .filter((key) => key !== PROOF)
    .sort()
    .map((key) => [key, properties[key]]);
  const digest = createHash('sha256').update(payload).digest('hex');
  return Buffer.from(JSON.stringify(['qp-proof/1', topic, fields, digest]), 'utf8');
}

function withSender(properties: Record<string, string>, agentId: string, sentAt: number): Record<string, string> {
  return { ...properties, [PROOF_AGENT]: agentId, [PROOF_SENT_AT]: String(sentAt) };
}

/** The properties with agentId, sentAt and the agent's Ed25519 proof added. */
export function signAsAgent(
  privateKey: KeyObject,
  agentId: string,
  topic: string,
  properties: Record<string, string>,
  payload: Uint8Array,
  sentAt: number,
): Record<string, string> {
  const signed = withSender(properties, agentId, sentAt);
  signed[PROOF] = sign(null, proofSigningInput(topic, signed, payload), privateKey).toString('base64');
  return signed;
}

/** The properties with the manager's relay proof for a message it publishes on an agent's behalf. */
export function signAsManager(
  secret: string,
  agentId: string,
  topic: string,
  properties: Record<string, string>,
  payload: Uint8Array,
  sentAt: number,
): Record<string, string> {
  const signed = withSender({ ...properties, [PROOF_RELAY]: 'manager' }, agentId, sentAt);
  signed[PROOF] = relayMac(secret, proofSigningInput(topic, signed, payload)).toString('base64');
  return signed;
}

export interface ProvenMessage {
  topic: string;
  properties: Record<string, string>;
  payload: Uint8Array;
  /** Broker publish time, ms since the epoch. */
  publishTime: number;
}

export interface ProofKeys {
  /** The manager's relay secret. */
  secret: string;
  /** The sender's registered Ed25519 key, or undefined when it has none (unknown or deregistered). */
  agentKey(agentId: string): KeyObject | undefined;
}

/** Who sent the message, or why it must be refused. Replays are the caller's to check (ReplayGuard). */
export function verifyProof(
  message: ProvenMessage,
  keys: ProofKeys,
): { ok: true; agentId: string; sentAt: number } | { ok: false; reason: ProofRejection; agentId?: string } {
  const { properties } = message;
  const agentId = properties[PROOF_AGENT];
  const sentAt = Number(properties[PROOF_SENT_AT]);
  const proof = properties[PROOF];
  if (!agentId || !proof || !Number.isSafeInteger(sentAt)) return { ok: false, reason: 'missing-proof', agentId };
  if (Math.abs(message.publishTime - sentAt) > PROOF_WINDOW_MS) return { ok: false, reason: 'stale', agentId };
  const input = proofSigningInput(message.topic, properties, message.payload);
  const signature = Buffer.from(proof, 'base64');
  if (properties[PROOF_RELAY] === 'manager') {
    const expected = relayMac(keys.secret, input);
    const ok = signature.length === expected.length && timingSafeEqual(signature, expected);
    return ok ? { ok: true, agentId, sentAt } : { ok: false, reason: 'bad-proof', agentId };
  }
  if (properties[PROOF_RELAY] !== undefined) return { ok: false, reason: 'bad-proof', agentId };
  const key = keys.agentKey(agentId);
  if (!key) return { ok: false, reason: 'unknown-agent', agentId };
  const ok = signature.length === 64 && verify(null, input, key, signature);
  return ok ? { ok: true, agentId, sentAt } : { ok: false, reason: 'bad-proof', agentId };
}

function relayMac(secret: string, input: Buffer): Buffer {
  return createHmac('sha256', secret).update('qp-relay/1\n').update(input).digest();
}

/**
 * Refuses a second message from a sender at or before a send time already
 * accepted on a topic. Together with the window this bounds replays: older
 * than the window is stale, newer has been seen. Memory: one number per sender
 * and topic; entries older than the window are forgotten on `prune`.
 */
export class ReplayGuard {
  private readonly last = new Map<string, number>();

  /** True (and remembered) when sentAt is later than anything accepted from agentId on topic. */
  accept(topic: string, agentId: string, sentAt: number): boolean {
    const key = `${topic}\n${agentId}`;
    if ((this.last.get(key) ?? -Infinity) >= sentAt) return false;
    this.last.set(key, sentAt);
    return true;
  }

  /** Forgets senders whose last message is older than the window before nowMs. */
  prune(nowMs: number): void {
    for (const [key, sentAt] of this.last) if (sentAt < nowMs - 2 * PROOF_WINDOW_MS) this.last.delete(key);
  }
}
