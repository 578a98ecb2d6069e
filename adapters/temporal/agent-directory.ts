// The agents eligible for work, read from Temporal visibility: ACTIVE
// registration sessions of a swarm, with the resources kept in their memo.
import type { Client } from '@temporalio/client';
import type { AgentResources } from '../../core/agents';
import type { AgentDirectory, AgentDirectoryChanges, DirectoryEntry } from '../ports';
import { AgentIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalAgentDirectory implements AgentDirectory {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const entries: DirectoryEntry[] = [];
    const query = `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND AgentStatus = 'ACTIVE' AND ExecutionStatus = 'Running'`;
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      const memo = execution.memo?.fields?.resources;
      const resources = memo
        ? (this.client.options.loadedDataConverter.payloadConverter.fromPayload(memo) as AgentResources)
        : undefined;
      if (agentId) entries.push({ agentId, resources });
    }
    return entries;
  }
}

export interface CachedAgentDirectoryOptions {
  /** How long a listing is served. Default 5 s. */
  ttlMs?: number;
  /**
   * After a change this process saw, listings are not served from the cache
   * for this long: visibility shows a session's new status only once the
   * session's workflow task has completed and been indexed. Default 2 s.
   */
  settleMs?: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
}

interface CachedListing {
  /** When the listing was asked for: it reflects visibility no older than this. */
  askedAt: number;
  entries: Promise<DirectoryEntry[]>;
  inFlight: boolean;
}

/**
 * A listing of a swarm's ACTIVE agents reused for a few seconds, because
 * selecting a round's participants lists every agent's memo from visibility
 * (about 150 ms per 1,000 agents).
 *
 * Why serving a listing up to ttlMs old is correct:
 * - Changes made in this process (registration, re-registration with new
 *   resources, liveness flips, deregistration) call agentChanged: listings
 *   asked for before the change + settleMs are never served again, so the
 *   next selection sees the change as soon as visibility does.
 * - A change made by another worker process is seen at most ttlMs late. An
 *   agent that newly became ACTIVE then waits that long to be selectable. An
 *   agent that went LOST may still be selected: it stays silent, and the
 *   round's retry excludes silent agents, exactly as for an agent that died
 *   inside the liveness grace period (QP_HEARTBEAT_GRACE_MS, 30 s by default),
 *   which already bounds how stale "ACTIVE" is by far more than ttlMs.
 */
export class CachedAgentDirectory implements AgentDirectory, AgentDirectoryChanges {
  private readonly listings = new Map<string, CachedListing>();
  private readonly changedAt = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: AgentDirectory,
    options: CachedAgentDirectoryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.settleMs = options.settleMs ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const now = this.now();
    let listing = this.listings.get(swarmId);
    if (!listing || !this.servable(swarmId, listing, now)) {
      const fresh: CachedListing = { askedAt: now, entries: this.inner.listActive(swarmId), inFlight: true };
      this.listings.set(swarmId, fresh);
      fresh.entries.then(
        () => (fresh.inFlight = false),
        // A failed listing is not kept: the next call asks again.
        () => {
          if (this.listings.get(swarmId) === fresh) this.listings.delete(swarmId);
        },
      );
      listing = fresh;
    }
    return [...(await listing.entries)];
  }

  agentChanged(swarmId: string): void {
    this.changedAt.set(swarmId, this.now());
    this.listings.delete(swarmId);
  }

  private servable(swarmId: string, listing: CachedListing, now: number): boolean {
    if (now - listing.askedAt >= this.ttlMs) return false;
    const changed = this.changedAt.get(swarmId);
    if (changed === undefined) return true;
    if (changed + this.settleMs <= listing.askedAt) {
      this.changedAt.delete(swarmId);
      return true;
    }
    // Asked for while visibility may not yet show the change: shared while in flight, never kept.
    return listing.inFlight;
  }
}
