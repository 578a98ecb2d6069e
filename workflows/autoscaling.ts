// agentPool (id pool-<name>): an autoscaled pool's durable record — policy,
// carbon input, the policy's history, energy account, last decisions. Lives
// until terminated; continues as new when its history grows.
//
// autoscalePool (started by the Schedule autoscale-<name>, overlap Skip): one
// decision: read the record and the signals, decide with core/autoscaling,
// apply through the cluster port, record the decision in the pool's record.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { AutoscalingActivities } from '../activities/autoscaling';
import { decideReplicas } from '../core/autoscaling/decide';
import {
  MAX_DECISIONS,
  accountEnergy,
  carbonIntensityAt,
  cleanestForecastWithin,
  intensitySegments,
  poolSummary,
  type PoolRecord,
} from '../core/autoscaling/pool';
import type { ScalingDecision } from '../core/autoscaling/policy';
import { POOL_SUMMARY_MEMO, poolRecordQuery, recordScalingUpdate, setPoolCarbonUpdate, setPoolPolicyUpdate } from './definitions';

const { loadPool, observePool, applyReplicas, recordScaling } = proxyActivities<AutoscalingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});

export interface AgentPoolInput {
  record: PoolRecord;
}

/** Updates handled before continuing as new, besides the server's suggestion. */
const UPDATES_PER_RUN = 500;

export async function agentPool(input: AgentPoolInput): Promise<void> {
  let record = input.record;
  let updates = 0;
  // The listing reads every pool's summary from visibility instead of querying each pool's workflow.
  const publishSummary = (): void => {
    if (patched('pool-summary-memo')) upsertMemo({ [POOL_SUMMARY_MEMO]: poolSummary(record) });
  };
  publishSummary();
  setHandler(poolRecordQuery, () => record);
  setHandler(setPoolPolicyUpdate, ({ policy, backlogTopic }) => {
    updates++;
    record = { ...record, policy, backlogTopic };
    publishSummary();
    return record;
  });
  setHandler(setPoolCarbonUpdate, (carbon) => {
    updates++;
    record = { ...record, carbon };
    publishSummary();
    return record;
  });
  setHandler(recordScalingUpdate, ({ decision, scaling, energy }) => {
    updates++;
    // A recordScaling activity retried after its completion was lost brings the same decision again.
    if (decision.id !== undefined && record.decisions.some((recorded) => recorded.id === decision.id)) return record;
    record = { ...record, scaling, energy, decisions: [...record.decisions, decision].slice(-MAX_DECISIONS) };
    publishSummary();
    return record;
  });
  await condition(() => updates >= UPDATES_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof agentPool>({ record });
}

export interface AutoscalePoolResult {
  decision?: ScalingDecision;
  skipped?: string;
}

export async function autoscalePool(input: { pool: string }): Promise<AutoscalePoolResult> {
  const record = await loadPool(input.pool);
  if (!record) return { skipped: `pool ${input.pool} has no autoscaling record` };
  const { policy } = record;
  const now = Date.now();
  const observed = await observePool({ pool: input.pool, backlogTopic: record.backlogTopic });
  const currentReplicas = observed.currentReplicas ?? 0;
  const energy = policy.energy
    ? accountEnergy(record.energy, now, policy.energy.wattsPerReplica, policy.energy.windowSeconds)
    : record.energy;
  const { decision, state } = decideReplicas(
    policy,
    {
      now,
      currentReplicas,
      backlog: observed.backlog,
      oldestMessageAgeSeconds: observed.oldestMessageAgeSeconds,
      carbonSegments: policy.deadline ? intensitySegments(record.carbon, now, now + policy.deadline.sloSeconds * 1000) : undefined,
      loads: observed.loads,
      carbonIntensity: carbonIntensityAt(record.carbon, now),
      carbonForecastMin: policy.carbon?.deferral
        ? cleanestForecastWithin(record.carbon, now, policy.carbon.deferral.horizonSeconds * 1000)
        : undefined,
      energyUsedWh: policy.energy ? energy.usedWh : undefined,
      energyWindowRemainingSeconds: policy.energy
        ? Math.max(0, policy.energy.windowSeconds - (now - energy.windowStartedAt) / 1000)
        : undefined,
    },
    record.scaling,
  );
  if (observed.backlogError && policy.backlog) {
    decision.reasons.push({ code: 'BACKLOG_MISSING_FALLBACK', message: `backlog not read: ${observed.backlogError}` });
  }
  if (observed.loadError && policy.load) {
    decision.reasons.push({ code: 'LOAD_MISSING_FALLBACK', message: `load not read: ${observed.loadError}` });
  }
  if (decision.desiredReplicas !== currentReplicas || observed.currentReplicas === undefined) {
    await applyReplicas({ pool: input.pool, replicas: decision.desiredReplicas });
  }
  await recordScaling({
    pool: input.pool,
    decision: { ...decision, id: `${workflowInfo().workflowId}/${workflowInfo().runId}` },
    scaling: state,
    energy: { ...energy, lastAt: now, lastReplicas: decision.desiredReplicas },
  });
  return { decision };
}
