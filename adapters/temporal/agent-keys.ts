// AgentKeyDirectory on Temporal visibility: a registration session keeps the
// agent's public key in its memo (set when the session starts; the key never
// changes for a session). Keys of a swarm are read in one listing and kept for
// a short time; an agent missing from the cached listing triggers one re-read
// (at most every `refreshMs`), so a new agent is known at once and a
// deregistered one is forgotten within `ttlMs` plus visibility's own lag.
import type { Client } from '@temporalio/client';
import type { AgentKeyDirectory } from '../ports';
import { ID_PATTERN } from '../../core/agents';
import { AgentIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions } from './visibility';

interface SwarmKeys {
  keys: Map<string, string>;
  readAt: number;
  reading?: Promise<Map<string, string>>;
}

export class TemporalAgentKeys implements AgentKeyDirectory {
  private readonly swarms = new Map<string, SwarmKeys>();

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    private readonly options: { ttlMs?: number; refreshMs?: number } = {},
  ) {}

  async publicKey(swarmId: string, agentId: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(swarmId) || !ID_PATTERN.test(agentId)) return undefined;
    const now = Date.now();
    let entry = this.swarms.get(swarmId);
    const ttl = this.options.ttlMs ?? 2_000;
    const refresh = this.options.refreshMs ?? 500;
    if (!entry || now - entry.readAt > ttl || (!entry.keys.has(agentId) && now - entry.readAt > refresh)) {
      entry = await this.read(swarmId);
    }
    return entry.keys.get(agentId);
  }

  private async read(swarmId: string): Promise<SwarmKeys> {
    const entry: SwarmKeys = this.swarms.get(swarmId) ?? { keys: new Map(), readAt: 0 };
    this.swarms.set(swarmId, entry);
    entry.reading ??= this.list(swarmId).finally(() => (entry.reading = undefined));
    entry.keys = await entry.reading;
    entry.readAt = Date.now();
    return entry;
  }

  private async list(swarmId: string): Promise<Map<string, string>> {
    const keys = new Map<string, string>();
    const query =
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND ExecutionStatus = 'Running' ` +
      `AND AgentStatus IN ('ACTIVE', 'LOST')`;
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      const memo = execution.memo?.fields?.publicKey;
      if (agentId && memo) keys.set(agentId, converter.fromPayload(memo) as string);
    }
    return keys;
  }
}
