// A swarm's registration sessions as this process knows them, kept up to date
// from Temporal visibility by reading only what changed. Listing every session
// of a swarm costs about 2.5 ms per session (25 s at 10,000), which a round
// cannot pay; a session upserts StandingChangedAt whenever its status or
// resources change, so after one full listing each refresh asks visibility for
// the sessions changed (or closed) since the previous refresh, minus a lag
// allowance for indexing. A full listing still runs every `fullEveryMs`, which
// also picks up sessions older than the StandingChangedAt attribute.
import type { Client } from '@temporalio/client';
import type { AgentResources, AgentStatus } from '../../core/agents';
import { ID_PATTERN } from '../../core/agents';
import { AgentIdKey, AgentStatusKey, StandingChangedAtKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import type { AgentDirectory, AgentDirectoryChanges, AgentKeyDirectory, DirectoryEntry } from '../ports';
import { type ExecutionInfo, keywordAttribute, matchingExecutions } from './visibility';

interface RosterEntry {
  status: AgentStatus;
  resources?: AgentResources;
  publicKey?: string;
}

interface Roster {
  agents: Map<string, RosterEntry>;
  /** When the newest completed refresh was asked of Temporal (ms since the epoch). */
  refreshedAt: number;
  /** When the newest completed full listing was asked of Temporal. */
  fullAt: number;
  refreshing?: Promise<void>;
  refreshingStartedAt?: number;
  /** Set by agentChanged: the next read refreshes first. */
  stale: boolean;
}

export interface SwarmRosterOptions {
  /** A refresh this recent is served without asking Temporal again. Default 1 s. */
  ttlMs?: number;
  /** How far behind a session's change visibility may index it; deltas reach back this far. Default 10 s. */
  indexLagMs?: number;
  /** A full listing at least this often. Default 5 min. */
  fullEveryMs?: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

export class TemporalSwarmRoster implements AgentDirectory, AgentDirectoryChanges, AgentKeyDirectory {
  private readonly rosters = new Map<string, Roster>();
  private readonly ttlMs: number;
  private readonly indexLagMs: number;
  private readonly fullEveryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    options: SwarmRosterOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.indexLagMs = options.indexLagMs ?? 10_000;
    this.fullEveryMs = options.fullEveryMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const roster = await this.current(swarmId);
    const entries: DirectoryEntry[] = [];
    for (const [agentId, entry] of roster.agents) {
      if (entry.status === 'ACTIVE') entries.push({ agentId, resources: entry.resources });
    }
    return entries;
  }

  async publicKey(swarmId: string, agentId: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(swarmId) || !ID_PATTERN.test(agentId)) return undefined;
    const asked = this.now();
    let roster = await this.current(swarmId);
    let entry = roster.agents.get(agentId);
    // Unknown here may mean registered since the last refresh: ask once more from after the question.
    if (!entry) {
      roster = await this.refreshedSince(swarmId, asked);
      entry = roster.agents.get(agentId);
    }
    return entry && (entry.status === 'ACTIVE' || entry.status === 'LOST') ? entry.publicKey : undefined;
  }

  agentChanged(swarmId: string): void {
    const roster = this.rosters.get(swarmId);
    if (roster) roster.stale = true;
  }

  /** The roster, refreshed if its newest refresh is older than ttlMs or a change was reported. */
  private async current(swarmId: string): Promise<Roster> {
    const roster = this.rosters.get(swarmId);
    const now = this.now();
    if (roster && !roster.stale && now - roster.refreshedAt < this.ttlMs) return roster;
    return this.refreshedSince(swarmId, roster?.stale ? now : now - this.ttlMs);
  }

  /** The roster after a refresh asked of Temporal at or after `since`; one refresh per swarm at a time. */
  private async refreshedSince(swarmId: string, since: number): Promise<Roster> {
    let roster = this.rosters.get(swarmId);
    if (!roster) {
      roster = { agents: new Map(), refreshedAt: -Infinity, fullAt: -Infinity, stale: false };
      this.rosters.set(swarmId, roster);
    }
    for (;;) {
      if (roster.refreshedAt >= since) return roster;
      if (roster.refreshing) {
        const startedAt = roster.refreshingStartedAt!;
        await roster.refreshing.catch(() => undefined);
        continue;
      }
      const startedAt = this.now();
      roster.stale = false;
      roster.refreshingStartedAt = startedAt;
      roster.refreshing = this.refresh(swarmId, roster, startedAt);
      try {
        await roster.refreshing;
      } finally {
        roster.refreshing = undefined;
        roster.refreshingStartedAt = undefined;
      }
      return roster;
    }
  }

  private async refresh(swarmId: string, roster: Roster, startedAt: number): Promise<void> {
    const base = `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}'`;
    if (startedAt - roster.fullAt >= this.fullEveryMs) {
      const agents = new Map<string, RosterEntry>();
      for await (const execution of matchingExecutions(this.client, this.namespace, `${base} AND ExecutionStatus = 'Running'`)) {
        const agentId = keywordAttribute(execution, AgentIdKey.name);
        if (agentId) agents.set(agentId, this.entryOf(execution));
      }
      roster.agents = agents;
      roster.fullAt = startedAt;
      roster.refreshedAt = startedAt;
      return;
    }
    const from = new Date(roster.refreshedAt - this.indexLagMs).toISOString();
    const closed = new Set<string>();
    const running = new Map<string, RosterEntry>();
    const query = `${base} AND (${StandingChangedAtKey.name} >= '${from}' OR CloseTime >= '${from}')`;
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      if (!agentId) continue;
      if (execution.closeTime) closed.add(agentId);
      else running.set(agentId, this.entryOf(execution));
    }
    // A closed run may have been continued as new: its agent stays if a run of it is still going.
    const gone = [...closed].filter((agentId) => !running.has(agentId));
    for (let i = 0; i < gone.length; i += 200) {
      const ids = gone.slice(i, i + 200).map((id) => `'${id}'`).join(', ');
      const stillRunning = `${base} AND ExecutionStatus = 'Running' AND ${AgentIdKey.name} IN (${ids})`;
      for await (const execution of matchingExecutions(this.client, this.namespace, stillRunning)) {
        const agentId = keywordAttribute(execution, AgentIdKey.name);
        if (agentId) running.set(agentId, this.entryOf(execution));
      }
    }
    for (const agentId of gone) if (!running.has(agentId)) roster.agents.delete(agentId);
    for (const [agentId, entry] of running) roster.agents.set(agentId, entry);
    roster.refreshedAt = startedAt;
  }

  private entryOf(execution: ExecutionInfo): RosterEntry {
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    const memo = execution.memo?.fields;
    return {
      status: keywordAttribute(execution, AgentStatusKey.name) as AgentStatus,
      resources: memo?.resources ? (converter.fromPayload(memo.resources) as AgentResources) : undefined,
      publicKey: memo?.publicKey ? (converter.fromPayload(memo.publicKey) as string) : undefined,
    };
  }
}
