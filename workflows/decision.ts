// collaborativeDecision (id decision-<decisionId>): voting delay -> power
// snapshot -> proposal announced -> ballots counted from messaging in batches
// until the deadline (moved by a late quorum) or until the result can no
// longer change -> outcome published -> the action, after its timelock.
// The history holds digests, counts and the tally; ballots and the power
// snapshot stay in the blob store. Continue-as-new keeps it bounded.
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  patched,
  proxyActivities,
  proxySinks,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { DecisionActivities } from '../activities/decisions';
import { cannotChange, decide, quorumPower } from '../core/decisions/outcome';
import { EMPTY_TALLY, type DecisionStatus } from '../core/decisions/status';
import { decisionTopic } from '../core/decisions/topics';
import type { DecisionSpec, DecisionState, ProposalMessage } from '../core/decisions/types';
import { DecisionStateKey, JobIdKey, SwarmIdKey } from '../core/search-attributes';
import type { QpSinks } from '../core/observations';
import type { TuningJobSpec } from '../core/tuning';
import { TUNING_WORKFLOW, cancelDecisionUpdate, decisionStatusQuery, tuningWorkflowId } from './definitions';
import { TASK_REBALANCE_WORKFLOW, taskRebalanceScheduleId, type TaskRebalanceInput, type TaskRebalanceResult } from './definitions-tasks';

export interface DecisionBatching {
  /** How long one counting batch waits for a first ballot, ms. */
  waitMs: number;
  /** Pause after a batch that found no ballot, ms (workflow time). */
  idleSleepMs: number;
  /** Ballots per batch at most. */
  maxBallots: number;
}

export interface CollaborativeDecisionInput {
  spec: DecisionSpec;
  batching?: Partial<DecisionBatching>;
  /** The status carried over continue-as-new. */
  carry?: DecisionStatus;
}

// An open decision long-polls its ballot topic for a second, then, when nothing came, gives its
// activity slot back for a second: many open decisions do not fill a worker's activity slots.
const DEFAULT_BATCHING: DecisionBatching = { waitMs: 1_000, idleSleepMs: 1_000, maxBallots: 5_000 };

const quick = proxyActivities<DecisionActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

/** The message and typed code of an activity's or child's failure (its cause's, when it wraps one). */
function failureOf(error: unknown): { error: string; errorCode?: string } {
  let cause: unknown = error;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  const failure = cause instanceof ApplicationFailure ? cause : undefined;
  return {
    error: cause instanceof Error ? cause.message : String(cause),
    errorCode: failure?.type ?? (error instanceof Error ? error.name : undefined),
  };
}

export async function collaborativeDecision(input: CollaborativeDecisionInput): Promise<DecisionStatus> {
  const { spec } = input;
  const batching = { ...DEFAULT_BATCHING, ...input.batching };
  const now = () => Date.now();
  const status: DecisionStatus = input.carry ?? {
    decisionId: spec.decisionId,
    swarmId: spec.swarmId,
    title: spec.title,
    proposer: spec.proposer,
    system: spec.system,
    options: spec.options,
    allowVoteChange: spec.allowVoteChange ?? false,
    state: 'PENDING',
    createdAt: now(),
    opensAt: now() + spec.votingDelayMs,
    closesAt: now() + spec.votingDelayMs + spec.votingPeriodMs,
    tally: { ...EMPTY_TALLY, scores: Object.fromEntries(spec.options.map((option) => [option, 0])) },
    voters: 0,
    refusals: { counts: {}, recent: [] },
    ballotChunks: [],
  };
  let cancelRequested = false;
  // Set before the workflow waits for its handlers (to end or continue as new): a cancel still
  // waiting for CANCELLED answers then, with the state as it is.
  let handlersMayFinish = false;

  setHandler(decisionStatusQuery, () => status);
  setHandler(
    cancelDecisionUpdate,
    async ({ reason }) => {
      cancelRequested = true;
      status.cancelReason = reason ?? 'cancelled';
      // The answer shows the decision CANCELLED (histories from before this answered at once).
      if (patched('decision-cancel-answers-cancelled')) await condition(() => status.state === 'CANCELLED' || handlersMayFinish);
      return status;
    },
    {
      validator: (_request: { reason?: string }) => {
        const cancellable = status.state === 'PENDING' || status.state === 'ACTIVE' || status.action?.status === 'timelocked';
        if (!cancellable) throw ApplicationFailure.create({ type: 'DECISION_CLOSED', message: `decision ${spec.decisionId} is ${status.state}` });
      },
    },
  );

  const setState = (state: DecisionState) => {
    status.state = state;
    upsertSearchAttributes([{ key: DecisionStateKey, value: state }]);
  };
  const cancel = async () => {
    setState('CANCELLED');
    if (status.action?.status === 'timelocked') status.action.status = 'cancelled';
    status.closedAt ??= now();
    status.closedBy ??= 'cancel';
    await quick.publishOutcome({
      type: 'decision-outcome',
      decisionId: spec.decisionId,
      swarmId: spec.swarmId,
      state: 'CANCELLED',
      tally: status.tally,
      quorumPower: status.quorumPower ?? 0,
      closedBy: 'cancel',
      closedAt: status.closedAt,
    });
  };
  const finish = async () => {
    handlersMayFinish = true;
    await condition(allHandlersFinished);
    return status;
  };

  if (status.state === 'PENDING') {
    await condition(() => cancelRequested, Math.max(0, status.opensAt - now()));
    if (cancelRequested) {
      await cancel();
      return finish();
    }
    const snapshot = await quick.snapshotElectorate({ swarmId: spec.swarmId, electorate: spec.electorate, power: spec.power });
    status.snapshot = { digest: snapshot.snapshotDigest, voters: snapshot.voters, totalPower: snapshot.totalPower };
    status.quorumPower = quorumPower(spec.quorum, snapshot.totalPower);
    status.opensAt = now();
    status.closesAt = status.opensAt + spec.votingPeriodMs;
    setState('ACTIVE');
    const proposal: ProposalMessage = {
      type: 'decision-proposal',
      decisionId: spec.decisionId,
      swarmId: spec.swarmId,
      title: spec.title,
      description: spec.description,
      options: spec.options,
      system: spec.system,
      ballotTopic: decisionTopic(spec.swarmId, spec.decisionId),
      opensAt: status.opensAt,
      closesAt: status.closesAt,
      allowVoteChange: spec.allowVoteChange ?? false,
      voters: snapshot.voters,
      totalPower: snapshot.totalPower,
    };
    if (patched('voting-period-from-announcement')) {
      // The period counts from the announcement (held back, say, while the server restarted).
      const announced = await quick.announceProposal(proposal, spec.votingPeriodMs);
      status.closesAt = Math.max(status.closesAt, announced.closesAt);
    } else {
      await quick.announceProposal(proposal);
    }
  }

  if (status.state === 'ACTIVE') {
    const snapshot = status.snapshot!;
    let settled = false;
    let afterDeadline = false;
    // The last batch's ballots are acknowledged once the workflow recorded it (histories from before
    // this left them on the topic).
    const settleBallots = async () => {
      if (patched('decision-settle-last-batch')) {
        await quick.settleBallots({ swarmId: spec.swarmId, decisionId: spec.decisionId, chunks: status.ballotChunks });
      }
    };
    for (;;) {
      if (cancelRequested) {
        await settleBallots();
        await cancel();
        return finish();
      }
      if (workflowInfo().continueAsNewSuggested) {
        handlersMayFinish = true;
        await condition(allHandlersFinished);
        await continueAsNew<typeof collaborativeDecision>({ ...input, carry: status });
      }
      afterDeadline = now() >= status.closesAt;
      const batch = await quick.countBallots({
        spec,
        snapshotDigest: snapshot.digest,
        chunks: status.ballotChunks,
        opensAt: status.opensAt,
        closesAt: status.closesAt,
        quorumPower: status.quorumPower!,
        quorumReachedAt: status.quorumReachedAt,
        // After the deadline one last batch drains what arrived (late ballots are refused).
        waitMs: afterDeadline ? 0 : Math.min(batching.waitMs, Math.max(0, status.closesAt - now())),
        maxBallots: batching.maxBallots,
      });
      if (batch.chunk) status.ballotChunks.push(batch.chunk);
      status.tally = batch.tally;
      status.voters = batch.voters;
      status.closesAt = batch.closesAt;
      status.quorumReachedAt = batch.quorumReachedAt;
      for (const [reason, count] of Object.entries(batch.refusals.counts)) {
        const key = reason as keyof typeof status.refusals.counts;
        status.refusals.counts[key] = (status.refusals.counts[key] ?? 0) + (count ?? 0);
      }
      status.refusals.recent = [...status.refusals.recent, ...batch.refusals.recent].slice(-20);
      if (afterDeadline && batch.received < batching.maxBallots) break;
      if (!afterDeadline && cannotChange(spec, batch.tally, snapshot.totalPower, batch.remaining)) {
        settled = true;
        break;
      }
      if (batch.received === 0 && batching.idleSleepMs > 0) {
        await condition(() => cancelRequested, Math.max(1, Math.min(batching.idleSleepMs, status.closesAt - now())));
      }
    }
    status.closedAt = now();
    status.closedBy = settled ? 'early' : 'deadline';
    await settleBallots();
    const outcome = decide(spec, status.tally, snapshot.totalPower);
    status.outcome = outcome;
    setState(outcome.state);
    proxySinks<QpSinks>().qpMetrics.decisionClosed({
      swarmId: spec.swarmId,
      state: outcome.state,
      turnoutRatio: snapshot.totalPower > 0 ? status.tally.turnout / snapshot.totalPower : undefined,
    });
    await quick.publishOutcome({
      type: 'decision-outcome',
      decisionId: spec.decisionId,
      swarmId: spec.swarmId,
      state: outcome.state,
      winner: outcome.winner,
      tally: status.tally,
      quorumPower: outcome.quorumPower,
      closedBy: status.closedBy,
      closedAt: status.closedAt,
    });
  }

  if (status.state === 'SUCCEEDED' && spec.action && status.action?.status !== 'started') {
    const runsAt = status.action?.runsAt ?? now() + (spec.action.timelockMs ?? 0);
    status.action = { kind: spec.action.kind, status: 'timelocked', runsAt };
    await condition(() => cancelRequested, Math.max(0, runsAt - now()));
    if (cancelRequested) {
      await cancel();
      return finish();
    }
    if (spec.action.kind === 'tuning') {
      const tuning = spec.action.spec as unknown as TuningJobSpec;
      const workflowId = tuningWorkflowId(tuning.jobId);
      try {
        await startChild(TUNING_WORKFLOW, {
          workflowId,
          args: [{ spec: tuning }],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: [
            { key: JobIdKey, value: tuning.jobId },
            { key: SwarmIdKey, value: tuning.swarmId },
          ],
        });
        status.action = { kind: 'tuning', status: 'started', runsAt, jobId: tuning.jobId, workflowId };
        setState('EXECUTED');
      } catch (error) {
        status.action = { kind: 'tuning', status: 'failed', runsAt, error: error instanceof Error ? error.message : String(error) };
      }
    } else if (spec.action.kind === 'tasks' && patched('decision-tasks-rebalance-actions')) {
      try {
        const started = await quick.runTaskAction({ decisionId: spec.decisionId, digest: String(spec.action.spec.digest) });
        if (started.failed === 0) {
          status.action = { kind: 'tasks', status: 'started', runsAt, taskIds: started.taskIds };
          setState('EXECUTED');
        } else {
          const first = started.failures[0];
          status.action = {
            kind: 'tasks',
            status: 'failed',
            runsAt,
            taskIds: started.taskIds,
            failed: started.failed,
            failures: started.failures,
            errorCode: 'TASK_REFUSED',
            error: `${started.failed} of ${started.failed + started.taskIds.length} tasks were refused; first: ${first.taskId}: ${first.code}: ${first.message}`,
          };
        }
      } catch (error) {
        status.action = { kind: 'tasks', status: 'failed', runsAt, ...failureOf(error) };
      }
    } else if (spec.action.kind === 'rebalance' && patched('decision-tasks-rebalance-actions')) {
      // The run the swarm's rebalancing Schedule starts, now, under an id of this decision's.
      const workflowId = `${taskRebalanceScheduleId(spec.swarmId)}-decision-${spec.decisionId}`;
      try {
        const input: TaskRebalanceInput = { swarmId: spec.swarmId };
        const result = await executeChild<(input: TaskRebalanceInput) => Promise<TaskRebalanceResult>>(TASK_REBALANCE_WORKFLOW, {
          workflowId,
          args: [input],
          workflowExecutionTimeout: '5 minutes',
        });
        status.action = {
          kind: 'rebalance',
          status: 'started',
          runsAt,
          workflowId,
          assigned: result.assigned,
          taskIds: result.moved,
          ...(result.replanned?.length ? { replanned: result.replanned } : {}),
        };
        setState('EXECUTED');
      } catch (error) {
        status.action = { kind: 'rebalance', status: 'failed', runsAt, workflowId, ...failureOf(error) };
      }
    } else {
      // Only a history from before the tasks and rebalance actions (unpatched) comes here.
      status.action = { kind: spec.action.kind, status: 'failed', runsAt, error: `${spec.action.kind} actions are not available yet` };
    }
  }
  return finish();
}
