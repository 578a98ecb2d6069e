// Agents' Ed25519 key pairs for tests that sign messages as agents would, and
// the AgentKeyDirectory the manager reads them from.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AgentKeyDirectory } from '../../adapters/ports';
import { signAsAgent } from '../../core/message-proof';

export class TestAgentKeys implements AgentKeyDirectory {
  private readonly pairs = new Map<string, { publicKey: KeyObject; privateKey: KeyObject }>();

  /** Gives these agents registered keys. */
  constructor(agentIds: string[] = []) {
    for (const agentId of agentIds) this.register(agentId);
  }

  register(agentId: string): KeyObject {
    let pair = this.pairs.get(agentId);
    if (!pair) this.pairs.set(agentId, (pair = generateKeyPairSync('ed25519')));
    return pair.privateKey;
  }

  async publicKey(_swarmId: string, agentId: string): Promise<string | undefined> {
    return this.pairs.get(agentId)?.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Properties signed by `signer` (an agent with a registered key, or any other that gets a fresh unregistered key). */
  sign(signer: string, topic: string, payload: Uint8Array, properties: Record<string, string> = {}): Record<string, string> {
    const key = this.pairs.get(signer)?.privateKey ?? generateKeyPairSync('ed25519').privateKey;
    return signAsAgent(key, signer, topic, properties, payload, Date.now());
  }
}
