// Delegated tasks behind the REST routes: submit (idempotent by taskId), read, cancel.
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { SwarmIdKey } from '../core/search-attributes';
import type { TaskSpec, TaskState } from '../core/tasks';
import {
  TASK_DELEGATION_WORKFLOW,
  TASK_RESULTS_WORKFLOW,
  cancelTaskUpdate,
  taskResultsWorkflowId,
  taskStateQuery,
  taskWorkflowId,
  type TaskDelegationInput,
} from '../workflows/definitions-tasks';
import type { TaskSubmission } from './task-schemas';

export interface TaskServiceOptions {
  taskQueue: string;
  maxAttempts: number;
  attemptTimeoutMs: number;
  resultsWindowMs: number;
}

export interface TaskAccepted {
  taskId: string;
  swarmId: string;
  workflowId: string;
  /** False when a task with this id was already submitted (the call changed nothing). */
  created: boolean;
}

export class TaskService {
  private readonly collectors = new Set<string>();

  constructor(
    private readonly client: Client,
    private readonly options: TaskServiceOptions,
  ) {}

  async submit(submission: TaskSubmission, nowMs = Date.now()): Promise<TaskAccepted> {
    const spec: TaskSpec = {
      taskId: submission.taskId ?? randomUUID(),
      swarmId: submission.swarmId,
      kind: submission.kind,
      input: submission.input,
      requirements: submission.requirements,
      estimatedWork: submission.estimatedWork,
      deadlineMs: typeof submission.deadline === 'number' ? nowMs + submission.deadline : Date.parse(submission.deadline),
      priority: submission.priority,
      deferrable: submission.deferrable,
      allocation: submission.allocation,
    };
    await this.ensureCollector(spec.swarmId);
    const input: TaskDelegationInput = {
      spec,
      maxAttempts: this.options.maxAttempts,
      attemptTimeoutMs: this.options.attemptTimeoutMs,
      submittedAt: new Date(nowMs).toISOString(),
    };
    const workflowId = taskWorkflowId(spec.taskId);
    try {
      await this.client.workflow.start(TASK_DELEGATION_WORKFLOW, {
        taskQueue: this.options.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [{ key: SwarmIdKey, value: spec.swarmId }],
        // A task id names one task forever: resubmitting it, even after it ended, changes nothing.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const existing = await this.client.workflow.getHandle(workflowId).describe();
      if (existing.typedSearchAttributes.get(SwarmIdKey) !== spec.swarmId) {
        throw new DomainError('CONFLICT', `task ${spec.taskId} already exists in another swarm`, { field: 'taskId' });
      }
      return { taskId: spec.taskId, swarmId: spec.swarmId, workflowId, created: false };
    }
    return { taskId: spec.taskId, swarmId: spec.swarmId, workflowId, created: true };
  }

  async get(taskId: string): Promise<TaskState> {
    try {
      return await this.client.workflow.getHandle(taskWorkflowId(taskId)).query(taskStateQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new DomainError('NOT_FOUND', `no task ${taskId}`);
      throw error;
    }
  }

  async cancel(taskId: string, reason?: string): Promise<TaskState> {
    const state = await this.get(taskId);
    if (state.status === 'SUCCEEDED' || state.status === 'FAILED') {
      throw new DomainError('CONFLICT', `task ${taskId} has already ended ${state.status}`);
    }
    if (state.status === 'CANCELLED') return state;
    return this.client.workflow.getHandle(taskWorkflowId(taskId)).executeUpdate(cancelTaskUpdate, { args: [{ reason }] });
  }

  /** The swarm's results collector runs once per swarm; started with the swarm's first task. */
  private async ensureCollector(swarmId: string): Promise<void> {
    if (this.collectors.has(swarmId)) return;
    await this.client.workflow.start(TASK_RESULTS_WORKFLOW, {
      taskQueue: this.options.taskQueue,
      workflowId: taskResultsWorkflowId(swarmId),
      args: [{ swarmId, windowMs: this.options.resultsWindowMs }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    this.collectors.add(swarmId);
  }
}
