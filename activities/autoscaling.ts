// Activities of the autoscaling workflow: read a pool's record and signals,
// apply a replica count through the cluster port, record the decision.
import { ApplicationFailure } from '@temporalio/activity';
import type { EnergyAccount, PoolRecord, ScalingDecision, ScalingState } from '../core/autoscaling';
import { DomainError } from '../core/errors';
import type { HeartbeatLedger } from '../core/liveness';
import type { ClusterPort, MessagingBacklog, MessagingPort, PoolStore } from '../adapters/ports';

export interface AutoscalingDeps {
  cluster: ClusterPort;
  messaging: MessagingPort;
  pools: PoolStore;
  /** The pool and load agents report in heartbeats, as this worker's liveness activity verified them. */
  heartbeats?: HeartbeatLedger;
  /** A report older than this no longer counts (the liveness grace period), ms. */
  loadMaxAgeMs?: number;
}

export interface PoolObservation {
  /** The pool's desired replicas now; undefined when the pool does not exist yet. */
  currentReplicas?: number;
  ready?: number;
  /** Sum of msgBacklog over the topic's subscriptions; undefined when it could not be read. */
  backlog?: number;
  /** Age of the oldest message waiting in any of the topic's subscriptions, s; undefined when none waits or unknown. */
  oldestMessageAgeSeconds?: number;
  /** Why the backlog is missing, for the decision record. */
  backlogError?: string;
  /** Latest load (0..1) of each of the pool's agents that reported one recently; undefined when none did. */
  loads?: number[];
  /** Why the load is missing, for the decision record. */
  loadError?: string;
}

function hasBacklog(messaging: MessagingPort): messaging is MessagingPort & MessagingBacklog {
  return typeof (messaging as Partial<MessagingBacklog>).backlog === 'function';
}

/** Refusals a retry cannot change fail the run at once; the next scheduled run tries again. */
function activityError(error: unknown): unknown {
  if (error instanceof DomainError && ['FORBIDDEN', 'INVALID_ARGUMENT', 'UNAUTHENTICATED'].includes(error.code)) {
    return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true, details: [error.details] });
  }
  return error;
}

export function createAutoscalingActivities(deps: AutoscalingDeps) {
  const loadMaxAgeMs = deps.loadMaxAgeMs ?? 30_000;
  const observeLoads = (pool: string): Pick<PoolObservation, 'loads' | 'loadError'> => {
    if (!deps.heartbeats) return { loadError: 'this worker reads no heartbeats' };
    const loads = deps.heartbeats.loadsOf(pool, Date.now(), loadMaxAgeMs);
    if (loads.length === 0) return { loadError: `no agent of pool ${pool} reported its load in the last ${loadMaxAgeMs} ms` };
    return { loads };
  };
  return {
    async loadPool(pool: string): Promise<PoolRecord | undefined> {
      return deps.pools.get(pool);
    },

    async observePool(input: { pool: string; backlogTopic?: string }): Promise<PoolObservation> {
      const observed = await deps.cluster.getPool(input.pool).catch((error) => {
        throw activityError(error);
      });
      const result: PoolObservation = { currentReplicas: observed?.desired, ready: observed?.ready, ...observeLoads(input.pool) };
      if (!input.backlogTopic) return { ...result, backlogError: 'no backlog topic configured' };
      if (!hasBacklog(deps.messaging)) return { ...result, backlogError: 'the messaging adapter reports no backlog' };
      try {
        const subscriptions = await deps.messaging.backlog(input.backlogTopic);
        const oldest = Math.min(...subscriptions.map((s) => s.oldestPublishedAt ?? Infinity));
        return {
          ...result,
          backlog: subscriptions.reduce((sum, s) => sum + s.backlog, 0),
          ...(Number.isFinite(oldest) ? { oldestMessageAgeSeconds: Math.max(0, (Date.now() - oldest) / 1000) } : {}),
        };
      } catch (error) {
        return { ...result, backlogError: error instanceof Error ? error.message : String(error) };
      }
    },

    async applyReplicas(input: { pool: string; replicas: number }): Promise<{ desired: number; ready: number }> {
      try {
        const pool = await deps.cluster.scalePool(input.pool, input.replicas);
        return { desired: pool.desired, ready: pool.ready };
      } catch (error) {
        throw activityError(error);
      }
    },

    async recordScaling(input: { pool: string; decision: ScalingDecision; scaling: ScalingState; energy: EnergyAccount }): Promise<void> {
      await deps.pools.record(input.pool, { decision: input.decision, scaling: input.scaling, energy: input.energy });
    },
  };
}

export type AutoscalingActivities = ReturnType<typeof createAutoscalingActivities>;
