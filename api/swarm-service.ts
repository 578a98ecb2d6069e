// The swarm use cases behind the REST routes: registration, challenge
// answers, heartbeats and the agent registry, all backed by Temporal.
import { queryString } from '../adapters/temporal/visibility';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { AgentProfile, AgentRecord, AgentStatus, HeartbeatMessage } from '../core/agents';
import { credentialDigest, parseAgentPublicKey, verifyCredential, type CredentialClaims } from '../core/credentials';
import { DomainError } from '../core/errors';
import { AgentIdKey, AgentStatusKey, SwarmIdKey } from '../core/search-attributes';
import { assignSwarm, swarmTopics } from '../core/topics';
import type { AgentMessagingAccess, MessagingPort } from '../adapters/ports';
import { PageCursors } from './page-cursor';
import { temporalUnavailable, workflowCallError } from './temporal-errors';
import { signAsManager } from '../core/message-proof';
import {
  ACCEPTED_CREDENTIAL_MEMO,
  REGISTRATION_WORKFLOW,
  REVOKED_CREDENTIAL,
  deregisterRequestedSignal,
  deregisterUpdate,
  revokeCredentialsUpdate,
  type CredentialsRevoked,
  awaitChallengeUpdate,
  getAgentQuery,
  reRegisterUpdate,
  registrationWorkflowId,
  respondToChallengeUpdate,
  type ChallengeResponse,
  type IssuedCredential,
} from '../workflows/definitions';
import type { RegisterAgentInput } from '../workflows/registration';
import type { ApiMetrics } from './metrics';

export interface SwarmServiceOptions {
  namespace: string;
  taskQueue: string;
  /** Where new agent sessions start; default taskQueue. Sessions keep the queue they started on. */
  registrationTaskQueue?: string;
  handshakeTimeoutMs: number;
  credentialSecret: string;
  /** Agents' own broker identities; where they need a token, the challenge is handed over HTTP. */
  agentAccess?: AgentMessagingAccess;
}

export interface RegistrationAccepted {
  created: boolean;
  agent: Pick<AgentRecord, 'agentId' | 'swarmId' | 'status'>;
  inboxTopic: string;
  workflowId: string;
  /**
   * The pending challenge, where the broker authorises each agent: its inbox opens only with the
   * broker token the challenge-response returns, so the challenge cannot travel there first.
   */
  challenge?: string;
}

/** The challenge-response's answer: the credential and, where the broker authorises each agent, its broker token. */
export interface CredentialGranted {
  credential: string;
  agent: AgentRecord;
  /** The session's own broker identity and token: connect to the broker with it (the inbox opens only with it). */
  broker?: { role: string; token: string };
}

export interface AgentSummary {
  agentId: string;
  swarmId: string;
  status: AgentStatus;
  registeredAt: string;
}

export interface AgentPage {
  agents: AgentSummary[];
  nextPageToken?: string;
}

export class SwarmService {
  constructor(
    private readonly client: Client,
    private readonly messaging: MessagingPort,
    private readonly options: SwarmServiceOptions,
    private readonly metrics?: ApiMetrics,
  ) {
    this.cursors = new PageCursors(options.credentialSecret);
  }

  private readonly cursors: PageCursors;

  async register(request: Omit<AgentProfile, 'swarmId'> & { swarmId?: string }): Promise<RegistrationAccepted> {
    parseAgentPublicKey(request.publicKey);
    const profile: AgentProfile = { ...request, swarmId: request.swarmId ?? assignSwarm(request.region) };
    const workflowId = registrationWorkflowId(profile.agentId);
    const inboxTopic = swarmTopics(profile.swarmId).inbox(profile.agentId);
    const input: RegisterAgentInput = {
      profile,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      ...(this.options.agentAccess?.issuesTokens ? { brokerAccess: true } : {}),
    };
    try {
      await this.client.workflow.start(REGISTRATION_WORKFLOW, {
        workflowId,
        taskQueue: this.options.registrationTaskQueue ?? this.options.taskQueue,
        args: [input],
        memo: { resources: profile.resources, publicKey: profile.publicKey, capabilities: profile.capabilities },
        typedSearchAttributes: [
          { key: AgentIdKey, value: profile.agentId },
          { key: SwarmIdKey, value: profile.swarmId },
          { key: AgentStatusKey, value: 'PENDING' },
        ],
      });
      this.metrics?.registration('started');
      return {
        created: true,
        agent: { ...pick(profile), status: 'PENDING' },
        inboxTopic,
        workflowId,
        ...(await this.challengeOverHttp(profile.agentId)),
      };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    const agent = await this.update(profile.agentId, () =>
      this.client.workflow.getHandle(workflowId).executeUpdate(reRegisterUpdate, { args: [profile] }),
    );
    this.metrics?.registration('reregistered');
    return { created: false, agent: pick(agent, agent.status), inboxTopic, workflowId, ...(await this.challengeOverHttp(profile.agentId)) };
  }

  /** Where agents need a broker token before they can read their inbox, the pending challenge (it is no secret: only the key's holder can sign it). */
  private async challengeOverHttp(agentId: string): Promise<{ challenge?: string }> {
    if (!this.options.agentAccess?.issuesTokens) return {};
    const { challenge } = await this.update(agentId, () =>
      this.client.workflow.getHandle(registrationWorkflowId(agentId)).executeUpdate(awaitChallengeUpdate),
    );
    if (!challenge) throw new DomainError('CONFLICT', `the registration of agent ${agentId} ended before its challenge was sent; register again`);
    return { challenge };
  }

  async respondToChallenge(agentId: string, response: ChallengeResponse): Promise<CredentialGranted> {
    try {
      const { brokerIdentity, ...issued }: IssuedCredential = await this.update(agentId, () =>
        this.client.workflow
          .getHandle(registrationWorkflowId(agentId))
          .executeUpdate(respondToChallengeUpdate, { args: [response] }),
      );
      this.metrics?.registration('activated');
      const token = brokerIdentity ? this.options.agentAccess?.tokenFor(brokerIdentity) : undefined;
      return token ? { ...issued, broker: { role: brokerIdentity!, token } } : issued;
    } catch (error) {
      if (error instanceof DomainError) {
        this.metrics?.registration(
          error.code === 'BAD_SIGNATURE' ? 'bad_signature' : error.code === 'STALE_CHALLENGE' ? 'stale' : 'rejected',
        );
      }
      throw error;
    }
  }

  /** Verifies an agent's bearer credential; the agent may act only on itself. */
  authenticateAgent(token: string, agentId?: string): CredentialClaims {
    const claims = verifyCredential(this.options.credentialSecret, token, Math.floor(Date.now() / 1000));
    if (agentId !== undefined && claims.sub !== agentId) {
      throw new DomainError('FORBIDDEN', 'a credential acts only for its own agent');
    }
    return claims;
  }

  /**
   * Why a credential with a valid MAC no longer works, or undefined when it
   * does: its session must be running and accept exactly this credential (the
   * newest it issued, not revoked). One describe of the session per call, so a
   * deregistration, a revocation or a newer credential takes effect at once.
   */
  async credentialRefusal(token: string): Promise<string | undefined> {
    let claims: CredentialClaims;
    try {
      claims = verifyCredential(this.options.credentialSecret, token, Math.floor(Date.now() / 1000));
    } catch {
      return undefined; // not a valid credential at all: authenticate() says so
    }
    let description;
    try {
      description = await this.client.workflow.getHandle(registrationWorkflowId(claims.sub)).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return `credential revoked: agent ${claims.sub} has no registration`;
      throw temporalUnavailable(error) ?? error;
    }
    if (description.status.name !== 'RUNNING') {
      return `credential revoked: agent ${claims.sub} is no longer registered; register again for a new credential`;
    }
    const accepted = description.memo?.[ACCEPTED_CREDENTIAL_MEMO];
    if (typeof accepted !== 'string') return undefined;
    if (accepted === REVOKED_CREDENTIAL) {
      return `credential revoked: agent ${claims.sub}'s credentials were revoked; register again (same key) and answer the fresh challenge for a new one`;
    }
    if (accepted !== credentialDigest(token)) {
      return `credential retired: agent ${claims.sub} has been issued a newer credential since this one`;
    }
    return undefined;
  }

  async revokeCredentials(agentId: string, reason: string): Promise<CredentialsRevoked> {
    return this.update(agentId, () =>
      this.client.workflow
        .getHandle(registrationWorkflowId(agentId))
        .executeUpdate(revokeCredentialsUpdate, { args: [{ reason }] }),
    );
  }

  /**
   * Forwards a heartbeat that arrived over HTTP to the swarm's topic, under the
   * manager's relay proof: the credential that vouched for it stays on HTTP.
   */
  async heartbeat(claims: CredentialClaims, body: Omit<HeartbeatMessage, 'agentId' | 'sentAt'>): Promise<void> {
    const sentAt = Date.now();
    const message: HeartbeatMessage = { agentId: claims.sub, sentAt, ...body };
    const topic = swarmTopics(claims.swarm).heartbeats;
    const payload = Buffer.from(JSON.stringify(message));
    await this.messaging.publish(topic, payload, {
      key: claims.sub,
      properties: signAsManager(this.options.credentialSecret, claims.sub, topic, {}, payload, sentAt),
    });
  }

  async getAgent(agentId: string): Promise<AgentRecord> {
    try {
      return await this.client.workflow.getHandle(registrationWorkflowId(agentId)).query(getAgentQuery);
    } catch (error) {
      throw await this.domainError(error, agentId);
    }
  }

  async deregister(agentId: string, reason: string): Promise<AgentRecord> {
    const handle = this.client.workflow.getHandle(registrationWorkflowId(agentId));
    try {
      const agent = await this.update(agentId, () => handle.executeUpdate(deregisterUpdate, { args: [{ reason }] }));
      return { ...agent, status: 'DEREGISTERED' };
    } catch (error) {
      // Asked again after an answer that never arrived (the first call ended the session, then timed
      // out or met a restarting worker): the same answer, not a 404.
      if (error instanceof DomainError && error.code === 'NOT_FOUND') {
        const ended = await this.endedByDeregistration(handle);
        if (ended) return ended;
      }
      throw error;
    }
  }

  /** The record a session ended with, when it ended by deregistration. */
  private async endedByDeregistration(handle: WorkflowHandle): Promise<AgentRecord | undefined> {
    try {
      const description = await handle.describe();
      if (description.status.name !== 'COMPLETED') return undefined;
      const { agent } = (await handle.result()) as { agent?: AgentRecord };
      return agent?.status === 'DEREGISTERED' ? agent : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Ends every live session of a swarm: a deregistration signal to each (at most
   * `concurrency` in flight), then waits until none is running or `timeoutMs`
   * has passed. Returns how many were asked and how many are still running.
   */
  async deregisterSwarm(
    swarmId: string,
    reason: string,
    options: { timeoutMs: number; concurrency?: number; onProgress?: (running: number, asked: number) => void },
  ): Promise<{ asked: number; stillRunning: number }> {
    const deadline = Date.now() + options.timeoutMs;
    const query = agentsQuery(swarmId, undefined);
    const ids: string[] = [];
    for await (const execution of this.client.workflow.list({ query })) ids.push(execution.workflowId);
    let next = 0;
    const sendNext = async (): Promise<void> => {
      while (next < ids.length && Date.now() < deadline) {
        const workflowId = ids[next++];
        await this.client.workflow
          .getHandle(workflowId)
          .signal(deregisterRequestedSignal, { reason })
          .catch(() => undefined); // closed meanwhile: nothing to end
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 32, ids.length) }, sendNext));
    let running = ids.length;
    while (Date.now() < deadline) {
      running = (await this.client.workflow.count(query)).count;
      options.onProgress?.(running, ids.length);
      if (running === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return { asked: ids.length, stillRunning: running };
  }

  async listAgents(filter: {
    swarmId?: string;
    status?: AgentStatus;
    pageSize: number;
    pageToken?: string;
  }): Promise<AgentPage> {
    const query = agentsQuery(filter.swarmId, filter.status);
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace: this.options.namespace,
      pageSize: filter.pageSize,
      nextPageToken: filter.pageToken === undefined ? undefined : this.cursors.open(query, filter.pageToken, 'pageToken'),
      query,
    });
    const agents = (response.executions ?? []).map((execution): AgentSummary => {
      const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
      const first = (name: string): string => String((attributes[name] as unknown[] | undefined)?.[0] ?? '');
      const started = execution.startTime?.seconds;
      return {
        agentId: first(AgentIdKey.name),
        swarmId: first(SwarmIdKey.name),
        status: first(AgentStatusKey.name) as AgentStatus,
        registeredAt: new Date(Number(started ?? 0) * 1000).toISOString(),
      };
    });
    const token = response.nextPageToken;
    return {
      agents,
      nextPageToken: token && token.length > 0 ? this.cursors.seal(query, token) : undefined,
    };
  }

  /**
   * Up to `max` swarms with a running registration session on this
   * deployment's task queue: one visibility query per swarm found.
   */
  async liveSwarms(max: number): Promise<string[]> {
    const found: string[] = [];
    while (found.length < max) {
      // Swarm ids are ID_PATTERN ids (validated at registration): safe between quotes.
      const clauses = [
        `WorkflowType = '${REGISTRATION_WORKFLOW}'`,
        `ExecutionStatus = 'Running'`,
        this.taskQueueClause(),
        ...(found.length ? [`SwarmId NOT IN (${found.map((id) => `'${id}'`).join(', ')})`] : []),
      ];
      const response = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.options.namespace,
        pageSize: 1,
        query: clauses.join(' AND '),
      });
      const execution = response.executions?.[0];
      if (!execution) break;
      const swarmId = (decodeSearchAttributes(execution.searchAttributes?.indexedFields)[SwarmIdKey.name] as unknown[] | undefined)?.[0];
      if (typeof swarmId !== 'string' || found.includes(swarmId)) break;
      found.push(swarmId);
    }
    return found;
  }

  /** Agents in `status`, of one swarm or all, in the namespace or only those of this deployment's task queue. */
  async countAgents(status: AgentStatus, swarmId?: string, scope: 'namespace' | 'task-queue' = 'namespace'): Promise<number> {
    const query = agentsQuery(swarmId, status);
    const { count } = await this.client.workflow.count(
      scope === 'task-queue' ? `${query} AND ${this.taskQueueClause()}` : query,
    );
    return count;
  }

  /** This deployment's sessions: on the registration queue, or on the general one where they started before it existed. */
  private taskQueueClause(): string {
    const queues = [...new Set([this.options.taskQueue, this.options.registrationTaskQueue ?? this.options.taskQueue])];
    return `TaskQueue IN (${queues.map(queryString).join(', ')})`;
  }

  /** Runs an update and turns its failures into domain errors. */
  private async update<T>(agentId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw await this.domainError(error, agentId);
    }
  }

  private domainError(error: unknown, agentId: string): Promise<unknown> {
    return workflowCallError(error, this.client.workflow.getHandle(registrationWorkflowId(agentId)), {
      missing: `no registration for agent ${agentId}`,
      closed: { code: 'NOT_FOUND', message: `no live registration for agent ${agentId}` },
    });
  }
}
function pick(profile: AgentProfile, status: AgentStatus = 'PENDING'): RegistrationAccepted['agent'] {
  return { agentId: profile.agentId, swarmId: profile.swarmId, status };
}

function agentsQuery(swarmId: string | undefined, status: AgentStatus | undefined): string {
  // Ids and statuses are validated against ID_PATTERN / the enum before they reach here.
  const clauses = [`WorkflowType = '${REGISTRATION_WORKFLOW}'`];
  if (swarmId) clauses.push(`SwarmId = '${swarmId}'`);
  if (status) clauses.push(`AgentStatus = '${status}'`);
  if (status !== 'FAILED' && status !== 'DEREGISTERED') clauses.push(`ExecutionStatus = 'Running'`);
  else clauses.push(`ExecutionStatus != 'ContinuedAsNew'`);
  return clauses.join(' AND ');
}

