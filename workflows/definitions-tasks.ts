// Signals, queries and updates of task delegation; the API imports these too.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TaskBidMessage, TaskOutcomeMessage, TaskSpec, TaskState } from '../core/tasks';

export const TASK_DELEGATION_WORKFLOW = 'taskDelegation';
export const TASK_RESULTS_WORKFLOW = 'taskResultsCollector';
export const TASK_REBALANCE_WORKFLOW = 'taskRebalance';

/** One workflow per task: submitting the same taskId twice reaches the same execution. */
export const taskWorkflowId = (taskId: string): string => `task-${taskId}`;
/** One results collector per swarm: consumes the swarm's task-results topic. */
export const taskResultsWorkflowId = (swarmId: string): string => `task-results-${swarmId}`;

/** A HELD task places itself again this often while it waits (work, agents and forecasts change), ms. */
export const HELD_REPLAN_INTERVAL_MS = 10 * 60_000;

export interface TaskDelegationInput {
  spec: TaskSpec;
  /** Placements tried at most before the task FAILS. */
  maxAttempts: number;
  /** How long one placement may stay unanswered before the task is reallocated, ms. */
  attemptTimeoutMs: number;
  /** ISO instant of submission. */
  submittedAt: string;
  /** Contract Net: how long an announcement collects bids, ms (default 2,000). */
  bidWindowMs?: number;
}

/** The per-swarm rebalancing Schedule (and the id of the runs it starts). */
export const taskRebalanceScheduleId = (swarmId: string): string => `task-rebalance-${swarmId}`;

export interface TaskRebalanceInput {
  swarmId: string;
}

export interface TaskRebalanceResult {
  /** Tasks found ASSIGNED, and those of them whose agent is no longer ACTIVE and were told to move. */
  assigned: number;
  moved: string[];
  /** ASSIGNED tasks moved off agents so far behind their plan that the tasks would miss their deadlines. */
  overloaded?: string[];
  /** HELD tasks told to be placed again (their agent is gone, or work and forecasts changed since they were planned). */
  replanned?: string[];
}

export interface TaskResultsInput {
  swarmId: string;
  /** How long one consuming activity listens, ms. */
  windowMs: number;
}

export const taskOutcomeSignal = defineSignal<[TaskOutcomeMessage]>('taskOutcome');
export const taskStateQuery = defineQuery<TaskState>('taskState');
export const cancelTaskUpdate = defineUpdate<TaskState, [{ reason?: string }]>('cancelTask');
/** Contract Net: a verified bid for the task, from the swarm's results collector. */
export const taskBidSignal = defineSignal<[TaskBidMessage]>('taskBid');
/** Rebalancing: the agent of the task's open attempt is no longer ACTIVE; the task ends that attempt as lost and is placed again. */
export const taskAgentLostSignal = defineSignal<[{ agentId: string; reason: string; /** The agent is ACTIVE but overloaded: the attempt ends as moved. */ moved?: boolean }]>('taskAgentLost');
/**
 * Rebalancing: place the HELD task again before it goes to an agent. `agentGone`: its
 * planned agent is no longer ACTIVE (always honoured); otherwise a routine re-plan
 * (honoured a bounded number of times, so a long hold keeps its history small).
 */
export const taskReplanSignal = defineSignal<[{ reason: string; agentGone: boolean }]>('taskReplan');
