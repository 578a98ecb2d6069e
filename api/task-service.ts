// Delegated tasks behind the REST routes: submit (idempotent by taskId), read, cancel.
import { queryString } from '../adapters/temporal/visibility';
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { AgentIdKey, SwarmIdKey, TaskStatusKey } from '../core/search-attributes';
import type { TaskSpec, TaskState, TaskStatus } from '../core/tasks';
import { PageCursors } from './page-cursor';
import {
  TASK_DELEGATION_WORKFLOW,
  TASK_REBALANCE_WORKFLOW,
  TASK_RESULTS_WORKFLOW,
  taskRebalanceScheduleId,
  cancelTaskUpdate,
  taskResultsWorkflowId,
  taskStateQuery,
  taskWorkflowId,
  type TaskDelegationInput,
} from '../workflows/definitions-tasks';
import type { TaskSubmission } from './task-schemas';

export interface TaskServiceOptions {
  namespace: string;
  taskQueue: string;
  /** Signs the listing's page cursors. */
  cursorSecret: string;
  maxAttempts: number;
  attemptTimeoutMs: number;
  /** Contract Net: how long an announcement collects bids, ms. */
  bidWindowMs?: number;
  resultsWindowMs: number;
  /** Seconds between runs of each swarm's rebalancing Schedule; 0 or unset: no Schedule. */
  rebalanceIntervalS?: number;
}

export interface TaskAccepted {
  taskId: string;
  swarmId: string;
  workflowId: string;
  /** False when a task with this id was already submitted (the call changed nothing). */
  created: boolean;
}

/** One task in a listing: what visibility holds, without asking the task's workflow. */
export interface TaskSummary {
  taskId: string;
  swarmId: string;
  kind: string;
  status: TaskStatus;
  /** The agent of the latest attempt, once placed. */
  agentId?: string;
  submittedAt: string;
  /** When the workflow ended, for ended tasks. */
  closedAt?: string;
}

export interface TaskPage {
  tasks: TaskSummary[];
  nextPageToken?: string;
}

export class TaskService {
  private readonly collectors = new Set<string>();
  private readonly cursors: PageCursors;

  constructor(
    private readonly client: Client,
    private readonly options: TaskServiceOptions,
  ) {
    this.cursors = new PageCursors(options.cursorSecret);
  }

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
      ...(spec.allocation === 'contract-net' && this.options.bidWindowMs !== undefined ? { bidWindowMs: this.options.bidWindowMs } : {}),
      submittedAt: new Date(nowMs).toISOString(),
    };
    const workflowId = taskWorkflowId(spec.taskId);
    try {
      await this.client.workflow.start(TASK_DELEGATION_WORKFLOW, {
        taskQueue: this.options.taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [
          { key: SwarmIdKey, value: spec.swarmId },
          { key: TaskStatusKey, value: 'QUEUED' },
        ],
        memo: { kind: spec.kind },
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

  /** This deployment's tasks, newest first, filtered by swarm, status and the agent of the latest attempt. */
  async list(filter: { swarmId?: string; status?: TaskStatus; agentId?: string; pageSize: number; pageToken?: string }): Promise<TaskPage> {
    const query = this.query(filter);
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.options.namespace,
      pageSize: filter.pageSize,
      nextPageToken: filter.pageToken === undefined ? undefined : this.cursors.open(query, filter.pageToken, 'pageToken'),
      query,
    });
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    const tasks = (response.executions ?? []).map((execution): TaskSummary => {
      const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
      const first = (name: string): string | undefined => (attributes[name] as unknown[] | undefined)?.[0] as string | undefined;
      const kind = execution.memo?.fields?.kind;
      const closed = execution.closeTime?.seconds;
      return {
        taskId: (execution.execution?.workflowId ?? '').replace(/^task-/, ''),
        swarmId: first(SwarmIdKey.name) ?? '',
        kind: kind ? String(converter.fromPayload(kind)) : '',
        status: (first(TaskStatusKey.name) ?? 'QUEUED') as TaskStatus,
        agentId: first(AgentIdKey.name),
        submittedAt: new Date(Number(execution.startTime?.seconds ?? 0) * 1000).toISOString(),
        closedAt: closed === undefined || closed === null ? undefined : new Date(Number(closed) * 1000).toISOString(),
      };
    });
    const token = response.nextPageToken;
    return { tasks, nextPageToken: token && token.length > 0 ? this.cursors.seal(query, token) : undefined };
  }

  /** This deployment's tasks in `status`; ended ones as long as the namespace retains them. */
  async count(status: TaskStatus): Promise<number> {
    return (await this.client.workflow.count(this.query({ status }))).count;
  }

  private query(filter: { swarmId?: string; status?: TaskStatus; agentId?: string }): string {
    // Ids are validated against their patterns and the status against the enum before they reach here.
    const clauses = [`WorkflowType = '${TASK_DELEGATION_WORKFLOW}'`, `TaskQueue = ${queryString(this.options.taskQueue)}`];
    if (filter.swarmId) clauses.push(`SwarmId = '${filter.swarmId}'`);
    if (filter.status) clauses.push(`TaskStatus = '${filter.status}'`);
    if (filter.agentId) clauses.push(`AgentId = '${filter.agentId}'`);
    return clauses.join(' AND ');
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
    if (this.options.rebalanceIntervalS) await this.ensureRebalanceSchedule(swarmId, this.options.rebalanceIntervalS);
    this.collectors.add(swarmId);
  }

  /** The swarm's rebalancing Schedule (overlap Skip): moves tasks away from agents no longer ACTIVE. */
  private async ensureRebalanceSchedule(swarmId: string, everyS: number): Promise<void> {
    try {
      await this.client.schedule.create({
        scheduleId: taskRebalanceScheduleId(swarmId),
        spec: { intervals: [{ every: `${everyS}s` }] },
        action: {
          type: 'startWorkflow',
          workflowType: TASK_REBALANCE_WORKFLOW,
          workflowId: taskRebalanceScheduleId(swarmId),
          taskQueue: this.options.taskQueue,
          args: [{ swarmId }],
          workflowExecutionTimeout: '5 minutes',
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      });
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    }
  }
}
