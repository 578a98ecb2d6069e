// behaviorSweep (id behavior-sweep-<swarmId>): drain the swarm's behavior
// reports -> store and score novelty -> cluster the novel, fit ones into
// strategies -> report -> publish the best as skills. The history holds ids,
// digests, counts and the report summary; descriptors never enter it.
//
// scheduledBehaviorSweeps (started by the Schedule behavior-sweeps-<taskQueue>):
// one child behaviorSweep per swarm the worker serves.
import {
  ApplicationFailure,
  ChildWorkflowHandle,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxySinks,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { QpSinks } from '../core/observations';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { BehaviorActivities } from '../activities/behaviors';
import { SwarmIdKey, SweepIdKey } from '../core/search-attributes';
import {
  DEFAULT_SWEEP_PARAMETERS,
  type SweepParameters,
  type SweepReport,
} from '../core/behaviors/types';
import { BEHAVIOR_SWEEP_WORKFLOW, behaviorSweepWorkflowId } from './definitions';

export interface BehaviorSweepInput {
  swarmId: string;
  /** The report's id (also the SweepId search attribute); generated when absent. */
  reportId?: string;
  parameters?: Partial<SweepParameters>;
}

export interface BehaviorSweepResult {
  report: SweepReport;
}

/** What the visibility listing of reports shows: the memo of each sweep. */
export interface SweepReportSummary {
  reportId: string;
  swarmId: string;
  startedAt: string;
  finishedAt: string;
  counts: SweepReport['counts'];
  strategies: Pick<SweepReport['strategies'][number], 'strategyId' | 'rank' | 'size' | 'agentCount' | 'meanFitness' | 'disseminated'>[];
}

export interface ScheduledBehaviorSweepsInput {
  parameters?: Partial<SweepParameters>;
  /** Swarms swept per run at most (children of one run). */
  maxSwarms?: number;
}

export interface ScheduledBehaviorSweepsResult {
  swept: string[];
  /** Swarms whose previous sweep was still running. */
  skipped: string[];
  failed: string[];
}

/** New report ids: sortable by nothing, unique by construction (uuid4 is deterministic in workflows). */
export const newReportId = (): string => `sweep-${uuid4()}`;

const DEFAULT_MAX_SWARMS = 100;

export async function behaviorSweep(input: BehaviorSweepInput): Promise<BehaviorSweepResult> {
  const startedAt = new Date().toISOString();
  const reportId = input.reportId ?? newReportId();
  const parameters: SweepParameters = { ...DEFAULT_SWEEP_PARAMETERS, ...input.parameters };
  upsertSearchAttributes([
    { key: SweepIdKey, value: reportId },
    { key: SwarmIdKey, value: input.swarmId },
  ]);

  // The drain heartbeats per receive; a lost worker is noticed within 30 s and
  // the retry resumes from the last heartbeat.
  const draining = proxyActivities<BehaviorActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
  });
  const quick = proxyActivities<BehaviorActivities>({
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
  });

  // A batch at a time, each recorded here before its messages are acknowledged: a drain's
  // progress in heartbeats reaches the server late (they are throttled), so a worker lost after
  // an acknowledgement lost that batch.
  const ingest = patched('sweep-drain-per-batch')
    ? await drainBatchByBatch({ swarmId: input.swarmId, reportId, k: parameters.k })
    : await draining.ingestBehaviorReports({ swarmId: input.swarmId, reportId, k: parameters.k });
  const discovery = await quick.discoverBehaviorStrategies({
    swarmId: input.swarmId,
    reportId,
    scoredBlobs: ingest.scoredBlobs,
    parameters,
  });
  const top = discovery.strategies.slice(0, parameters.broadcastTop).map((s) => s.strategyId);
  const { published } = await quick.disseminateSkills({ swarmId: input.swarmId, reportId, strategyIds: top });

  const rejected = Object.values(ingest.rejections).reduce((sum, n) => sum + (n ?? 0), 0);
  const report: SweepReport = {
    reportId,
    swarmId: input.swarmId,
    startedAt,
    finishedAt: new Date().toISOString(),
    counts: {
      received: ingest.received,
      accepted: ingest.accepted,
      rejected,
      candidates: discovery.candidates,
      clustered: discovery.clustered,
      noise: discovery.noise,
      archive: ingest.archive,
    },
    rejections: ingest.rejections,
    parameters: discovery.parameters,
    meanFitness: discovery.meanFitness,
    strategies: discovery.strategies.map((s) => ({ ...s, disseminated: published.includes(s.strategyId) })),
  };
  const summary: SweepReportSummary = {
    reportId,
    swarmId: report.swarmId,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    counts: report.counts,
    strategies: report.strategies.map(({ strategyId, rank, size, agentCount, meanFitness, disseminated }) => ({
      strategyId,
      rank,
      size,
      agentCount,
      meanFitness,
      disseminated,
    })),
  };
  upsertMemo({ summary });
  proxySinks<QpSinks>().qpMetrics.sweepObserved({
    swarmId: input.swarmId,
    durationSeconds: (Date.parse(report.finishedAt) - Date.parse(startedAt)) / 1000,
    strategies: report.strategies.length,
  });
  return { report };
}

const batches = proxyActivities<BehaviorActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** History events after which a drain stops reading (each batch adds about six). */
const MAX_DRAIN_HISTORY = 20_000;

async function drainBatchByBatch(input: { swarmId: string; reportId: string; k: number }) {
  let progress: Awaited<ReturnType<BehaviorActivities['ingestBehaviorBatch']>>['progress'] | undefined;
  for (;;) {
    // A drain of very small batches ends early rather than outgrow the history; the rest waits for the next sweep.
    const stop = workflowInfo().historyLength > MAX_DRAIN_HISTORY;
    const step = await batches.ingestBehaviorBatch({ ...input, progress, stop });
    progress = step.progress;
    if (step.done) {
      const { lastBatchIds: _ids, ...counts } = progress;
      return { ...counts, archive: step.archive ?? 0 };
    }
  }
}

export async function scheduledBehaviorSweeps(input: ScheduledBehaviorSweepsInput = {}): Promise<ScheduledBehaviorSweepsResult> {
  const { listBehaviorSwarms } = proxyActivities<BehaviorActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 5 },
  });
  const swarms = await listBehaviorSwarms({ limit: input.maxSwarms ?? DEFAULT_MAX_SWARMS });
  const result: ScheduledBehaviorSweepsResult = { swept: [], skipped: [], failed: [] };
  const children: [string, ChildWorkflowHandle<typeof behaviorSweep>][] = [];
  for (const swarmId of swarms) {
    const reportId = newReportId();
    try {
      const handle = await startChild<typeof behaviorSweep>(BEHAVIOR_SWEEP_WORKFLOW, {
        workflowId: behaviorSweepWorkflowId(swarmId),
        args: [{ swarmId, reportId, parameters: input.parameters }],
        // A sweep outlives a cancelled or timed-out scheduler run: its report still counts.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: SweepIdKey, value: reportId },
          { key: SwarmIdKey, value: swarmId },
        ],
      });
      children.push([swarmId, handle]);
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) result.skipped.push(swarmId);
      else throw error;
    }
  }
  for (const [swarmId, handle] of children) {
    try {
      await handle.result();
      result.swept.push(swarmId);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      result.failed.push(swarmId);
    }
  }
  if (children.length > 0 && result.failed.length === children.length) {
    throw ApplicationFailure.retryable(`every sweep failed: ${result.failed.join(', ')}`, 'SWEEPS_FAILED');
  }
  return result;
}
