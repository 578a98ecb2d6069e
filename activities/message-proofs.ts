// Checks the proof on a message an agent (or the manager for it) put on one of
// a swarm's topics: a valid signature by the sender's registered key over the
// topic, properties and payload, sent within the window, not seen before.
import type { KeyObject } from 'node:crypto';
import { parseAgentPublicKey } from '../core/credentials';
import { ReplayGuard, verifyProof, type ProofRejection } from '../core/message-proof';
import type { AgentKeyDirectory, ReceivedMessage } from '../adapters/ports';

export type ProvenSender = { ok: true; agentId: string; sentAt: number } | { ok: false; reason: ProofRejection; agentId?: string };

export class MessageProofs {
  private readonly parsed = new Map<string, KeyObject>();

  constructor(
    private readonly keys: AgentKeyDirectory,
    /** The manager's relay secret (the API signs what it publishes for agents with it). */
    private readonly secret: string,
    private readonly replays = new ReplayGuard(),
  ) {}

  /**
   * Who sent `message`, read from `topic` of `swarmId` (the logical topic name
   * the sender signed). With `once`, a message from a sender at or before a send
   * time already accepted on the topic is refused as replayed: for topics whose
   * messages must not count twice (heartbeats). Without it a redelivered
   * message verifies again, as a retried activity needs (updates carry their
   * round and attempt under the proof; reports are idempotent by episode).
   */
  async sender(swarmId: string, topic: string, message: ReceivedMessage, options: { once?: boolean } = {}): Promise<ProvenSender> {
    const agentId = message.properties.agentId;
    const pem = agentId ? await this.keys.publicKey(swarmId, agentId) : undefined;
    const key = pem ? this.keyObject(pem) : undefined;
    const verdict = verifyProof(
      { topic, properties: message.properties, payload: message.payload, publishTime: message.publishTime },
      { secret: this.secret, agentKey: () => key },
    );
    if (!verdict.ok) return verdict;
    if (options.once && !this.replays.accept(topic, verdict.agentId, verdict.sentAt)) return { ok: false, reason: 'replayed', agentId };
    return verdict;
  }

  /** Forget replay state older than the window (call now and then from long consumers). */
  prune(nowMs = Date.now()): void {
    this.replays.prune(nowMs);
  }

  private keyObject(pem: string): KeyObject | undefined {
    let key = this.parsed.get(pem);
    if (!key) {
      try {
        key = parseAgentPublicKey(pem);
      } catch {
        return undefined; // not an Ed25519 key: nothing it signs verifies
      }
      this.parsed.set(pem, key);
    }
    return key;
  }
}
