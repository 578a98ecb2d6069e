// taskDelegation (id task-<taskId>): place the task on an agent (core/allocation
// through an activity), hold it while its planned start is later (a deferrable
// task shifted into a lower-carbon window: HELD, placed again every 10 minutes
// and when its agent is gone), dispatch it to the agent's inbox, and wait for its
// outcome, which the swarm's results collector signals after checking the
// agent's proof. An outcome counts once per (taskId, attempt): a redelivered or
// late one is discarded. No answer within the attempt timeout, a decline or a
// failure reallocates to another agent, up to maxAttempts; then FAILED.
//
// taskResultsCollector (id task-results-<swarmId>): consumes the swarm's
// task-results topic in windows (one activity each) and continues as new.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Placement, TaskActivities } from '../activities/tasks';
import { CONTRACT_NET_INVITED, awardBid, type TaskBid } from '../core/allocation/contract-net';
import type { QpSinks } from '../core/observations';
import { AgentIdKey, TaskStatusKey } from '../core/search-attributes';
import type { TaskAttempt, TaskOutcomeMessage, TaskState, TaskStatus } from '../core/tasks';
import {
  cancelTaskUpdate,
  taskAgentLostSignal,
  taskBidSignal,
  taskOutcomeSignal,
  taskReplanSignal,
  taskWorkflowId,
  HELD_REPLAN_INTERVAL_MS,
  taskStateQuery,
  type TaskDelegationInput,
  type TaskRebalanceInput,
  type TaskRebalanceResult,
  type TaskResultsInput,
} from './definitions-tasks';

const retry = { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 10 } as const;
const acts = proxyActivities<TaskActivities>({ startToCloseTimeout: '30 seconds', retry });
// Placement, dispatch and the ledger's release are short and run beside the task's workflow code:
// as local activities they cost the task no round trip through the server's activity queue.
const localActs = proxyLocalActivities<TaskActivities>({ startToCloseTimeout: '30 seconds', retry });

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** A planned start closer than this goes to the agent at once, ms. */
const HOLD_MIN_MS = 1_000;

/** Contract Net: how long an announcement collects bids unless the input says otherwise, ms. */
const DEFAULT_BID_WINDOW_MS = 2_000;
const { qpMetrics } = proxySinks<QpSinks>();

export async function taskDelegation(input: TaskDelegationInput): Promise<TaskState> {
  const { spec } = input;
  const state: TaskState = {
    taskId: spec.taskId,
    swarmId: spec.swarmId,
    kind: spec.kind,
    status: 'QUEUED',
    attempts: [],
    submittedAt: input.submittedAt,
    deadlineMs: spec.deadlineMs,
    duplicatesDiscarded: 0,
  };
  let outcome: TaskOutcomeMessage | undefined;
  let cancelReason: string | undefined;
  const current = (): TaskAttempt | undefined => state.attempts[state.attempts.length - 1];
  // Histories recorded before the task listing kept the status only in the workflow's state.
  const indexed = patched('task-status-search-attribute');
  // Histories recorded before ran every step as a regular activity.
  const steps = patched('task-local-activities') ? localActs : acts;
  // The open attempt's plan in the memo, where rebalancing reads an agent's queue (histories before had none).
  const memoAssignment = patched('task-assignment-memo');
  /** The status, mirrored into visibility (TaskStatus, AgentId) for the listing and the task gauges. */
  const setStatus = (status: TaskStatus): void => {
    state.status = status;
    if (!indexed) return;
    upsertSearchAttributes([
      { key: TaskStatusKey, value: status },
      ...(state.agentId ? [{ key: AgentIdKey, value: state.agentId }] : []),
    ]);
  };
  const finished = (): TaskState => {
    const finishedAt = Date.parse(state.finishedAt ?? '');
    qpMetrics.taskFinished({
      swarmId: state.swarmId,
      status: state.status,
      late: Number.isFinite(finishedAt) && finishedAt > state.deadlineMs,
      energyWh: state.energyWh,
      carbonG: state.carbonG,
    });
    return state;
  };

  setHandler(taskStateQuery, () => state);
  // Contract Net: the bids of the open call, one per agent. The call opens before the announcement
  // goes out (a quick agent's bid can arrive before the announcing activity returns); bids from agents
  // that were not invited are dropped once the invitations are known.
  let call: { attempt: number; invited?: string[]; bids: TaskBid[]; open: boolean } | undefined;
  setHandler(taskBidSignal, (bid) => {
    const admissible =
      call?.open &&
      bid.attempt === call.attempt &&
      (call.invited ? call.invited.includes(bid.agentId) : call.bids.length < 4 * CONTRACT_NET_INVITED) &&
      !call.bids.some((b) => b.agentId === bid.agentId);
    if (!admissible) {
      state.bidsRefused = (state.bidsRefused ?? 0) + 1;
      return;
    }
    call!.bids.push({ agentId: bid.agentId, finishAtMs: bid.finishAtMs, energyWh: bid.energyWh, carbonG: bid.carbonG });
  });
  // Rebalancing: the open attempt's agent is no longer ACTIVE, or (moved) is so far behind that the
  // task would miss its deadline in its inbox (a signal from the swarm's rebalancing run).
  let agentLost: { agentId: string; reason: string; moved?: boolean } | undefined;
  setHandler(taskAgentLostSignal, (lost) => {
    const attempt = current();
    if (attempt && !attempt.outcome && outcome === undefined && lost.agentId === attempt.agentId) agentLost = lost;
  });
  // Rebalancing: the HELD task's planned agent is no longer ACTIVE; place it again now.
  let agentGone: string | undefined;
  setHandler(taskReplanSignal, (request) => {
    if (state.status === 'HELD' && request.agentGone) agentGone = request.reason;
  });
  const contractNet = spec.allocation === 'contract-net' && patched('contract-net');
  // Temporal shifting made real: a deferrable task planned for a later, lower-carbon window
  // waits here, still movable, instead of in its agent's inbox (histories before it dispatched at once).
  const holdDeferrable = spec.deferrable === true && !contractNet && patched('held-dispatch');
  /**
   * Keeps the placement until its planned start, placing the task again every
   * HELD_REPLAN_INTERVAL_MS and when rebalancing finds its agent gone; the placement to dispatch.
   */
  const holdUntilPlannedStart = async (first: Placement, exclude: string[]): Promise<Placement> => {
    let plan = first;
    while (plan.agentId !== undefined && plan.startMs !== undefined && plan.startMs - Date.now() > HOLD_MIN_MS && cancelReason === undefined) {
      const { agentId, startMs } = plan;
      state.agentId = agentId;
      state.heldUntil = new Date(startMs).toISOString();
      setStatus('HELD');
      agentGone = undefined;
      const untilStart = startMs - Date.now();
      const woken = await condition(() => cancelReason !== undefined || agentGone !== undefined, Math.min(untilStart, HELD_REPLAN_INTERVAL_MS));
      if (cancelReason !== undefined) break;
      if (!woken && untilStart <= HELD_REPLAN_INTERVAL_MS) break;
      state.replans = (state.replans ?? 0) + 1;
      await steps.releaseTask({ swarmId: spec.swarmId, taskId: spec.taskId, agentId });
      plan = await steps.placeTask({ spec, exclude });
    }
    delete state.heldUntil;
    return plan;
  };
  const bidWindowMs = input.bidWindowMs ?? DEFAULT_BID_WINDOW_MS;
  /** Announce, collect bids for the window (or until every invited agent bid), award the cheapest. */
  const placeByContractNet = async (attempt: number, exclude: string[]): Promise<Placement> => {
    const open: { attempt: number; invited?: string[]; bids: TaskBid[]; open: boolean } = { attempt, bids: [], open: true };
    call = open;
    const announced = await steps.announceTask({ spec, attempt, exclude, bidWindowMs });
    if (announced.reason !== undefined) {
      open.open = false;
      return { reason: announced.reason };
    }
    const invited = announced.invited;
    const kept = open.bids.filter((bid) => invited.includes(bid.agentId));
    if (kept.length < open.bids.length) state.bidsRefused = (state.bidsRefused ?? 0) + open.bids.length - kept.length;
    open.bids = kept;
    open.invited = invited;
    await condition(() => open.bids.length >= invited.length || cancelReason !== undefined, bidWindowMs);
    open.open = false;
    const award = awardBid(open.bids, spec.deadlineMs);
    if (!award) return { reason: `no bid within ${bidWindowMs} ms from the ${invited.length} agents invited` };
    await steps.reserveTask({ spec, agentId: award.agentId });
    return {
      agentId: award.agentId,
      expected: { energyWh: award.energyWh, carbonG: award.carbonG, slackS: (spec.deadlineMs - award.finishAtMs) / 1000 },
      bids: open.bids.length,
    };
  };
  setHandler(taskOutcomeSignal, (message) => {
    const attempt = current();
    const open = attempt && !attempt.outcome && outcome === undefined;
    if (!open || message.attempt !== attempt.attempt || message.agentId !== attempt.agentId) {
      if (message.outcome !== 'progress') state.duplicatesDiscarded += 1;
      return;
    }
    if (message.outcome !== 'progress') outcome = message;
  });
  setHandler(
    cancelTaskUpdate,
    ({ reason }) => {
      if (!TERMINAL.has(state.status)) {
        cancelReason = reason ?? 'cancelled';
        setStatus('CANCELLED');
        state.failureReason = cancelReason;
        const attempt = current();
        if (attempt && !attempt.outcome) Object.assign(attempt, { outcome: 'cancelled', reason: cancelReason });
      }
      return state;
    },
  );

  const tried: string[] = [];
  let lastReason = 'no attempt';
  for (let n = 1; n <= input.maxAttempts && cancelReason === undefined; n++) {
    let placement = contractNet ? await placeByContractNet(n, tried) : await steps.placeTask({ spec, exclude: tried });
    if (holdDeferrable) placement = await holdUntilPlannedStart(placement, tried);
    if (cancelReason !== undefined) break;
    if (!placement.agentId) {
      lastReason = `no agent can run it: ${placement.reason}`;
      // Agents may register or recover: wait a little before the next placement.
      if (n < input.maxAttempts) await condition(() => cancelReason !== undefined, Math.min(input.attemptTimeoutMs, 5_000));
      continue;
    }
    const attempt: TaskAttempt = { attempt: n, agentId: placement.agentId, assignedAt: new Date().toISOString(), expected: placement.expected };
    if (placement.bids !== undefined) attempt.bids = placement.bids;
    state.attempts.push(attempt);
    state.agentId = placement.agentId;
    setStatus('ASSIGNED');
    outcome = undefined;
    agentLost = undefined;
    if (memoAssignment) {
      const expectedFinishMs = spec.deadlineMs - placement.expected.slackS * 1000;
      upsertMemo({ assignment: { attempt: n, assignedAtMs: Date.now(), expectedFinishMs, deadlineMs: spec.deadlineMs } });
    }
    await steps.dispatchTask({ spec, attempt: n, agentId: placement.agentId });
    const answered = await condition(() => outcome !== undefined || cancelReason !== undefined || agentLost !== undefined, input.attemptTimeoutMs);
    attempt.endedAt = new Date().toISOString();
    if (cancelReason !== undefined) break;
    // Set by the signal handler while the condition waited (the compiler cannot see that).
    const lost = agentLost as { agentId: string; reason: string; moved?: boolean } | undefined;
    if (answered && outcome === undefined && lost) {
      Object.assign(attempt, { outcome: lost.moved ? 'moved' : 'lost', reason: lost.reason });
    } else if (!answered) {
      Object.assign(attempt, { outcome: 'timed-out', reason: `no answer within ${input.attemptTimeoutMs} ms` });
    } else if (outcome!.outcome === 'succeeded') {
      attempt.outcome = 'succeeded';
      Object.assign(state, {
        result: outcome!.result,
        finishedAt: attempt.endedAt,
        energyWh: attempt.expected?.energyWh,
        carbonG: attempt.expected?.carbonG,
      });
      setStatus('SUCCEEDED');
      await steps.releaseTask({ swarmId: spec.swarmId, taskId: spec.taskId, agentId: attempt.agentId });
      await condition(allHandlersFinished);
      return finished();
    } else {
      Object.assign(attempt, { outcome: outcome!.outcome, reason: outcome!.reason ?? outcome!.outcome });
    }
    lastReason = `attempt ${n} on ${attempt.agentId}: ${attempt.outcome} (${attempt.reason})`;
    tried.push(attempt.agentId);
    await steps.releaseTask({ swarmId: spec.swarmId, taskId: spec.taskId, agentId: attempt.agentId });
  }
  if (cancelReason === undefined) {
    setStatus('FAILED');
    state.failureReason = `${input.maxAttempts} attempts: last ${lastReason}`;
  } else if (state.agentId) {
    await steps.releaseTask({ swarmId: spec.swarmId, taskId: spec.taskId, agentId: state.agentId });
  }
  state.finishedAt = new Date().toISOString();
  await condition(allHandlersFinished);
  return finished();
}

/** Windows per run before continue-as-new keeps history small. */
const WINDOWS_PER_RUN = 100;

export async function taskResultsCollector(input: TaskResultsInput): Promise<void> {
  const collect = proxyActivities<TaskActivities>({
    startToCloseTimeout: input.windowMs + 30_000,
    heartbeatTimeout: Math.max(10_000, input.windowMs),
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  });
  for (let window = 0; window < WINDOWS_PER_RUN && !workflowInfo().continueAsNewSuggested; window++) {
    await collect.collectTaskOutcomes(input);
  }
  await continueAsNew<typeof taskResultsCollector>(input);
}

/** Tasks one rebalancing run looks at, at most. */
const REBALANCE_MAX_TASKS = 1000;
/** How far past its oldest task's expected finish an agent may run before its queue is judged, ms. */
const OVERLOAD_GRACE_MS = 5_000;
/** Tasks one rebalancing run moves off overloaded agents, at most (the rest wait for the next run). */
const OVERLOAD_MAX_MOVES = 200;

/**
 * taskRebalance (started by the swarm's rebalancing Schedule, overlap Skip): tasks
 * whose agent is no longer ACTIVE are told so and placed again at once, instead of
 * waiting out their attempt timeout; tasks queued behind an overloaded agent that
 * would miss their deadline there are withdrawn and placed elsewhere; HELD tasks
 * whose agent is gone are placed again.
 */
export async function taskRebalance(input: TaskRebalanceInput): Promise<TaskRebalanceResult> {
  const found = await acts.strandedTasks({ swarmId: input.swarmId, max: REBALANCE_MAX_TASKS });
  const moved: string[] = [];
  for (const task of found.stranded) {
    try {
      await getExternalWorkflowHandle(taskWorkflowId(task.taskId)).signal(taskAgentLostSignal, {
        agentId: task.agentId,
        reason: `agent ${task.agentId} is no longer ACTIVE (rebalancing)`,
      });
      moved.push(task.taskId);
    } catch {
      // The task ended between the listing and the signal: nothing to move.
    }
  }
  let overloaded: string[] | undefined;
  if (patched('rebalance-overloaded')) {
    // Queued work that would miss its deadline behind an overloaded agent: withdrawn from the
    // agent's inbox first (so the agent skips it), then moved.
    const { overdue } = await acts.overloadedTasks({ swarmId: input.swarmId, max: REBALANCE_MAX_TASKS, graceMs: OVERLOAD_GRACE_MS });
    const moving = overdue.slice(0, OVERLOAD_MAX_MOVES).map((task) => ({
      ...task,
      reason: `agent ${task.agentId} is ${task.behindS.toFixed(1)} s behind its plan: the task would finish ${task.lateByS.toFixed(1)} s late in its inbox (rebalancing)`,
    }));
    if (moving.length > 0) await acts.withdrawTasks({ swarmId: input.swarmId, tasks: moving });
    overloaded = [];
    for (const task of moving) {
      try {
        await getExternalWorkflowHandle(taskWorkflowId(task.taskId)).signal(taskAgentLostSignal, { agentId: task.agentId, reason: task.reason, moved: true });
        overloaded.push(task.taskId);
      } catch {
        // The task ended between the listing and the signal.
      }
    }
  }
  if (!patched('rebalance-held')) return { assigned: found.assigned, moved, ...(overloaded ? { overloaded } : {}) };
  // HELD tasks re-plan themselves on their own; only those whose agent is gone are told at once.
  const { held } = await acts.heldTasks({ swarmId: input.swarmId, max: REBALANCE_MAX_TASKS });
  const replanned: string[] = [];
  for (const task of held.filter((t) => !t.agentActive)) {
    try {
      await getExternalWorkflowHandle(taskWorkflowId(task.taskId)).signal(taskReplanSignal, {
        agentGone: true,
        reason: `agent ${task.agentId} is no longer ACTIVE (rebalancing)`,
      });
      replanned.push(task.taskId);
    } catch {
      // The task went to its agent or ended between the listing and the signal.
    }
  }
  return { assigned: found.assigned, moved, ...(overloaded ? { overloaded } : {}), replanned };
}
