// Behavior discovery behind the REST routes: report intake, on-demand sweeps,
// the sweep reports (kept by Temporal: each report is its sweep's result and
// memo) and skill search in the vector store.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { randomUUID } from 'node:crypto';
import { PageCursors } from './page-cursor';
import { signAsManager } from '../core/message-proof';
import type { CredentialClaims } from '../core/credentials';
import { behaviorCollection, skillCollection } from '../core/behaviors/collections';
import type { BehaviorMetric, BehaviorReportMessage, SweepParameters, SweepReport } from '../core/behaviors/types';
import { behaviorId, validateBehaviorReport } from '../core/behaviors/validation';
import { DomainError } from '../core/errors';
import { SwarmIdKey, SweepIdKey } from '../core/search-attributes';
import { swarmTopics } from '../core/topics';
import { isVectorStoreError, type MessagingPort, type VectorHit, type VectorPort } from '../adapters/ports';
import { BEHAVIOR_SWEEP_WORKFLOW, behaviorSweepWorkflowId } from '../workflows/definitions';
import type { BehaviorSweepInput, BehaviorSweepResult, SweepReportSummary } from '../workflows/behaviorSweep';

export interface BehaviorServiceOptions {
  namespace: string;
  taskQueue: string;
  dimension: number;
  metric: BehaviorMetric;
  /** The manager's secret: signs page cursors (a cursor this API did not hand out is a 400) and the reports it relays. */
  managerSecret: string;
}

export interface ReportAccepted {
  accepted: true;
  behaviorId: string;
  topic: string;
}

export interface SweepStarted {
  reportId: string;
  swarmId: string;
  workflowId: string;
}

export interface ReportPage {
  reports: SweepReportSummary[];
  nextCursor?: string;
}

export interface SkillHit {
  skillId: string;
  /** Distance from the query, descriptor-store units (squared L2 or 1 - cosine); smaller is closer. */
  distance: number;
  reportId: string;
  rank: number;
  meanFitness: number;
  size: number;
  agentCount: number;
  representativeBehaviorId: string;
  /** The strategy's centroid: what an agent adopting it aims for. */
  descriptor: number[];
}

export interface SkillSearchResult {
  swarmId: string;
  skills: SkillHit[];
}

export class BehaviorService {
  constructor(
    private readonly client: Client,
    private readonly messaging: MessagingPort,
    private readonly vectors: VectorPort,
    private readonly options: BehaviorServiceOptions,
  ) {
    this.cursors = new PageCursors(options.managerSecret);
  }

  private readonly cursors: PageCursors;

  /**
   * Puts an agent's report on its swarm's behaviors topic, with the agent's
   * credential, as an agent with messaging would. The sweep verifies it again
   * (it also reads reports that never passed through here).
   */
  async submitReport(
    claims: CredentialClaims,
    credential: string,
    body: { episodeId: string; descriptor: number[]; fitness: number; context?: Record<string, unknown>; timestamp?: number },
  ): Promise<ReportAccepted> {
    const report = { agentId: claims.sub, timestamp: Date.now(), ...body };
    const checked = validateBehaviorReport(report, this.options.dimension);
    if (!checked.ok) {
      const field = checked.field ?? 'body';
      throw new DomainError('INVALID_ARGUMENT', `${field}: ${checked.message}`, { field, reason: checked.reason });
    }
    const message: BehaviorReportMessage = { type: 'behavior', swarmId: claims.swarm, ...checked.value };
    const topic = swarmTopics(claims.swarm).behaviors;
    const payload = Buffer.from(JSON.stringify(message));
    const sentAt = Date.now();
    await this.messaging.publish(topic, payload, {
      key: claims.sub,
      properties: signAsManager(this.options.managerSecret, claims.sub, topic, {}, payload, sentAt),
    });
    return { accepted: true, behaviorId: behaviorId(claims.sub, body.episodeId), topic };
  }

  /** Starts a sweep of the swarm now; one sweep per swarm runs at a time. */
  async startSweep(request: { swarmId: string; parameters?: Partial<SweepParameters> }): Promise<SweepStarted> {
    const reportId = `sweep-${randomUUID()}`;
    const workflowId = behaviorSweepWorkflowId(request.swarmId);
    const input: BehaviorSweepInput = { swarmId: request.swarmId, reportId, parameters: request.parameters };
    try {
      await this.client.workflow.start(BEHAVIOR_SWEEP_WORKFLOW, {
        workflowId,
        taskQueue: this.options.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: SweepIdKey, value: reportId },
          { key: SwarmIdKey, value: request.swarmId },
        ],
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new DomainError('CONFLICT', `a sweep of swarm ${request.swarmId} is already running`);
      }
      throw error;
    }
    return { reportId, swarmId: request.swarmId, workflowId };
  }

  /** The newest completed report, of one swarm, of any of several, or of any. */
  async latest(swarmId?: string | string[]): Promise<SweepReport> {
    const page = await this.listExecutions(sweepsQuery(swarmId, true), 1);
    const newest = page.executions[0];
    if (!newest) {
      throw new DomainError(
        'NOT_FOUND',
        `${swarmId ? `no completed sweep of swarm ${swarmId}` : 'no completed sweep'} yet: sweeps run on the ` +
          'QP_BEHAVIOR_SWEEP_CRON schedule over the behavior reports agents post (POST /api/v1/behaviors/reports); ' +
          `start one now with POST /api/v1/behaviors/sweep {"swarmId": "${swarmId ?? '<id>'}"}`,
      );
    }
    return this.result(newest.workflowId, newest.runId);
  }

  /** Completed reports, newest first; pass nextCursor as cursor for the next page. */
  async list(filter: { swarmId?: string; limit: number; cursor?: string }): Promise<ReportPage> {
    const page = await this.listExecutions(sweepsQuery(filter.swarmId, true), filter.limit, filter.cursor);
    const reports: SweepReportSummary[] = [];
    for (const execution of page.executions) {
      if (execution.summary) reports.push(execution.summary);
    }
    return { reports, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  async get(reportId: string): Promise<SweepReport> {
    const page = await this.listExecutions(`WorkflowType = '${BEHAVIOR_SWEEP_WORKFLOW}' AND SweepId = '${reportId}'`, 1);
    const execution = page.executions[0];
    if (!execution) throw new DomainError('NOT_FOUND', `no report ${reportId}`);
    if (execution.status === 'RUNNING') throw new DomainError('NOT_FOUND', `report ${reportId}: the sweep is still running`);
    if (execution.status !== 'COMPLETED') {
      throw new DomainError('NOT_FOUND', `report ${reportId}: the sweep ended ${execution.status.toLowerCase()} without a report`);
    }
    return this.result(execution.workflowId, execution.runId);
  }

  /** Strategies of the swarm whose centroid is nearest a behavior (by id) or a vector. */
  async searchSkills(query: { swarmId: string; similarTo?: string; vector?: number[]; k: number }): Promise<SkillSearchResult> {
    let vector = query.vector;
    if (query.similarTo !== undefined) {
      const [record] = await this.orEmpty(() => this.vectors.get(behaviorCollection(query.swarmId), [query.similarTo!]), []);
      if (!record) throw new DomainError('NOT_FOUND', `no behavior ${query.similarTo} in swarm ${query.swarmId}`);
      vector = record.vector;
    }
    if (!vector || vector.length !== this.options.dimension) {
      throw new DomainError(
        'INVALID_ARGUMENT',
        `vector: has dimension ${vector?.length ?? 0}, the swarm's is ${this.options.dimension}`,
        { field: 'vector' },
      );
    }
    const collection = skillCollection(query.swarmId);
    const hits = await this.orEmpty<VectorHit[]>(() => this.vectors.search(collection, vector!, query.k), []);
    const descriptors = new Map(
      hits.length === 0 ? [] : (await this.vectors.get(collection, hits.map((hit) => hit.id))).map((r) => [r.id, r.vector]),
    );
    return {
      swarmId: query.swarmId,
      skills: hits.map((hit) => ({
        skillId: hit.id,
        distance: hit.distance,
        reportId: String(hit.fields.reportId ?? ''),
        rank: Number(hit.fields.rank ?? 0),
        meanFitness: Number(hit.fields.meanFitness ?? 0),
        size: Number(hit.fields.size ?? 0),
        agentCount: Number(hit.fields.agentCount ?? 0),
        representativeBehaviorId: String(hit.fields.representativeBehaviorId ?? ''),
        descriptor: descriptors.get(hit.id) ?? [],
      })),
    };
  }

  /** A swarm that has no behavior or skill collection yet has nothing to find. */
  private async orEmpty<T>(read: () => Promise<T>, empty: T): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (isVectorStoreError(error, 'COLLECTION_NOT_FOUND')) return empty;
      throw error;
    }
  }

  private async result(workflowId: string, runId: string): Promise<SweepReport> {
    const { report } = (await this.client.workflow.getHandle(workflowId, runId).result()) as BehaviorSweepResult;
    return report;
  }

  private async listExecutions(query: string, pageSize: number, cursor?: string) {
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.options.namespace,
      pageSize,
      nextPageToken: cursor === undefined ? undefined : this.cursors.open(query, cursor, 'cursor'),
      query,
    });
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    const executions = (response.executions ?? []).map((execution) => {
      const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
      const memo = execution.memo?.fields?.summary;
      return {
        workflowId: execution.execution?.workflowId ?? '',
        runId: execution.execution?.runId ?? '',
        reportId: String((attributes[SweepIdKey.name] as unknown[] | undefined)?.[0] ?? ''),
        status: statusName(execution.status),
        summary: memo ? (converter.fromPayload(memo) as SweepReportSummary) : undefined,
      };
    });
    const token = response.nextPageToken;
    return { executions, nextCursor: token && token.length > 0 ? this.cursors.seal(query, token) : undefined };
  }
}

function sweepsQuery(swarmId: string | string[] | undefined, completedOnly: boolean): string {
  // Swarm ids are validated against ID_PATTERN before they reach here.
  const clauses = [`WorkflowType = '${BEHAVIOR_SWEEP_WORKFLOW}'`];
  if (typeof swarmId === 'string') clauses.push(`SwarmId = '${swarmId}'`);
  if (Array.isArray(swarmId)) clauses.push(`SwarmId IN (${swarmId.map((id) => `'${id}'`).join(', ')})`);
  if (completedOnly) clauses.push(`ExecutionStatus = 'Completed'`);
  return clauses.join(' AND ');
}

/** WorkflowExecutionStatus numbers (temporal.api.enums.v1) to names. */
function statusName(status: number | null | undefined): string {
  return (
    ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT'][status ?? 0] ??
    'UNSPECIFIED'
  );
}
