// What the status page shows: swarms and their agents, the latest tuning jobs with
// accuracy per round, tasks by status, the latest decisions, the latest behaviour
// report, and where to look in the Temporal Web UI. Aggregates only (counts, ids, accuracies), like /metrics: no credential,
// profile or model leaves through it.
import { queryString } from '../adapters/temporal/visibility';
import type { Client } from '@temporalio/client';
import { AGENT_STATUSES, type AgentStatus } from '../core/agents';
import { DomainError } from '../core/errors';
import type { TuningProgress, TuningStatus } from '../core/tuning';
import { TUNING_WORKFLOW, decisionWorkflowId, tuningProgressQuery } from '../workflows/definitions';
import { TASK_STATUSES, type TaskStatus } from '../core/tasks';
import type { BehaviorService } from './behavior-service';
import type { DecisionService } from './decision-service';
import type { SwarmService } from './swarm-service';
import type { TaskService } from './task-service';

/** Swarms listed on the page at most (each costs a visibility count per agent status). */
export const STATUS_SWARMS = 10;
/** Tuning jobs listed, newest first. */
export const STATUS_JOBS = 5;
/** Decisions listed, newest first. */
export const STATUS_DECISIONS = 5;

export interface SwarmStatus {
  swarmId: string;
  /** The swarm's agents of this task queue by status (FAILED and DEREGISTERED within the namespace's retention). */
  agents: Record<AgentStatus, number>;
}

export interface JobStatus {
  jobId: string;
  swarmId: string;
  status: TuningStatus | 'UNKNOWN';
  round: number;
  rounds: number;
  /** Test accuracy (0..1) per recent round, null where the round did not evaluate. */
  accuracy: { round: number; accuracy: number | null }[];
  workflowUrl: string;
}

export interface StatusSummary {
  generatedAt: string;
  namespace: string;
  taskQueue: string;
  temporalUi: string;
  /** This task queue's agents by status, over every swarm (also those beyond the STATUS_SWARMS listed). */
  agents: Record<AgentStatus, number>;
  swarms: SwarmStatus[];
  jobs: JobStatus[];
  /** This task queue's tasks by status (ended ones within the namespace's retention); null when visibility did not answer. */
  tasks: Record<TaskStatus, number> | null;
  /** The newest decisions, with their state; null when visibility did not answer. */
  decisions: { decisionId: string; swarmId: string; state: string; title: string; workflowUrl: string }[] | null;
  behaviorReport: {
    reportId: string;
    swarmId: string;
    finishedAt: string;
    counts: Record<string, number>;
    strategies: { strategyId: string; rank: number; size: number; meanFitness: number; disseminated: boolean }[];
  } | null;
}

export class StatusService {
  constructor(
    private readonly client: Client,
    private readonly swarm: SwarmService,
    private readonly behaviors: BehaviorService,
    private readonly work: { tasks: TaskService; decisions: DecisionService },
    private readonly options: { namespace: string; taskQueue: string; tuningTaskQueue?: string; temporalUi: string },
  ) {}

  async summary(): Promise<StatusSummary> {
    const [agents, swarms, jobs, tasks, decisions] = await Promise.all([
      this.agentTotals(),
      this.swarms(),
      this.jobs(),
      this.taskTotals(),
      this.latestDecisions(),
    ]);
    const behaviorReport = await this.latestReport(swarms.map((s) => s.swarmId));
    return {
      generatedAt: new Date().toISOString(),
      namespace: this.options.namespace,
      taskQueue: this.options.taskQueue,
      temporalUi: this.workflowsUrl(),
      agents,
      swarms,
      jobs,
      tasks,
      decisions,
      behaviorReport,
    };
  }

  /** The Web UI's page of one workflow, or of the namespace's workflows. */
  workflowsUrl(workflowId?: string): string {
    const base = `${this.options.temporalUi.replace(/\/$/, '')}/namespaces/${encodeURIComponent(this.options.namespace)}/workflows`;
    return workflowId ? `${base}/${encodeURIComponent(workflowId)}` : base;
  }

  private async agentTotals(): Promise<Record<AgentStatus, number>> {
    return this.agentsByStatus();
  }

  /** Agents of this task queue (one swarm's, or every swarm's) by status: one visibility count per status. */
  private async agentsByStatus(swarmId?: string): Promise<Record<AgentStatus, number>> {
    const counts = await Promise.all(AGENT_STATUSES.map((status) => this.swarm.countAgents(status, swarmId, 'task-queue')));
    return Object.fromEntries(AGENT_STATUSES.map((status, i) => [status, counts[i]])) as Record<AgentStatus, number>;
  }

  private async taskTotals(): Promise<Record<TaskStatus, number> | null> {
    try {
      const counts = await Promise.all(TASK_STATUSES.map((status) => this.work.tasks.count(status)));
      return Object.fromEntries(TASK_STATUSES.map((status, i) => [status, counts[i]])) as Record<TaskStatus, number>;
    } catch {
      return null;
    }
  }

  private async latestDecisions(): Promise<StatusSummary['decisions']> {
    try {
      const decisions = await this.work.decisions.list({ pageSize: STATUS_DECISIONS });
      return decisions.slice(0, STATUS_DECISIONS).map((d) => ({ ...d, workflowUrl: this.workflowsUrl(decisionWorkflowId(d.decisionId)) }));
    } catch {
      return null;
    }
  }

  private async swarms(): Promise<SwarmStatus[]> {
    const ids = await this.swarm.liveSwarms(STATUS_SWARMS);
    return Promise.all(ids.sort().map(async (swarmId) => ({ swarmId, agents: await this.agentsByStatus(swarmId) })));
  }

  private async jobs(): Promise<JobStatus[]> {
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.options.namespace,
      pageSize: STATUS_JOBS,
      // Jobs on the tuning queue, and those started on the general one before it existed (or by a decision).
      query: `WorkflowType = '${TUNING_WORKFLOW}' AND TaskQueue IN (${[...new Set([this.options.taskQueue, this.options.tuningTaskQueue ?? this.options.taskQueue])].map(queryString).join(', ')})`,
    });
    return Promise.all(
      (response.executions ?? []).slice(0, STATUS_JOBS).map(async (execution): Promise<JobStatus> => {
        const workflowId = execution.execution?.workflowId ?? '';
        const jobId = workflowId.replace(/^tuning-/, '');
        const workflowUrl = this.workflowsUrl(workflowId);
        try {
          const progress: TuningProgress = await this.client.workflow.getHandle(workflowId).query(tuningProgressQuery);
          return {
            jobId,
            swarmId: progress.swarmId,
            status: progress.status,
            round: progress.round,
            rounds: progress.rounds,
            accuracy: progress.recentRounds.map((r) => ({ round: r.round, accuracy: r.accuracy ?? null })),
            workflowUrl,
          };
        } catch {
          // A job whose history cannot be queried (no worker for it) still gets its line and link.
          return { jobId, swarmId: '', status: 'UNKNOWN', round: 0, rounds: 0, accuracy: [], workflowUrl };
        }
      }),
    );
  }

  /** The newest report of the swarms on the page (none listed: none shown). */
  private async latestReport(swarmIds: string[]): Promise<StatusSummary['behaviorReport']> {
    if (swarmIds.length === 0) return null;
    try {
      const report = await this.behaviors.latest(swarmIds);
      return {
        reportId: report.reportId,
        swarmId: report.swarmId,
        finishedAt: report.finishedAt,
        counts: { ...report.counts },
        strategies: report.strategies.map(({ strategyId, rank, size, meanFitness, disseminated }) => ({
          strategyId,
          rank,
          size,
          meanFitness,
          disseminated: disseminated === true,
        })),
      };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }
}
