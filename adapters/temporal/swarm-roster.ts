// A swarm's registration sessions as this process knows them, kept up to date
// from Temporal visibility by reading only what changed. Listing every session
// of a swarm costs about 2.5 ms per session (25 s at 10,000), which a round
// cannot pay; a session upserts StandingChangedAt whenever its status or
// resources change, so after one full listing each refresh asks visibility for
// the sessions changed (or closed) since the previous refresh, minus a lag
// allowance for indexing. A full listing still runs every `fullEveryMs`, which
// also picks up sessions older than the StandingChangedAt attribute; after the
// first it runs in the background, so no round waits for it.
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
  capabilities?: string[];
  publicKey?: string;
}

interface Roster {
  agents: Map<string, RosterEntry>;
  /** When the newest completed refresh was asked of Temporal (ms since the epoch). */
  refreshedAt: number;
  /** When the newest completed full listing was asked of Temporal. */
  fullAt: number;
  refreshing?: Promise<void>;
  /** When this process last saw one of the swarm's sessions change (agentChanged). */
  changedAt?: number;
  /** A periodic full listing under way in the background (reads go on serving the roster meanwhile). */
  fullListing?: Promise<void>;
  /** A background full listing that completed, taken in by the next refresh: the sessions, and when it was asked. */
  listed?: { agents: Map<string, RosterEntry>; askedAt: number };
}

/** A live session (ACTIVE, or LOST and able to come back) whose key counts. */
const signs = (entry: RosterEntry): boolean => entry.status === 'ACTIVE' || entry.status === 'LOST';

export interface SwarmRosterOptions {
  /** A refresh this recent is served without asking Temporal again. Default 1 s. */
  ttlMs?: number;
  /**
   * How far behind a session's change visibility may index it (the change carries its workflow task's
   * start time, indexed when the task completes); deltas reach back this far. Default 60 s.
   */
  indexLagMs?: number;
  /**
   * A full listing at least this often. Default 5 min. Only a swarm's first listing keeps a read
   * waiting; later ones run in the background (10,000 sessions take 10-40 s to list) and the
   * refresh after one completes takes it in. 0: every refresh lists in full, and waits for it.
   */
  fullEveryMs?: number;
  /** Refreshes of one swarm at least this far apart. Default 100 ms. */
  spacingMs?: number;
  /** After a change this process saw, listings refresh on every read for this long (visibility indexes with a lag). Default 5 s. */
  settleMs?: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

export class TemporalSwarmRoster implements AgentDirectory, AgentDirectoryChanges, AgentKeyDirectory {
  private readonly rosters = new Map<string, Roster>();
  private readonly ttlMs: number;
  private readonly indexLagMs: number;
  private readonly fullEveryMs: number;
  private readonly spacingMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    options: SwarmRosterOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.indexLagMs = options.indexLagMs ?? 60_000;
    this.fullEveryMs = options.fullEveryMs ?? 300_000;
    this.spacingMs = options.spacingMs ?? 100;
    this.settleMs = options.settleMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const roster = await this.current(swarmId, true);
    const entries: DirectoryEntry[] = [];
    for (const [agentId, entry] of roster.agents) {
      if (entry.status === 'ACTIVE') entries.push({ agentId, resources: entry.resources, capabilities: entry.capabilities });
    }
    return entries;
  }

  async publicKey(swarmId: string, agentId: string): Promise<string | undefined> {
    if (!ID_PATTERN.test(swarmId) || !ID_PATTERN.test(agentId)) return undefined;
    const asked = this.now();
    // A reported change does not force a refresh here: a known key is the same key until its session ends.
    let roster = await this.current(swarmId, false);
    let entry = roster.agents.get(agentId);
    // Unknown or not yet ACTIVE here may mean registered or activated since the last refresh:
    // ask once more from after the question.
    if (!entry || !signs(entry)) {
      roster = await this.refreshedSince(swarmId, asked);
      entry = roster.agents.get(agentId);
    }
    return entry && signs(entry) ? entry.publicKey : undefined;
  }

  agentChanged(swarmId: string): void {
    // Kept even before the swarm's first read, so that read waits out the settle time too.
    this.rosterOf(swarmId).changedAt = this.now();
  }

  private rosterOf(swarmId: string): Roster {
    let roster = this.rosters.get(swarmId);
    if (!roster) {
      roster = { agents: new Map(), refreshedAt: -Infinity, fullAt: -Infinity };
      this.rosters.set(swarmId, roster);
    }
    return roster;
  }

  /** The roster, refreshed if its newest refresh is older than ttlMs, or (honouring reports) a change was reported. */
  private async current(swarmId: string, honourReportedChanges: boolean): Promise<Roster> {
    const roster = this.rosters.get(swarmId);
    const now = this.now();
    // Visibility shows a change only once the session's workflow task completed and was indexed: until
    // a refresh starts settleMs after the change, every read refreshes (at most one per spacingMs).
    const stale = honourReportedChanges && roster?.changedAt !== undefined && roster.refreshedAt < roster.changedAt + this.settleMs;
    if (roster && !stale && now - roster.refreshedAt < this.ttlMs) return roster;
    return this.refreshedSince(swarmId, stale ? now : now - this.ttlMs);
  }

  /** The roster after a refresh asked of Temporal at or after `since`; one refresh per swarm at a time. */
  private async refreshedSince(swarmId: string, since: number): Promise<Roster> {
    const roster = this.rosterOf(swarmId);
    for (;;) {
      if (roster.refreshedAt >= since) return roster;
      if (roster.refreshing) {
        await roster.refreshing.catch(() => undefined);
        continue;
      }
      // Refreshes of one swarm at least spacingMs apart: a burst of unknown senders or reported changes shares one.
      const wait = roster.refreshedAt + this.spacingMs - this.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (roster.refreshing) continue;
      const startedAt = this.now();
      roster.refreshing = this.refresh(swarmId, roster, startedAt);
      try {
        await roster.refreshing;
      } finally {
        roster.refreshing = undefined;
      }
      return roster;
    }
  }

  private async refresh(swarmId: string, roster: Roster, startedAt: number): Promise<void> {
    const base = `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}'`;
    if (roster.fullAt === -Infinity || this.fullEveryMs <= 0) {
      roster.agents = await this.listRunning(base);
      roster.fullAt = startedAt;
      roster.refreshedAt = startedAt;
      return;
    }
    // The full listing shows each session as it was at some moment after askedAt: the changes
    // since (minus the lag allowance) are read again on top of it, as after the first listing.
    let since = roster.refreshedAt;
    if (roster.listed) {
      roster.agents = roster.listed.agents;
      roster.fullAt = roster.listed.askedAt;
      since = Math.min(since, roster.listed.askedAt);
      roster.listed = undefined;
    }
    if (startedAt - roster.fullAt >= this.fullEveryMs && !roster.fullListing) {
      roster.fullListing = this.listRunning(base)
        .then(
          (agents) => {
            roster.listed = { agents, askedAt: startedAt };
          },
          () => undefined, // the next refresh due starts another
        )
        .finally(() => {
          roster.fullListing = undefined;
        });
    }
    const from = new Date(since - this.indexLagMs).toISOString();
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

  /** Every running session matching `base`, by agent id. */
  private async listRunning(base: string): Promise<Map<string, RosterEntry>> {
    const agents = new Map<string, RosterEntry>();
    for await (const execution of matchingExecutions(this.client, this.namespace, `${base} AND ExecutionStatus = 'Running'`)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      if (agentId) agents.set(agentId, this.entryOf(execution));
    }
    return agents;
  }

  private entryOf(execution: ExecutionInfo): RosterEntry {
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    const memo = execution.memo?.fields;
    return {
      status: keywordAttribute(execution, AgentStatusKey.name) as AgentStatus,
      resources: memo?.resources ? (converter.fromPayload(memo.resources) as AgentResources) : undefined,
      capabilities: memo?.capabilities ? (converter.fromPayload(memo.capabilities) as string[]) : undefined,
      publicKey: memo?.publicKey ? (converter.fromPayload(memo.publicKey) as string) : undefined,
    };
  }
}
