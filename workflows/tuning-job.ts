// The start and finish that every tuning job (federatedTuning, asyncTuning) shares: the progress
// query and the pause/resume updates, and how a run ends — completed, cancelled, failed, or
// continued as new — with the job's end announced to its swarm. Not a workflow itself.
import { CancellationScope, allHandlersFinished, condition, isCancellation, setHandler } from '@temporalio/workflow';
import type { TuningActivities } from '../activities/tuning';
import type { TuningJobSpec, TuningProgress, TuningStatus } from '../core/tuning';
import { pauseTuningUpdate, resumeTuningUpdate, tuningProgressQuery } from './definitions';

/** How the job stands; the progress query reads it. */
export interface TuningJobState {
  status: TuningStatus;
  failureReason?: string;
}

/** Answers the progress query and the pause/resume updates from `progress` and the carried `paused` flag. */
export function handleTuningControls(carry: { paused: boolean }, progress: () => TuningProgress): void {
  setHandler(tuningProgressQuery, progress);
  setHandler(pauseTuningUpdate, () => {
    carry.paused = true;
    return progress();
  });
  setHandler(resumeTuningUpdate, () => {
    carry.paused = false;
    return progress();
  });
}

export interface TuningRun {
  spec: TuningJobSpec;
  job: TuningJobState;
  /** The global model's digest now (announced with the job's end). */
  globalDigest: () => string;
  /** Runs the job; resolves true when this run should continue as new, false when the job is done. */
  body: () => Promise<boolean>;
  announceJobFinished: TuningActivities['announceJobFinished'];
  continueAsNew: () => Promise<never>;
  progress: () => TuningProgress;
}

/**
 * Runs `body` and ends the run: COMPLETED, or CANCELLED / FAILED (reason kept) with the end announced
 * even under cancellation, a failure rethrown; or, when `body` says so, continue-as-new once every
 * handler has finished.
 */
export async function runTuningJob(run: TuningRun): Promise<TuningProgress> {
  const { spec, job } = run;
  let continueRun = false;
  try {
    continueRun = await run.body();
    if (!continueRun) job.status = 'COMPLETED';
  } catch (error) {
    if (isCancellation(error)) job.status = 'CANCELLED';
    else {
      job.status = 'FAILED';
      job.failureReason = error instanceof Error ? error.message : String(error);
    }
    await CancellationScope.nonCancellable(() =>
      run.announceJobFinished({ jobId: spec.jobId, swarmId: spec.swarmId, status: job.status, globalDigest: run.globalDigest() }),
    );
    if (job.status === 'FAILED') throw error;
    return run.progress();
  }
  if (continueRun) {
    await condition(allHandlersFinished);
    return await run.continueAsNew();
  }
  await run.announceJobFinished({ jobId: spec.jobId, swarmId: spec.swarmId, status: job.status, globalDigest: run.globalDigest() });
  return run.progress();
}
