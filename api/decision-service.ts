// Collaborative decisions behind the REST routes: open, read, list, vote, ballots, cancel.
import { queryString } from '../adapters/temporal/visibility';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { randomUUID, type KeyObject } from 'node:crypto';
import { parseAgentPublicKey } from '../core/credentials';
import { ballotSignatureValid } from '../core/decisions/ballot';
import { choiceProblem } from '../core/decisions/choice';
import type { DecisionStatus } from '../core/decisions/status';
import { decisionTopic } from '../core/decisions/topics';
import { BASIC_OPTIONS, type AcceptedBallot, type Ballot, type DecisionSpec, type DecisionState } from '../core/decisions/types';
import { DomainError } from '../core/errors';
import { DecisionStateKey, JobIdKey, SwarmIdKey } from '../core/search-attributes';
import type { TuningJobSpec } from '../core/tuning';
import type { AgentKeyDirectory, BlobStore, MessagingPort, ReputationSource } from '../adapters/ports';
import {
  DECISION_WORKFLOW,
  cancelDecisionUpdate,
  decisionStatusQuery,
  decisionWorkflowId,
} from '../workflows/definitions';
import type { CollaborativeDecisionInput } from '../workflows/decision';
import { rebalanceActionSpecSchema, type DecisionCreateRequest } from './decision-schemas';
import { tuningStartSchema } from './schemas';
import { taskBatchSchema } from './task-schemas';
import type { ZodError } from 'zod';
import { fromZod } from './errors';
import { workflowCallError } from './temporal-errors';

/** A decision action's spec once validated: as the workflow gets it, or a task batch still to store. */
type ValidActionSpec = { spec: Record<string, unknown> } | { tasks: Array<Record<string, unknown>> };

/** A 400 naming action.spec.<path>, array positions in brackets (action.spec.tasks[3].deadline). */
function actionSpecError(error: ZodError): DomainError {
  const issue = error.issues[0];
  const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('');
  const field = `action.spec${path}`;
  return new DomainError('INVALID_ARGUMENT', `${field}: ${issue.message}`, { field });
}

export interface DecisionView extends DecisionStatus {
  /** Until the deadline, ms (0 once it has passed). */
  timeLeftMs: number;
  turnoutVsQuorum: { turnout: number; quorumPower?: number; reached: boolean; eligibleVoters?: number; totalPower?: number };
}

export interface DecisionSummary {
  decisionId: string;
  swarmId: string;
  state: DecisionState;
  title: string;
}

export class DecisionService {
  /** Accepted ballots by chunk digest: chunks never change once written. */
  private readonly chunks = new Map<string, AcceptedBallot[]>();
  private readonly snapshots = new Map<string, Record<string, number>>();
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    private readonly client: Client,
    private readonly messaging: MessagingPort,
    private readonly blobs: BlobStore,
    private readonly agentKeys: AgentKeyDirectory,
    private readonly options: {
      namespace: string;
      taskQueue: string;
      /**
       * Reputation an agent of the swarm needs to propose (0: any agent), its own where it set one,
       * else QP_DECISION_PROPOSAL_THRESHOLD; without it, 0. Admins always may.
       */
      thresholdOf?: (swarmId: string) => Promise<number>;
      /** Where an agent's reputation comes from, when a threshold is set. */
      reputation?: ReputationSource;
    },
  ) {}

  /**
   * An agent proposes only with at least the swarm's proposal threshold (its own, else
   * QP_DECISION_PROPOSAL_THRESHOLD) of reputation in the swarm
   * (its tasks there that SUCCEEDED with it on the latest attempt, plus its accepted federated
   * round updates); otherwise 403, reason below-proposal-threshold.
   */
  async requireProposalStanding(swarmId: string, agentId: string): Promise<void> {
    const threshold = this.options.thresholdOf ? await this.options.thresholdOf(swarmId) : 0;
    if (threshold <= 0) return;
    if (!this.options.reputation) throw new DomainError('UNAVAILABLE', 'no reputation source to check the proposal threshold with');
    const reputation = await this.options.reputation.scoreOf(swarmId, agentId);
    if (reputation < threshold) {
      throw new DomainError(
        'FORBIDDEN',
        `agent ${agentId} has reputation ${reputation} in swarm ${swarmId}; proposing takes at least ${threshold} (tasks it completed + accepted round updates)`,
        { reason: 'below-proposal-threshold' },
      );
    }
  }

  /**
   * Opens a decision. The whole request is validated first (400 naming the field), then `authorize`
   * runs (an agent's proposal standing: 403), and only then is anything stored or started.
   */
  async create(
    request: DecisionCreateRequest,
    proposer: string,
    authorize?: () => Promise<void>,
  ): Promise<{ decisionId: string; workflowId: string; state: DecisionState }> {
    const decisionId = request.decisionId ?? randomUUID();
    const actionSpec = request.action && this.validActionSpec(request.action, request.swarmId, decisionId);
    await authorize?.();
    const spec: DecisionSpec = {
      ...request,
      decisionId,
      options: request.system === 'basic' ? [...BASIC_OPTIONS] : (request.options as string[]),
      proposer,
      action: request.action && actionSpec && { ...request.action, spec: await this.storedActionSpec(actionSpec) },
    };
    const workflowId = decisionWorkflowId(decisionId);
    const input: CollaborativeDecisionInput = { spec };
    try {
      await this.client.workflow.start(DECISION_WORKFLOW, {
        workflowId,
        taskQueue: this.options.taskQueue,
        args: [input],
        memo: { title: spec.title },
        typedSearchAttributes: [
          { key: JobIdKey, value: decisionId },
          { key: SwarmIdKey, value: spec.swarmId },
          { key: DecisionStateKey, value: 'PENDING' },
        ],
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new DomainError('CONFLICT', `decision ${decisionId} already exists`);
      throw error;
    }
    return { decisionId, workflowId, state: 'PENDING' };
  }

  /** An action's spec, validated as its own route would (400 naming action.spec.<field>); nothing is stored yet. */
  private validActionSpec(action: NonNullable<DecisionCreateRequest['action']>, swarmId: string, decisionId: string): ValidActionSpec {
    switch (action.kind) {
      case 'tuning':
        return { spec: this.tuningSpec(action.spec, swarmId, decisionId) as unknown as Record<string, unknown> };
      case 'rebalance': {
        const parsed = rebalanceActionSpecSchema.safeParse(action.spec);
        if (!parsed.success) throw actionSpecError(parsed.error);
        return { spec: {} };
      }
      case 'tasks':
        return { tasks: this.taskBatch(action.spec, swarmId, decisionId) };
    }
  }

  /** What the workflow gets of a valid action's spec: a task batch goes to the blob store and the workflow carries its digest. */
  private async storedActionSpec(valid: ValidActionSpec): Promise<Record<string, unknown>> {
    if (!('tasks' in valid)) return valid.spec;
    const digest = await this.blobs.put(Buffer.from(JSON.stringify(valid.tasks)));
    return { digest, tasks: valid.tasks.length };
  }

  /**
   * A task batch (the body of POST /tasks/batch) for the decision's own swarm. Tasks without an
   * id get decision-<decisionId>-<index>, so that the ids are known before they start and a
   * retried start starts nothing twice.
   */
  private taskBatch(body: Record<string, unknown>, swarmId: string, decisionId: string): Array<Record<string, unknown>> {
    const parsed = taskBatchSchema.safeParse(body);
    if (!parsed.success) throw actionSpecError(parsed.error);
    parsed.data.tasks.forEach((task, i) => {
      if (task.swarmId !== swarmId) {
        const field = `action.spec.tasks[${i}].swarmId`;
        throw new DomainError('INVALID_ARGUMENT', `${field}: a decision starts tasks in its own swarm (${swarmId}) only`, { field });
      }
    });
    return parsed.data.tasks.map((task, i) => ({ ...task, taskId: task.taskId ?? `decision-${decisionId}-${i}` }));
  }

  /** The tuning job a decision starts on success: the body of POST /tuning/start, its defaults filled. */
  private tuningSpec(body: Record<string, unknown>, swarmId: string, decisionId: string): TuningJobSpec {
    const parsed = tuningStartSchema.safeParse(body);
    if (!parsed.success) {
      const error = fromZod(parsed.error, 'body');
      const field = `action.spec.${String(error.details?.field)}`;
      throw new DomainError('INVALID_ARGUMENT', `${field}: ${parsed.error.issues[0].message}`, { field });
    }
    return { ...parsed.data, swarmId: parsed.data.swarmId ?? swarmId, jobId: parsed.data.jobId ?? `decision-${decisionId}` } as TuningJobSpec;
  }

  async status(decisionId: string): Promise<DecisionStatus> {
    try {
      return await this.client.workflow.getHandle(decisionWorkflowId(decisionId)).query(decisionStatusQuery);
    } catch (error) {
      throw await this.domainError(error, decisionId);
    }
  }

  view(status: DecisionStatus, now = Date.now()): DecisionView {
    return {
      ...status,
      timeLeftMs: status.state === 'PENDING' || status.state === 'ACTIVE' ? Math.max(0, status.closesAt - now) : 0,
      turnoutVsQuorum: {
        turnout: status.tally.turnout,
        quorumPower: status.quorumPower,
        reached: status.quorumPower !== undefined && status.tally.turnout >= status.quorumPower && status.tally.ballots > 0,
        eligibleVoters: status.snapshot?.voters,
        totalPower: status.snapshot?.totalPower,
      },
    };
  }

  /** This deployment's decisions still open: PENDING or ACTIVE. */
  async countOpen(): Promise<number> {
    const query = `WorkflowType = '${DECISION_WORKFLOW}' AND TaskQueue = ${queryString(this.options.taskQueue)} AND ExecutionStatus = 'Running' AND DecisionState IN ('PENDING', 'ACTIVE')`;
    return (await this.client.workflow.count(query)).count;
  }

  async list(filter: { swarmId?: string; state?: DecisionState; pageSize: number }): Promise<DecisionSummary[]> {
    // Ids and states are validated (ID_PATTERN, the enum) before they reach the query.
    const clauses = [`WorkflowType = '${DECISION_WORKFLOW}'`];
    if (filter.swarmId) clauses.push(`SwarmId = '${filter.swarmId}'`);
    if (filter.state) clauses.push(`DecisionState = '${filter.state}'`);
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.options.namespace,
      pageSize: filter.pageSize,
      query: clauses.join(' AND '),
    });
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    return (response.executions ?? [])
      .filter((execution) => execution.status !== 6 /* CONTINUED_AS_NEW: its successor is listed */)
      .map((execution) => {
        const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
        const first = (name: string) => String((attributes[name] as unknown[] | undefined)?.[0] ?? '');
        const title = execution.memo?.fields?.title;
        return {
          decisionId: first(JobIdKey.name),
          swarmId: first(SwarmIdKey.name),
          state: first(DecisionStateKey.name) as DecisionState,
          title: title ? String(converter.fromPayload(title)) : '',
        };
      });
  }

  /**
   * Checks a ballot as far as the API can (state, signature, electorate,
   * choice, an earlier counted ballot) and puts it on the decision's topic;
   * the counting activity checks it again and decides.
   */
  async vote(decisionId: string, ballot: Ballot, swarmId: string): Promise<{ queued: true; ballotTopic: string }> {
    const status = await this.status(decisionId);
    if (status.swarmId !== swarmId) throw new DomainError('FORBIDDEN', `decision ${decisionId} belongs to another swarm`, { reason: 'ineligible' });
    if (status.state !== 'ACTIVE' || Date.now() >= status.closesAt) {
      const late = status.state !== 'PENDING';
      throw new DomainError('CONFLICT', `decision ${decisionId} is ${status.state}${late ? ': voting has closed' : ': voting has not opened'}`, {
        reason: late ? 'late' : 'not-open',
      });
    }
    const pem = await this.agentKeys.publicKey(swarmId, ballot.agentId);
    const key = pem ? this.keyOf(pem) : undefined;
    if (!key || !ballotSignatureValid(ballot, key)) {
      throw new DomainError('BAD_SIGNATURE', 'the ballot signature does not verify with the agent\'s registration key', { reason: 'forged' });
    }
    const powers = await this.snapshot(status);
    if (powers[ballot.agentId] === undefined) {
      throw new DomainError('FORBIDDEN', `agent ${ballot.agentId} is not in the electorate snapshotted when voting opened`, { reason: 'ineligible' });
    }
    const problem = choiceProblem(status.system, status.options, ballot.choice);
    if (problem) throw new DomainError('INVALID_ARGUMENT', `choice: must be ${problem}`, { field: 'choice', reason: 'invalid-choice' });
    if (!status.allowVoteChange && (await this.ballots(status)).some((counted) => counted.agentId === ballot.agentId)) {
      throw new DomainError('CONFLICT', `agent ${ballot.agentId} has voted already and this decision does not allow vote changes`, {
        reason: 'duplicate',
      });
    }
    const ballotTopic = decisionTopic(status.swarmId, decisionId);
    await this.messaging.publish(ballotTopic, Buffer.from(JSON.stringify(ballot)), { key: ballot.agentId, properties: { type: 'ballot' } });
    return { queued: true, ballotTopic };
  }

  /** Every accepted ballot, in the order accepted. */
  async ballots(status: DecisionStatus): Promise<AcceptedBallot[]> {
    const all: AcceptedBallot[] = [];
    for (const digest of status.ballotChunks) all.push(...(await this.chunk(digest)));
    return all;
  }

  /**
   * At most `limit` accepted ballots from position `offset` (0-based, in the order accepted) and
   * the position after them when more follow. Accepted ballots are only appended, so a position
   * names the same ballot for the decision's whole life.
   */
  async ballotsPage(status: DecisionStatus, offset: number, limit: number): Promise<{ ballots: AcceptedBallot[]; nextOffset?: number }> {
    const page: AcceptedBallot[] = [];
    const chunks = status.ballotChunks;
    let position = 0;
    for (let i = 0; i < chunks.length; i++) {
      const chunk = await this.chunk(chunks[i]);
      const end = position + chunk.length;
      if (end > offset) {
        const from = Math.max(0, offset - position);
        page.push(...chunk.slice(from, from + limit - page.length));
        if (page.length === limit) {
          const nextOffset = offset + limit;
          return { ballots: page, nextOffset: nextOffset < end || i < chunks.length - 1 ? nextOffset : undefined };
        }
      }
      position = end;
    }
    return { ballots: page };
  }

  private async chunk(digest: string): Promise<AcceptedBallot[]> {
    let chunk = this.chunks.get(digest);
    if (!chunk) {
      const bytes = await this.blobs.get(digest);
      if (!bytes) throw new DomainError('UNAVAILABLE', `ballot blob ${digest} is missing from the blob store`);
      chunk = JSON.parse(Buffer.from(bytes).toString('utf8')) as AcceptedBallot[];
      this.chunks.set(digest, chunk);
    }
    return chunk;
  }

  async publicKeys(swarmId: string, agentIds: Iterable<string>): Promise<Record<string, string>> {
    const keys: Record<string, string> = {};
    for (const agentId of new Set(agentIds)) {
      const pem = await this.agentKeys.publicKey(swarmId, agentId);
      if (pem) keys[agentId] = pem;
    }
    return keys;
  }

  async cancel(decisionId: string, reason?: string): Promise<DecisionStatus> {
    try {
      return await this.client.workflow.getHandle(decisionWorkflowId(decisionId)).executeUpdate(cancelDecisionUpdate, { args: [{ reason }] });
    } catch (error) {
      throw await this.domainError(error, decisionId);
    }
  }

  private async snapshot(status: DecisionStatus): Promise<Record<string, number>> {
    const digest = status.snapshot?.digest;
    if (!digest) return {};
    let powers = this.snapshots.get(digest);
    if (!powers) {
      const bytes = await this.blobs.get(digest);
      if (!bytes) throw new DomainError('UNAVAILABLE', `power snapshot ${digest} is missing from the blob store`);
      powers = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, number>;
      this.snapshots.set(digest, powers);
    }
    return powers;
  }

  private keyOf(pem: string): KeyObject | undefined {
    let key = this.keys.get(pem);
    if (!key) {
      try {
        key = parseAgentPublicKey(pem);
      } catch {
        return undefined;
      }
      this.keys.set(pem, key);
    }
    return key;
  }

  private domainError(error: unknown, decisionId: string): Promise<unknown> {
    return workflowCallError(error, this.client.workflow.getHandle(decisionWorkflowId(decisionId)), {
      missing: `no decision ${decisionId}`,
      closed: { code: 'CONFLICT', message: `decision ${decisionId} has closed` },
    });
  }
}
