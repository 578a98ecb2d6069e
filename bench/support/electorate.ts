// A generated electorate of N agents with their Ed25519 keys, for the
// decisions benchmark: registering 10,000 agents through the handshake would
// take half an hour here, and is not what the benchmark measures.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AgentKeyDirectory, ElectorateDirectory } from '../../adapters/ports';
import type { ElectorateMember } from '../../core/decisions/power';

export class GeneratedElectorate implements ElectorateDirectory, AgentKeyDirectory {
  readonly privateKeys = new Map<string, KeyObject>();
  private readonly pems = new Map<string, string>();

  constructor(readonly agentIds: string[]) {
    for (const agentId of agentIds) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      this.privateKeys.set(agentId, privateKey);
      this.pems.set(agentId, publicKey.export({ type: 'spki', format: 'pem' }).toString());
    }
  }

  async members(): Promise<ElectorateMember[]> {
    return this.agentIds.map((agentId) => ({ agentId, status: 'ACTIVE', capabilities: [], resources: { cpu: 1, memoryMb: 1024 } }));
  }

  async publicKey(_swarmId: string, agentId: string): Promise<string | undefined> {
    return this.pems.get(agentId);
  }
}
