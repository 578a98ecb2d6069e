// federatedTuning (id tuning-<jobId>): rounds of select -> broadcast ->
// collect and aggregate -> evaluate, with quorum retries, pause/resume,
// cancellation, and continue-as-new every few rounds. The history carries
// digests, participant ids and metrics; tensors stay in the blob store.
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxySinks,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { QpSinks, RoundOutcome } from '../core/observations';
import type { SelectionResult, StoredSelection, TuningActivities } from '../activities/tuning';
import { PrivacyAccountant, RDP_ORDERS } from '../core/privacy/accountant';
import type { FinalEvaluation, RoundInput, RoundMetrics, TuningJobSpec, TuningProgress } from '../core/tuning';
import { DEFAULT_SELECTION, accuracyAllowsLowCarbon } from '../core/selection';
import { handleTuningControls, runTuningJob, type TuningJobState } from './tuning-job';

export interface TuningCarry {
  /** Rounds completed. */
  round: number;
  globalDigest: string;
  serverStateDigest?: string;
  lastParticipation: Record<string, number>;
  recentRounds: RoundMetrics[];
  /** Accumulated Renyi DP at RDP_ORDERS, when privacy is on. */
  rdp?: number[];
  /** The same for one agent's local-DP releases. */
  localRdp?: number[];
  paused: boolean;
  /** Oort: digest of the blob of what each agent's rounds showed (only when the job selects with Oort). */
  selectionFeedbackDigest?: string;
  /** Ids of the messages recorded collections read and left unacknowledged (heldDigest); the next collection settles them. */
  heldDigest?: string;
  /** Blob of the round each agent last took part in; lastParticipation stays empty once the job keeps it here. */
  participationDigest?: string;
}

export interface FederatedTuningInput {
  spec: TuningJobSpec;
  carry?: TuningCarry;
}

const { qpMetrics } = proxySinks<QpSinks>();

/** Rounds per run before continue-as-new. */
const ROUNDS_PER_RUN = 25;
/** Longest wait after the last round for its missing participants' updates (they are counted late). */
const FINAL_LATE_WINDOW_MS = 10_000;
const RECENT_ROUNDS_KEPT = 50;

// Short activities that heartbeat every second (activities/keep-alive.ts): a worker killed
// in one delays the job by the heartbeat timeout, while a large swarm's listing may still
// take longer than a few seconds.
const quick = proxyActivities<TuningActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

export async function federatedTuning(input: FederatedTuningInput): Promise<TuningProgress> {
  const { spec } = input;
  const collecting = proxyActivities<TuningActivities>({
    startToCloseTimeout: spec.roundTimeoutMs + 5 * 60_000,
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 20 },
  });
  const job: TuningJobState = { status: 'RUNNING' };
  const carry: TuningCarry = input.carry ?? {
    round: 0,
    globalDigest: '',
    lastParticipation: {},
    recentRounds: [],
    rdp: spec.privacy ? RDP_ORDERS.map(() => 0) : undefined,
    localRdp: spec.localPrivacy ? RDP_ORDERS.map(() => 0) : undefined,
    paused: false,
  };
  // The RDP curves travel in the carry; the accountants compose rounds onto them.
  const accountantOver = (rdp: number[] | undefined) =>
    rdp ? new PrivacyAccountant(RDP_ORDERS, { orders: [...RDP_ORDERS], rdp, rounds: [] }) : undefined;
  const centralPrivacy = spec.privacy ? accountantOver(carry.rdp) : undefined;
  const localPrivacy = spec.localPrivacy ? accountantOver(carry.localRdp) : undefined;

  /** The evaluation-only round after the last: its combined scores, or why there are none. */
  const final: { evaluation?: FinalEvaluation; missing?: string } = {};
  const progress = (): TuningProgress => ({
    jobId: spec.jobId,
    swarmId: spec.swarmId,
    status: carry.paused && job.status === 'RUNNING' ? 'PAUSED' : job.status,
    round: carry.round,
    rounds: spec.rounds,
    globalDigest: carry.globalDigest,
    recentRounds: carry.recentRounds,
    failureReason: job.failureReason,
    ...(final.evaluation ? { finalEvaluation: final.evaluation } : {}),
    ...(final.missing ? { finalEvaluationMissing: final.missing } : {}),
  });
  handleTuningControls(carry, progress);

  /** The last completed round's participants that sent nothing in time. */
  let lastRoundMissing: string[] = [];
  return runTuningJob({
    spec,
    job,
    globalDigest: () => carry.globalDigest,
    body: async () => {
      if (!carry.globalDigest) {
        carry.globalDigest = await quick.initializeModel({
          dimension: spec.model.dimension,
          initialDigest: spec.model.initialDigest,
        });
      }
      const firstRoundOfRun = carry.round + 1;
      while (carry.round < spec.rounds) {
        if (carry.round + 1 - firstRoundOfRun >= ROUNDS_PER_RUN || workflowInfo().continueAsNewSuggested) {
          return true;
        }
        await condition(() => !carry.paused);
        await runRound(carry.round + 1);
      }
      // No later round reads the last round's topic: its late updates are counted before it goes.
      // A secure job's last round too, since the patch: its late protocol messages count as late updates.
      const drainsLate = () => !spec.secureAggregation || patched('secure-final-late-updates');
      if (lastRoundMissing.length > 0 && drainsLate() && patched('final-round-late-updates')) {
        const { lateByRound } = await quick.drainLateUpdates({
          jobId: spec.jobId,
          swarmId: spec.swarmId,
          round: carry.round,
          awaiting: lastRoundMissing,
          windowMs: Math.min(spec.roundTimeoutMs, FINAL_LATE_WINDOW_MS),
          ...acknowledging(),
        });
        attributeLate(lateByRound);
      }
      if (spec.evaluation?.federated && patched('final-federated-evaluation')) await evaluateFinalModel();
      return false;
    },
    announceJobFinished: quick.announceJobFinished,
    continueAsNew: () => continueAsNew<typeof federatedTuning>({ spec, carry }),
    progress,
  });

  /**
   * Collections leave their messages unacknowledged until their result is recorded here: the
   * next one acknowledges them. Jobs started before this read and acknowledged in one go.
   */
  function acknowledging(): { deferAcks?: boolean; settled?: string } {
    return patched('collect-acks-after-record') ? { deferAcks: true, settled: carry.heldDigest } : {};
  }

  /** Updates that reached a later round's collection are counted late in the round they were sent for. */
  function attributeLate(lateByRound: Record<string, number>): void {
    carry.recentRounds = carry.recentRounds.map((metrics) => {
      const late = lateByRound[metrics.round];
      if (!late) return metrics;
      return { ...metrics, rejected: { ...metrics.rejected, late: (metrics.rejected.late ?? 0) + late } };
    });
  }

  /**
   * One evaluation-only round (number rounds + 1) after the last: selected agents score the final
   * global model on their own data and send only their scores. Selection and answers follow the
   * rounds' minParticipants, timeout and attempts; too few answers leave the job COMPLETED with
   * finalEvaluationMissing saying why.
   */
  async function evaluateFinalModel(): Promise<void> {
    const round = spec.rounds + 1;
    const selection = spec.selection ?? DEFAULT_SELECTION;
    for (let attempt = 1; attempt <= spec.maxRoundAttempts; attempt++) {
      const selected = await quick.selectAndStoreParticipants({
        swarmId: spec.swarmId,
        count: spec.participantsPerRound,
        fraction: spec.fraction,
        minParticipants: spec.minParticipants,
        requirements: spec.requirements,
        exclude: [],
        seed: spec.seed,
        round,
        attempt,
        // Oort and carbon-aware choose whom to train: evaluation asks whoever is eligible.
        strategy: selection === 'oort' || selection === 'carbon-aware' ? 'uniform' : selection,
        options: spec.selectionOptions,
        participationDigest: carry.participationDigest,
        lastParticipation: Object.keys(carry.lastParticipation).length > 0 ? carry.lastParticipation : undefined,
      });
      if (selected.participantCount < spec.minParticipants) {
        final.missing = `evaluation round: ${selected.participantCount} agents eligible, fewer than ${spec.minParticipants}`;
        if (attempt === spec.maxRoundAttempts) return;
        await sleep(Math.min(spec.roundTimeoutMs, 5_000));
        continue;
      }
      const roundInput = { jobId: spec.jobId, swarmId: spec.swarmId, round, attempt, deadlineAt: Date.now() + spec.roundTimeoutMs };
      await quick.startRoundByDigest({
        ...roundInput,
        participantsDigest: selected.participantsDigest,
        globalDigest: carry.globalDigest,
        training: spec.training,
        evaluate: true,
        evaluateOnly: true,
      });
      const outcome = await collecting.collectEvaluations({
        ...roundInput,
        participantsDigest: selected.participantsDigest,
        ...acknowledging(),
      });
      if (outcome.evaluation && outcome.answered >= spec.minParticipants) {
        final.evaluation = outcome.evaluation;
        final.missing = undefined;
        return;
      }
      final.missing = `evaluation round: ${outcome.answered} agents answered, fewer than ${spec.minParticipants}`;
    }
  }

  async function runRound(round: number): Promise<void> {
    const started = Date.now();
    const observeRound = (outcome: RoundOutcome, participants: number, metrics?: RoundMetrics) =>
      qpMetrics.roundObserved({
        swarmId: spec.swarmId,
        strategy: spec.strategy,
        outcome,
        durationSeconds: (Date.now() - started) / 1000,
        participants,
        accuracy: metrics?.accuracy,
        epsilon: metrics?.epsilon,
      });
    const tried: string[] = [];
    const selection = spec.selection ?? DEFAULT_SELECTION;
    // Agents score the incoming global model every round unless the job sets a cadence.
    const federatedEvaluation = round % (spec.evaluation?.federated?.everyRounds ?? 1) === 0;
    for (let attempt = 1; attempt <= spec.maxRoundAttempts; attempt++) {
      // The participant list stays in the blob store: the history carries its digest (jobs started before read it back 4 times a round).
      const byDigest = patched('participants-by-digest');
      const selectionInput = {
        swarmId: spec.swarmId,
        count: spec.participantsPerRound,
        fraction: spec.fraction,
        minParticipants: spec.minParticipants,
        requirements: spec.requirements,
        // A retry asks agents that did not fail this round already, while there are any.
        exclude: tried,
        seed: spec.seed,
        round,
        attempt,
        strategy: selection,
        options: spec.selectionOptions,
        feedbackDigest: selection === 'oort' ? carry.selectionFeedbackDigest : undefined,
        atMs: selection === 'carbon-aware' ? Date.now() : undefined,
        preferLowCarbon:
          selection === 'carbon-aware'
            ? accuracyAllowsLowCarbon(
                carry.recentRounds.map((r) => r.accuracy ?? r.agentAccuracy),
                spec.selectionOptions?.maxAccuracyDrop,
              )
            : undefined,
      };
      const selected: SelectionResult | StoredSelection = byDigest
        ? await quick.selectAndStoreParticipants({
            ...selectionInput,
            participationDigest: carry.participationDigest,
            lastParticipation: Object.keys(carry.lastParticipation).length > 0 ? carry.lastParticipation : undefined,
          })
        : await quick.selectParticipants({ ...selectionInput, lastParticipation: carry.lastParticipation });
      const participants = 'participants' in selected ? selected.participants : undefined;
      const stored = 'participantsDigest' in selected ? selected : undefined;
      const count = participants ? participants.length : (stored?.participantCount ?? 0);
      const { eligible } = selected;
      if (count < spec.minParticipants) {
        observeRound('too_few_agents', count);
        if (attempt === spec.maxRoundAttempts) break;
        await sleep(Math.min(spec.roundTimeoutMs, 5_000));
        tried.length = 0;
        continue;
      }
      const roundInput: Omit<RoundInput, 'participants'> = {
        jobId: spec.jobId,
        swarmId: spec.swarmId,
        round,
        attempt,
        deadlineAt: Date.now() + spec.roundTimeoutMs,
      };
      const startInput = {
        ...roundInput,
        globalDigest: carry.globalDigest,
        // FedProx's mu is the agents' to apply: it travels with the training config.
        training: { ...spec.training, proximalMu: spec.training.proximalMu ?? spec.strategyOptions.proximalMu },
        secureAggregation: spec.secureAggregation,
        clipNorm: spec.privacy?.clipNorm,
        localPrivacy: spec.localPrivacy,
        evaluate: federatedEvaluation ? true : spec.evaluation?.federated ? false : undefined,
      };
      if (stored) await quick.startRoundByDigest({ ...startInput, participantsDigest: stored.participantsDigest });
      else await quick.startRound({ ...startInput, participants: participants ?? [] });
      const collectInput = {
        ...roundInput,
        minParticipants: spec.minParticipants,
        dimension: spec.model.dimension,
        globalDigest: carry.globalDigest,
        serverStateDigest: carry.serverStateDigest,
        strategy: spec.strategy,
        strategyOptions: spec.strategyOptions,
        maxUpdateNorm: spec.maxUpdateNorm,
        privacy: spec.privacy,
        secureAggregation: spec.secureAggregation,
        seed: spec.seed,
        stragglers: spec.stragglers,
        roundTimeoutMs: spec.roundTimeoutMs,
        learnFeedback:
          selection === 'oort'
            ? {
                startedAt: roundInput.deadlineAt - spec.roundTimeoutMs,
                timeoutMs: spec.roundTimeoutMs,
                previousDigest: carry.selectionFeedbackDigest,
              }
            : undefined,
        ...acknowledging(),
      };
      let silent: string[];
      const outcome = stored
        ? await collecting.collectAndAggregateByDigest({ ...collectInput, participantsDigest: stored.participantsDigest })
        : await collecting.collectAndAggregate({ ...collectInput, participants: participants ?? [] });
      if (outcome.heldDigest) carry.heldDigest = outcome.heldDigest;
      if (outcome.lateByRound) attributeLate(outcome.lateByRound);
      if (stored && 'silent' in outcome) {
        carry.participationDigest = stored.participationDigest;
        carry.lastParticipation = {};
        silent = outcome.silent;
      } else {
        const selectedIds = participants ?? [];
        for (const agentId of selectedIds) carry.lastParticipation[agentId] = round;
        // A Set, not reported.includes: at 10,000 participants the quadratic scan outlasted the workflow task.
        const reported = new Set('reported' in outcome ? outcome.reported : []);
        silent = selectedIds.filter((id) => !reported.has(id));
      }
      if (outcome.status === 'quorum-not-met') {
        observeRound('quorum_not_met', count);
        tried.push(...silent);
        if (eligible - tried.length < spec.minParticipants) tried.length = 0;
        continue;
      }
      carry.globalDigest = outcome.globalDigest;
      carry.serverStateDigest = outcome.serverStateDigest;
      if (outcome.feedbackDigest) carry.selectionFeedbackDigest = outcome.feedbackDigest;
      if (spec.privacy && centralPrivacy) {
        centralPrivacy.record(count / Math.max(eligible, count), spec.privacy.noiseMultiplier);
        carry.rdp = centralPrivacy.curve.rdp;
      }
      if (spec.localPrivacy && localPrivacy) {
        // Each release is the Gaussian mechanism on the agent's own clipped change (q = 1).
        localPrivacy.record(1, spec.localPrivacy.noiseMultiplier);
        carry.localRdp = localPrivacy.curve.rdp;
      }
      const evaluate = (spec.evaluation?.server ?? true) && (round % spec.evaluateEvery === 0 || round === spec.rounds);
      const evaluation = evaluate
        ? await quick.evaluateModel({ kind: spec.model.kind, globalDigest: carry.globalDigest })
        : undefined;
      const metrics: RoundMetrics = {
        round,
        attempts: attempt,
        participants: count,
        accepted: outcome.accepted,
        rejected: outcome.rejected,
        examples: outcome.examples,
        trainLoss: outcome.trainLoss,
        trainAccuracy: outcome.trainAccuracy,
        accuracy: evaluation?.accuracy,
        loss: evaluation?.loss,
        agentAccuracy: federatedEvaluation ? outcome.agentAccuracy : undefined,
        agentLoss: federatedEvaluation ? outcome.agentLoss : undefined,
        agentEvalExamples: federatedEvaluation ? outcome.agentEvalExamples : undefined,
        epsilon: spec.privacy && centralPrivacy ? centralPrivacy.spent(spec.privacy.delta).epsilon : undefined,
        localEpsilon: spec.localPrivacy && localPrivacy ? localPrivacy.spent(spec.localPrivacy.delta).epsilon : undefined,
        globalDigest: carry.globalDigest,
        durationMs: Date.now() - started,
        ...(outcome.work
          ? {
              partial: outcome.work.partial,
              dropped: outcome.work.dropped,
              stepsCompleted: outcome.work.stepsCompleted,
              stepsPlanned: outcome.work.stepsPlanned,
              ...(spec.stragglers ? { closedBy: outcome.work.closedBy } : {}),
            }
          : {}),
        selection: selected.strategy,
        exploring: selected.exploring,
        lowCarbon: selected.lowCarbon,
      };
      observeRound('completed', count, metrics);
      carry.recentRounds = [...carry.recentRounds, metrics].slice(-RECENT_ROUNDS_KEPT);
      carry.round = round;
      lastRoundMissing = silent;
      return;
    }
    throw ApplicationFailure.nonRetryable(
      `round ${round}: fewer than ${spec.minParticipants} valid updates after ${spec.maxRoundAttempts} attempts`,
      'QUORUM_NOT_MET',
    );
  }
}
