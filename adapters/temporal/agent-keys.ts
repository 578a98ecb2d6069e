// AgentKeyDirectory on Temporal visibility: a registration session keeps the
// agent's public key in its memo (set when the session starts; the key never
// changes for a session). Keys of a swarm are read in one listing and kept for
// `ttlMs`, so a deregistered agent is forgotten within that plus visibility's
// own lag. A sender missing from the kept listing may have registered since:
// its lookup waits for a listing that started after it asked (one listing at a
// time per swarm, at least `spacingMs` apart, shared by every lookup waiting),
// so a new agent is never refused for a stale listing.
import type { Client } from '@temporalio/client';
import type { AgentKeyDirectory } from '../ports';
import { ID_PATTERN } from '../../core/agents';
import { AgentIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions } from './visibility';

interface Listing {
  keys: Map<string, string>;
  /** When the listing was asked of Temporal. */
  startedAt: number;
}

interface SwarmKeys {
  latest?: Listing;
  reading?: Promise<Listing>;
  readingStartedAt?: number;
}

export class TemporalAgentKeys implements AgentKeyDirectory {
  private readonly swarms = new Map<string, SwarmKeys>();

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    private readonly options: { ttlMs?: number; spacingMs?: number } = {},
  ) {}

  async publicKey(swarmId: string, agentId: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(swarmId) || !ID_PATTERN.test(agentId)) return undefined;
    const asked = Date.now();
    const swarm = this.swarm(swarmId);
    const fresh = swarm.latest && asked - swarm.latest.startedAt <= (this.options.ttlMs ?? 2_000) ? swarm.latest : undefined;
    const known = fresh?.keys.get(agentId);
    if (known) return known;
    return (await this.listingSince(swarmId, swarm, asked)).keys.get(agentId);
  }

  private swarm(swarmId: string): SwarmKeys {
    let swarm = this.swarms.get(swarmId);
    if (!swarm) this.swarms.set(swarmId, (swarm = {}));
    return swarm;
  }

  /** A listing asked of Temporal at or after `since`: the one under way if it started late enough, else the next. */
  private async listingSince(swarmId: string, swarm: SwarmKeys, since: number): Promise<Listing> {
    for (;;) {
      if (swarm.latest && swarm.latest.startedAt >= since) return swarm.latest;
      if (swarm.reading) {
        const startedAt = swarm.readingStartedAt!;
        const listing = await swarm.reading;
        if (startedAt >= since) return listing;
        continue;
      }
      const wait = (swarm.latest?.startedAt ?? 0) + (this.options.spacingMs ?? 100) - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (swarm.reading) continue;
      const startedAt = Date.now();
      swarm.readingStartedAt = startedAt;
      swarm.reading = this.list(swarmId).then(
        (keys) => (swarm.latest = { keys, startedAt }),
      );
      try {
        await swarm.reading;
      } finally {
        swarm.reading = undefined;
        swarm.readingStartedAt = undefined;
      }
    }
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
