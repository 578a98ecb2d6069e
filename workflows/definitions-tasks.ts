// Signals, queries and updates of task delegation; the API imports these too.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { TaskBidMessage, TaskOutcomeMessage, TaskSpec, TaskState } from '../core/tasks';

export const TASK_DELEGATION_WORKFLOW = 'taskDelegation';
export const TASK_RESULTS_WORKFLOW = 'taskResultsCollector';

/** One workflow per task: submitting the same taskId twice reaches the same execution. */
export const taskWorkflowId = (taskId: string): string => `task-${taskId}`;
/** One results collector per swarm: consumes the swarm's task-results topic. */
export const taskResultsWorkflowId = (swarmId: string): string => `task-results-${swarmId}`;

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
