// Behavior discovery in the worker: settings from config, and the Schedule
// that sweeps every swarm the worker serves.
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { BehaviorSettings } from '../activities/behaviors';
import { parseConfig, type Config } from '../core/config';
import type { SweepParameters } from '../core/behaviors/types';
import { SCHEDULED_BEHAVIOR_SWEEPS_WORKFLOW, behaviorSweepScheduleId } from '../workflows/definitions';
import type { ScheduledBehaviorSweepsInput } from '../workflows/behaviorSweep';

export interface BehaviorWorkerOptions {
  settings: BehaviorSettings;
  /** Cron of the sweep Schedule (UTC), or 'off'. */
  sweepCron: string;
  /** Sweep parameters that differ from DEFAULT_SWEEP_PARAMETERS. */
  parameters: Partial<SweepParameters>;
}

export function behaviorOptions(config: Config = parseConfig({})): BehaviorWorkerOptions {
  return {
    settings: {
      dimension: config.QP_BEHAVIOR_DIMENSION,
      metric: config.QP_BEHAVIOR_METRIC,
      batchSize: config.QP_BEHAVIOR_BATCH_SIZE,
      maxReports: config.QP_BEHAVIOR_SWEEP_MAX_REPORTS,
      drainIdleMs: config.QP_BEHAVIOR_DRAIN_IDLE_MS,
    },
    sweepCron: config.QP_BEHAVIOR_SWEEP_CRON,
    parameters: {
      k: config.QP_BEHAVIOR_K,
      noveltyThreshold: config.QP_BEHAVIOR_NOVELTY_THRESHOLD,
      fitnessFloor: config.QP_BEHAVIOR_FITNESS_FLOOR,
      eps: config.QP_BEHAVIOR_EPS,
      minPts: config.QP_BEHAVIOR_MIN_PTS,
      broadcastTop: config.QP_BEHAVIOR_BROADCAST_TOP,
    },
  };
}

/**
 * Creates the Schedule behavior-sweeps-<taskQueue>, or brings an existing one
 * in line with the configured cron and parameters: calling it on every worker
 * start, from several workers at once, is fine. Cron 'off' deletes it.
 */
export async function ensureBehaviorSweepSchedule(
  client: Client,
  taskQueue: string,
  options: Pick<BehaviorWorkerOptions, 'sweepCron' | 'parameters'>,
): Promise<'created' | 'updated' | 'deleted' | 'off'> {
  const scheduleId = behaviorSweepScheduleId(taskQueue);
  if (options.sweepCron === 'off') {
    try {
      await client.schedule.getHandle(scheduleId).delete();
      return 'deleted';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'off';
      throw error;
    }
  }
  const input: ScheduledBehaviorSweepsInput = { parameters: options.parameters };
  const spec: ScheduleSpec = { cronExpressions: [options.sweepCron] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: SCHEDULED_BEHAVIOR_SWEEPS_WORKFLOW,
    workflowId: scheduleId,
    taskQueue,
    args: [input],
    // A run longer than the interval is not doubled up.
    workflowExecutionTimeout: '1 hour',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({
    ...previous,
    spec,
    action,
    policies: { ...previous.policies, overlap: ScheduleOverlapPolicy.SKIP },
  }));
  return 'updated';
}
