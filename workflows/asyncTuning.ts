// asyncTuning (id tuning-<jobId>, like the synchronous job): FedBuff-style
// buffered asynchronous aggregation. Agents train on the newest model version
// they were sent; accepted updates (digests of blobs) gather in a buffer kept
// in this workflow's state; every bufferSize of them advance the model one
// version, which is announced to the agents. A worker that dies loses nothing:
// the buffer is in history, and updates read but not yet recorded are still
// unacknowledged on the topic.
import {
  ActivityFailure,
  CancellationScope,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxySinks,
  workflowInfo,
} from '@temporalio/workflow';
import type { AsyncTuningActivities } from '../activities/async-tuning';
import type { TuningActivities } from '../activities/tuning';
import { DEFAULT_STALENESS_EXPONENT, type AsyncVersionMetrics, type BufferedUpdate } from '../core/async-tuning';
import type { QpSinks } from '../core/observations';
import type { TuningJobSpec, TuningProgress } from '../core/tuning';
import { handleTuningControls, runTuningJob, type TuningJobState } from './tuning-job';

export interface AsyncTuningCarry {
  /** Model versions made (version 0 is the initial model). */
  version: number;
  globalDigest: string;
  /** Digests of the versions an update may still be based on. */
  versionDigests: Record<string, string>;
  buffer: BufferedUpdate[];
  /** Per agent, the base version of its newest update taken, while that base is still admissible. */
  lastBase: Record<string, number>;
  /** Message ids recorded but not yet acknowledged on the topic. */
  settle: string[];
  /** Refusals while the current buffer fills. */
  rejected: Record<string, number>;
  recentVersions: AsyncVersionMetrics[];
  paused: boolean;
  /** The current version was announced to the agents. */
  announced: boolean;
  /** Agents the current version was announced to that have no update based on it taken yet. */
  awaiting?: string[];
}

export interface AsyncTuningInput {
  spec: TuningJobSpec;
  carry?: AsyncTuningCarry;
}

const { qpMetrics } = proxySinks<QpSinks>();

/** Collection calls per run before continue-as-new (each adds a handful of events). */
const COLLECTIONS_PER_RUN = 100;
const RECENT_VERSIONS_KEPT = 50;
const FLUSH_AFTER_MS = 1_000;
const IDLE_MS = 30_000;
/** Longest wait, once the last version is made, for the updates its agents still owe (as in the synchronous job). */
const FINISH_DRAIN_WINDOW_MS = 10_000;

const quick = proxyActivities<TuningActivities & AsyncTuningActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});
const collecting = proxyActivities<AsyncTuningActivities>({
  startToCloseTimeout: IDLE_MS + 60_000,
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 20 },
});

export async function asyncTuning(input: AsyncTuningInput): Promise<TuningProgress> {
  const { spec } = input;
  const bufferSize = spec.bufferSize ?? 1;
  const maxStaleness = spec.maxStaleness ?? 0;
  const stalenessExponent = spec.stalenessExponent ?? DEFAULT_STALENESS_EXPONENT;
  const job: TuningJobState = { status: 'RUNNING' };
  const carry: AsyncTuningCarry = input.carry ?? {
    version: 0,
    globalDigest: '',
    versionDigests: {},
    buffer: [],
    lastBase: {},
    settle: [],
    rejected: {},
    recentVersions: [],
    paused: false,
    announced: false,
  };
  const progress = (): TuningProgress => ({
    jobId: spec.jobId,
    swarmId: spec.swarmId,
    status: carry.paused && job.status === 'RUNNING' ? 'PAUSED' : job.status,
    round: carry.version,
    rounds: spec.rounds,
    globalDigest: carry.globalDigest,
    recentRounds: [],
    failureReason: job.failureReason,
    mode: 'async',
    buffered: carry.buffer.length,
    recentVersions: carry.recentVersions,
    refusedAfterFinish,
  });
  /** Per agent, updates that came after the last version was made (set when the job completes). */
  let refusedAfterFinish: Record<string, number> | undefined;
  handleTuningControls(carry, progress);

  let versionStarted = Date.now();
  return runTuningJob({
    spec,
    job,
    globalDigest: () => carry.globalDigest,
    body: async () => {
      if (!carry.globalDigest) {
        carry.globalDigest = await quick.initializeModel({ dimension: spec.model.dimension, initialDigest: spec.model.initialDigest });
        carry.versionDigests = { '0': carry.globalDigest };
      }
      let collections = 0;
      try {
        while (carry.version < spec.rounds) {
          if (collections >= COLLECTIONS_PER_RUN || workflowInfo().continueAsNewSuggested) {
            return true;
          }
          await condition(() => !carry.paused);
          if (!carry.announced) {
            await announce();
            carry.announced = true;
          }
          const collected = await collecting.collectBufferedUpdates({
            jobId: spec.jobId,
            swarmId: spec.swarmId,
            version: carry.version,
            versionDigests: carry.versionDigests,
            maxStaleness,
            need: bufferSize - carry.buffer.length,
            settle: carry.settle,
            lastBase: carry.lastBase,
            maxUpdateNorm: spec.maxUpdateNorm,
            flushAfterMs: FLUSH_AFTER_MS,
            idleMs: IDLE_MS,
          });
          collections++;
          carry.buffer.push(...collected.accepted);
          const heard = new Set(collected.accepted.filter((u) => u.baseVersion === carry.version).map((u) => u.agentId));
          if (carry.awaiting) carry.awaiting = carry.awaiting.filter((id) => !heard.has(id));
          for (const update of collected.accepted) carry.lastBase[update.agentId] = update.baseVersion;
          carry.settle = [...collected.unsettled, ...collected.decided];
          for (const [reason, count] of Object.entries(collected.rejected)) carry.rejected[reason] = (carry.rejected[reason] ?? 0) + count;
          if (carry.buffer.length >= bufferSize) {
            await advance();
            versionStarted = Date.now();
          }
        }
      } catch (error) {
        // Cancelled or failed: the topic goes with the job all the same, so what is left on it is counted first.
        if (patched('async-stop-drain')) await CancellationScope.nonCancellable(drainStopped);
        throw error;
      }
      // The topic goes with the job's end: what is still on it, or still owed, is counted before.
      if (patched('async-finish-drain')) await drainFinished();
      return false;
    },
    announceJobFinished: quick.announceJobFinished,
    continueAsNew: () => continueAsNew<typeof asyncTuning>({ spec, carry }),
    progress,
  });

  async function drainFinished(): Promise<void> {
    const drained = await quick.drainFinishedUpdates({
      jobId: spec.jobId,
      swarmId: spec.swarmId,
      awaiting: carry.awaiting ?? [],
      settle: carry.settle,
      windowMs: Math.min(spec.roundTimeoutMs, FINISH_DRAIN_WINDOW_MS),
      version: carry.version,
    });
    carry.settle = [];
    refusedAfterFinish = drained.afterFinish;
    const last = carry.recentVersions.at(-1);
    if (!last || Object.keys(drained.rejected).length === 0) return;
    const rejected = { ...last.rejected };
    for (const [reason, count] of Object.entries(drained.rejected)) rejected[reason] = (rejected[reason] ?? 0) + count;
    carry.recentVersions = [...carry.recentVersions.slice(0, -1), { ...last, rejected }];
  }

  /**
   * A cancelled or failed job reads what is left on its topic (without waiting for the agents it
   * still awaits: a cancellation should not take 10 s) and refuses it after-finish, reported with
   * the version its buffer was building. Best effort: a drain that fails leaves the job's own end as it was.
   */
  async function drainStopped(): Promise<void> {
    try {
      const drained = await quick.drainFinishedUpdates({
        jobId: spec.jobId,
        swarmId: spec.swarmId,
        awaiting: [],
        settle: carry.settle,
        windowMs: Math.min(spec.roundTimeoutMs, FINISH_DRAIN_WINDOW_MS),
        version: carry.version + 1,
      });
      carry.settle = [];
      refusedAfterFinish = drained.afterFinish;
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      log.warn('updates left on the topic not drained', { jobId: spec.jobId, error: error.cause?.message });
    }
  }

  async function announce(): Promise<void> {
    const { participants } = await quick.selectParticipants({
      swarmId: spec.swarmId,
      count: spec.participantsPerRound,
      fraction: spec.fraction,
      minParticipants: spec.minParticipants,
      requirements: spec.requirements,
      lastParticipation: {},
      exclude: [],
      seed: spec.seed,
      round: carry.version,
      attempt: 1,
    });
    await quick.announceModelVersion({
      jobId: spec.jobId,
      swarmId: spec.swarmId,
      version: carry.version,
      globalDigest: carry.globalDigest,
      participants,
      training: { ...spec.training, proximalMu: spec.training.proximalMu ?? spec.strategyOptions.proximalMu },
      maxStaleness,
    });
    carry.awaiting = participants;
  }

  async function advance(): Promise<void> {
    const buffer = carry.buffer.slice(0, bufferSize);
    const result = await quick.aggregateBuffer({
      version: carry.version,
      globalDigest: carry.globalDigest,
      versionDigests: carry.versionDigests,
      buffer,
      stalenessExponent,
      serverLearningRate: spec.strategyOptions.serverLearningRate,
      dimension: spec.model.dimension,
    });
    const version = carry.version + 1;
    const evaluate = version % spec.evaluateEvery === 0 || version === spec.rounds;
    const evaluation = evaluate ? await quick.evaluateModel({ kind: spec.model.kind, globalDigest: result.globalDigest }) : undefined;
    const rejected = carry.rejected;
    const metrics: AsyncVersionMetrics = {
      version,
      buffered: buffer.length,
      rejected,
      refusedStale: rejected.stale ?? 0,
      meanStaleness: result.meanStaleness,
      maxStaleness: result.maxStaleness,
      examples: result.examples,
      trainLoss: result.trainLoss,
      trainAccuracy: result.trainAccuracy,
      accuracy: evaluation?.accuracy,
      loss: evaluation?.loss,
      globalDigest: result.globalDigest,
      durationMs: Date.now() - versionStarted,
    };
    // A version is the asynchronous job's round in the worker's metrics (strategy label "fedbuff").
    qpMetrics.roundObserved({
      swarmId: spec.swarmId,
      strategy: 'fedbuff',
      outcome: 'completed',
      durationSeconds: metrics.durationMs / 1000,
      participants: buffer.length,
      accuracy: metrics.accuracy,
    });
    carry.recentVersions = [...carry.recentVersions, metrics].slice(-RECENT_VERSIONS_KEPT);
    carry.version = version;
    carry.globalDigest = result.globalDigest;
    carry.buffer = carry.buffer.slice(bufferSize);
    carry.rejected = {};
    // Only versions an update may still be based on are kept.
    const oldest = version - maxStaleness;
    carry.versionDigests = Object.fromEntries(
      [...Object.entries(carry.versionDigests), [String(version), result.globalDigest]].filter(([v]) => Number(v) >= oldest),
    );
    // An agent whose newest taken base fell out of the window needs no entry: older bases are refused as stale.
    carry.lastBase = Object.fromEntries(Object.entries(carry.lastBase).filter(([, base]) => base >= oldest));
    carry.announced = false;
    if (patched('async-tuning-reputation')) await recordAcceptedVersion(version, buffer);
  }

  /** Best effort, as in the synchronous round: a ledger that stays unreachable costs reputation, never the job. */
  async function recordAcceptedVersion(version: number, buffer: BufferedUpdate[]): Promise<void> {
    try {
      await quick.recordAcceptedVersion({
        jobId: spec.jobId,
        swarmId: spec.swarmId,
        version,
        agentIds: [...new Set(buffer.map((update) => update.agentId))].sort(),
      });
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      log.warn('accepted updates not recorded for reputation', { jobId: spec.jobId, version, error: error.cause?.message });
    }
  }
}
