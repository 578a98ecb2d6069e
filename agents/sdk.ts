// The reference QP-Agent SDK: what an agent developer uses to join a swarm.
// Registers over REST, answers the challenge from its Pulsar inbox, then
// heartbeats on an interval; a rejected credential triggers re-registration.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { AgentRecord, AgentResources, ChallengeMessage, HeartbeatMessage, HeartbeatStatus } from '../core/agents';
import { challengeSigningInput } from '../core/agents';
import type { LocalTraining } from '../core/models/softmax';
import { swarmTopics } from '../core/topics';
import { signAsAgent } from '../core/message-proof';
import { clipToNorm, cryptoUniform, type UniformSource } from '../core/privacy/gaussian';
import { applyLocalDp } from '../core/privacy/local';
import { createSecAggAgent, type ServerMessage } from '../core/secagg';
import {
  agentBudget,
  bytesToParams,
  encodeSecAggHeader,
  encodeUpdateHeader,
  paramsToBytes,
  type RoundBudget,
  type RoundStartMessage,
} from '../core/tuning';
import type { Consumer, MessagingPort } from '../adapters/ports';
import type { BehaviorReportMessage, SkillMessage } from '../core/behaviors/types';
import { signBallot } from '../core/decisions/ballot';
import { decisionTopic } from '../core/decisions/topics';
import type { Ballot, Choice, ProposalMessage } from '../core/decisions/types';
import { allocationAgent, type TaskAnnouncementMessage, type TaskAssignmentMessage, type TaskBidMessage, type TaskOutcomeMessage, type TaskWithdrawalMessage } from '../core/tasks';
import { profileBid } from '../core/allocation/contract-net';

export interface QpAgentOptions {
  apiUrl: string;
  agentId: string;
  swarmId?: string;
  capabilities: string[];
  resources: AgentResources;
  region?: string;
  /**
   * The agent's inbox is read through this (Pulsar in production). Where the broker authorises
   * each agent, give connectMessaging instead (or as well): the broker is opened with the token
   * the handshake returns.
   */
  messaging?: MessagingPort;
  /** Opens the broker with this session's own token, where the manager hands one out (PULSAR_AGENT_TOKEN_SECRET_KEY_FILE). */
  connectMessaging?: (brokerToken: string) => MessagingPort;
  /** Ed25519 key pair; generated when absent. */
  keys?: { publicKey: KeyObject; privateKey: KeyObject };
  heartbeatIntervalMs?: number;
  /** Heartbeats over the REST API (default) or straight onto the swarm's heartbeat topic. */
  heartbeatVia?: 'http' | 'messaging';
  /** Per HTTP request. */
  requestTimeoutMs?: number;
  /** How long to wait for the challenge in the inbox. */
  handshakeTimeoutMs?: number;
  /** Retries of a failed call before giving up (heartbeats retry forever). */
  retries?: number;
  onEvent?: (event: AgentEvent) => void;
  /** The agent pool this agent runs in (a pool's pods have it in QP_POOL): every heartbeat names it. */
  pool?: string;
}

/** What a round asks of an agent. */
export interface RoundTask {
  jobId: string;
  round: number;
  attempt: number;
  global: Float32Array;
  training: LocalTraining;
  /** Milliseconds since the epoch; an update published later is dropped. */
  deadlineAt: number;
  /** This agent's work for the round: localSteps or epochs, and the time it may take. */
  budget: RoundBudget;
  /** Aborted when the time budget is spent or a later round of the job arrives: stop and return what you have. */
  signal: AbortSignal;
  /** True once the trainer should stop (the signal, or the time budget read from the clock, for trainers that never yield). */
  shouldStop(): boolean;
  /** False when the round has no federated evaluation: the trainer need not score the global model. */
  evaluate?: boolean;
  /** The evaluation-only round after a job's last: budget is 0 steps and shouldStop() is true; only `evaluation` is read. */
  evaluateOnly?: boolean;
}

export interface TrainingResult {
  params: Float32Array;
  examples: number;
  loss?: number;
  /** Mean of the squared per-example losses (optional; Oort's selection prefers it to the mean loss). */
  lossSquared?: number;
  accuracy?: number;
  /** Mini-batch steps done, and those the budget planned: fewer done is partial work. */
  stepsCompleted?: number;
  stepsPlanned?: number;
  /** The received global model scored on the agent's own data. */
  evaluation?: { loss: number; accuracy: number; examples: number };
}

/** The agent's local training: global parameters in, its trained parameters out. */
export type Trainer = (task: RoundTask) => Promise<TrainingResult | undefined>;

export type AgentEvent =
  | { type: 'registered'; credentialExpiresAt?: string }
  | { type: 'round-trained'; jobId: string; round: number }
  /** The evaluation-only round after a job's last: the agent sent its score of the final model. */
  | { type: 'round-evaluated'; jobId: string; round: number }
  /** A later round of the job arrived while this one trained: its work is not sent. */
  | { type: 'round-abandoned'; jobId: string; round: number; attempt: number }
  | { type: 'round-failed'; jobId: string; round: number; error: string }
  | { type: 'heartbeat-failed'; error: string; attempt: number }
  | { type: 'reconnected' }
  | { type: 'deregistered' };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

export class QpAgent {
  readonly agentId: string;
  private readonly keys: { publicKey: KeyObject; privateKey: KeyObject };
  private inbox?: Consumer;
  private credential?: string;
  private messagingPort?: MessagingPort;
  /** The broker role the current messaging port was opened with, where the manager hands them out. */
  private brokerRole?: string;
  private timer?: NodeJS.Timeout;
  private heartbeatFailures = 0;
  private stopped = false;
  /** The inbox as rounds read it: round starts and secure-aggregation requests. */
  private rounds?: Consumer;
  private roundsLoop?: Promise<void>;
  private tasks?: Consumer;
  private tasksLoop?: Promise<void>;
  /** Set while close() runs: task answers stop being retried. */
  private closing = false;
  private readonly answeredTasks = new Set<string>();
  /** The final answer of each attempt run here (bounded), sent again when the manager sends that attempt again. */
  private readonly taskAnswers = new Map<string, TaskAnswer>();
  /** The manager's withdrawals, read on their own subscription so that they overtake the queued tasks they name. */
  private taskWithdrawals?: Consumer;
  private taskWithdrawalsLoop?: Promise<void>;
  private readonly withdrawnTasks = new Set<string>();
  /** Rounds in training; a later round of a job supersedes the one still training. */
  private readonly trainings = new Set<Promise<void>>();
  /** The round each job trains now, to abandon it when a later one arrives. */
  private readonly currentRounds = new Map<string, { round: number; attempt: number; abandon: AbortController }>();
  /** Rounds already started (jobId/round/attempt), so a start delivered twice trains once. */
  private readonly startedRounds = new Set<string>();
  /** Asynchronous jobs: the newest version received, the last trained on, and the training under way. */
  private readonly asyncJobs = new Map<
    string,
    { latest?: RoundStartMessage; trained: number; running?: Promise<void>; abandon?: AbortController }
  >();
  private skills?: Consumer;
  private skillsLoop?: Promise<void>;
  private proposals?: Consumer;
  private proposalsLoop?: Promise<void>;
  /** The send time of the agent's last ballot per decision: a vote change is always later. */
  private readonly castAt = new Map<string, number>();
  /** When each proposal this agent heard of stops taking ballots (ms since the epoch): a vote is sent again until then. */
  private readonly votingClosesAt = new Map<string, number>();
  /** Secure-aggregation requests addressed to this agent, by round and type, until a round asks for them. */
  private readonly secaggMail = new Map<string, ServerMessage>();
  private readonly secaggWaiters = new Map<string, (message: ServerMessage) => void>();
  agent?: AgentRecord;

  constructor(private readonly options: QpAgentOptions) {
    this.agentId = options.agentId;
    this.keys = options.keys ?? generateKeyPairSync('ed25519');
    this.messagingPort = options.messaging;
  }

  private get messaging(): MessagingPort {
    if (!this.messagingPort) throw new Error('register() first: the broker opens with the token the handshake returns');
    return this.messagingPort;
  }

  get publicKeyPem(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  get token(): string | undefined {
    return this.credential;
  }

  /** Registers (or re-registers) and completes the challenge handshake. */
  async register(): Promise<AgentRecord> {
    const accepted = await this.call<{ inboxTopic: string; challenge?: string }>('POST', '/api/v1/swarm/register', {
      agentId: this.agentId,
      swarmId: this.options.swarmId,
      capabilities: this.options.capabilities,
      resources: this.options.resources,
      region: this.options.region,
      publicKey: this.publicKeyPem,
    });
    // Where the broker authorises each agent, the inbox opens only with the token this answer
    // brings: the challenge comes over HTTP instead.
    if (accepted.challenge) return this.answerChallenge(accepted.challenge);
    const handshakeMs = this.options.handshakeTimeoutMs ?? 30_000;
    // The challenge waits in the inbox: a broker outage while subscribing is waited out within the handshake's time.
    this.inbox ??= await this.untilDelivered(
      () => this.messaging.subscribe(accepted.inboxTopic, `agent-${this.agentId}`, { initialPosition: 'earliest' }),
      Date.now() + handshakeMs,
    );
    const deadline = Date.now() + handshakeMs;
    while (Date.now() < deadline) {
      const message = await this.inbox.receive(Math.min(1000, deadline - Date.now()));
      if (!message) continue;
      await this.inbox.ack(message);
      const parsed = JSON.parse(Buffer.from(message.payload).toString('utf8')) as Partial<ChallengeMessage>;
      if (parsed.type !== 'challenge' || typeof parsed.challenge !== 'string') continue;
      try {
        return await this.answerChallenge(parsed.challenge);
      } catch (error) {
        // An older challenge left in the inbox: wait for the current one.
        if (error instanceof ApiError && error.code === 'STALE_CHALLENGE') continue;
        throw error;
      }
    }
    throw new Error(`no challenge arrived in the inbox of ${this.agentId} in time`);
  }

  /** Signs the challenge and takes the credential (and the broker token, where there is one). */
  private async answerChallenge(challenge: string): Promise<AgentRecord> {
    const signature = sign(null, Buffer.from(challengeSigningInput(this.agentId, challenge)), this.keys.privateKey).toString('base64');
    const issued = await this.call<{ credential: string; agent: AgentRecord; broker?: { role: string; token: string } }>(
      'POST',
      `/api/v1/swarm/agents/${this.agentId}/challenge-response`,
      { challenge, signature },
    );
    if (issued.broker && issued.broker.role !== this.brokerRole) {
      if (!this.options.connectMessaging) {
        throw new Error('the manager hands out broker tokens (its broker authorises each agent): give the agent connectMessaging');
      }
      // A new session's role: the old port's token opens nothing any more.
      const previous = this.brokerRole ? this.messagingPort : undefined;
      this.messagingPort = this.options.connectMessaging(issued.broker.token);
      this.brokerRole = issued.broker.role;
      this.inbox = undefined;
      await previous?.close().catch(() => undefined);
    }
    this.credential = issued.credential;
    this.agent = issued.agent;
    this.options.onEvent?.({ type: 'registered', credentialExpiresAt: issued.agent.credentialExpiresAt });
    return issued.agent;
  }

  /**
   * Picks up a session without a new handshake, from the record and
   * credential an earlier register() returned (kept across a restart of the
   * agent's process, say). A credential the manager no longer accepts is
   * renewed as ever: the first rejected heartbeat registers again.
   */
  resume(session: { agent: AgentRecord; credential: string }): void {
    if (session.agent.agentId !== this.agentId) {
      throw new Error(`the session is ${session.agent.agentId}'s, not ${this.agentId}'s`);
    }
    this.agent = session.agent;
    this.credential = session.credential;
  }

  /**
   * Publishes on a shared topic with this agent's proof (core/message-proof.ts):
   * an Ed25519 signature by its registration key over the topic, the properties
   * and the payload. No credential ever travels over messaging.
   */
  private publishSigned(topic: string, payload: Uint8Array, properties: Record<string, string>): Promise<string> {
    return this.messaging.publish(topic, payload, {
      key: this.agentId,
      properties: signAsAgent(this.keys.privateKey, this.agentId, topic, properties, payload, Date.now()),
    });
  }

  /**
   * The same for a message nothing would ask for again (a task's answer, a round's update): through
   * a broker outage longer than one publish waits it is sent again, signed anew so that its proof
   * stays inside the window, until it goes, `untilMs` (ms since the epoch) passes or the agent closes.
   */
  private async publishSignedUntil(topic: string, payload: Uint8Array, properties: Record<string, string>, untilMs: number, key = this.agentId): Promise<void> {
    await this.untilDelivered(
      () =>
        this.messaging.publish(topic, payload, {
          key,
          properties: signAsAgent(this.keys.privateKey, this.agentId, topic, properties, payload, Date.now()),
        }),
      untilMs,
    );
  }

  /** Runs call again through a broker outage until it succeeds, untilMs (ms since the epoch) passes, it is refused for good or the agent closes. */
  private async untilDelivered<T>(call: () => Promise<T>, untilMs: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (this.closing || Date.now() >= untilMs || refusedForGood(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(PUBLISH_RETRY_MAX_MS, 250 * 2 ** attempt)));
      }
    }
  }

  /** Sends one heartbeat: signed over messaging, or with the credential over HTTP. */
  async heartbeat(reported: HeartbeatStatus = {}): Promise<void> {
    if (!this.credential || !this.agent) throw new Error('register() first');
    const status: HeartbeatStatus = this.options.pool === undefined ? reported : { pool: this.options.pool, ...reported };
    if (this.options.heartbeatVia === 'messaging') {
      const message: HeartbeatMessage = { agentId: this.agentId, sentAt: Date.now(), ...status };
      await this.publishSigned(swarmTopics(this.agent.swarmId).heartbeats, Buffer.from(JSON.stringify(message)), {});
      return;
    }
    await this.call('POST', `/api/v1/swarm/agents/${this.agentId}/heartbeat`, status, this.credential, 0);
  }

  /** Heartbeats every heartbeatIntervalMs until stopHeartbeats(); failures back off and reconnect. */
  startHeartbeats(status: () => HeartbeatStatus = () => ({})): void {
    this.stopHeartbeats();
    this.stopped = false;
    const interval = this.options.heartbeatIntervalMs ?? 10_000;
    const tick = async (): Promise<void> => {
      let delay = interval;
      try {
        await this.heartbeat(status());
        this.heartbeatFailures = 0;
      } catch (error) {
        this.heartbeatFailures++;
        this.options.onEvent?.({ type: 'heartbeat-failed', error: String(error), attempt: this.heartbeatFailures });
        delay = Math.min(interval, 250 * 2 ** Math.min(this.heartbeatFailures, 6));
        if (error instanceof ApiError && error.status === 401) await this.reconnect();
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), delay);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stopHeartbeats(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async deregister(): Promise<void> {
    this.stopHeartbeats();
    if (this.credential) {
      await this.call('DELETE', `/api/v1/swarm/agents/${this.agentId}`, undefined, this.credential);
      this.credential = undefined;
      this.options.onEvent?.({ type: 'deregistered' });
    }
    await this.close();
  }

  /**
   * Runs delegated tasks: each task the manager puts in this agent's inbox goes
   * to handler, one at a time; its return value is the result, a thrown error a
   * failure with the error's message as reason, and `context.decline(reason)` a
   * decline (the manager reallocates the task). Outcomes are signed with the
   * agent's key and published on the swarm's task-results topic; an attempt
   * already answered is not run again when its message is redelivered, and one
   * the manager withdrew before it started (rebalancing moved it to another
   * agent) is skipped.
   */
  async onTask(handler: TaskHandler, options: { bid?: TaskBidder } = {}): Promise<void> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    if (this.tasksLoop) return;
    const inbox = swarmTopics(this.agent.swarmId).inbox(this.agentId);
    const withdrawals = (this.taskWithdrawals = await this.messaging.subscribe(inbox, `agent-${this.agentId}-task-withdrawals`, { initialPosition: 'latest' }));
    this.taskWithdrawalsLoop = consumeJson(withdrawals, {
      'task-withdrawn': async (message) => {
        const withdrawal = message as TaskWithdrawalMessage;
        this.withdrawnTasks.add(`${withdrawal.taskId}/${withdrawal.attempt}`);
        if (this.withdrawnTasks.size > 1024) this.withdrawnTasks.delete(this.withdrawnTasks.values().next().value!);
      },
    });
    const tasks = (this.tasks = await this.messaging.subscribe(
      swarmTopics(this.agent.swarmId).inbox(this.agentId),
      `agent-${this.agentId}-tasks`,
      { initialPosition: 'latest' },
    ));
    this.tasksLoop = consumeJson(tasks, {
      task: async (message) => {
        const task = message as TaskAssignmentMessage;
        const key = `${task.taskId}/${task.attempt}`;
        if (task.type !== 'task' || this.withdrawnTasks.has(key)) return;
        if (this.answeredTasks.has(key)) {
          // The manager sent this attempt again: its workflow task was retried after a worker crash and
          // may not have taken the first answer. Answer again, without running the task again.
          const answered = this.taskAnswers.get(key);
          if (answered) await this.answerTask(task, answered, true).catch(() => undefined);
          return;
        }
        this.answeredTasks.add(key);
        if (this.answeredTasks.size > 1024) this.answeredTasks.delete(this.answeredTasks.values().next().value!);
        await this.runTask(task, handler); // one task at a time: the consumer waits for it
      },
      'task-announcement': async (message) => {
        const announcement = message as TaskAnnouncementMessage;
        const key = `bid/${announcement.taskId}/${announcement.attempt}`;
        if (this.answeredTasks.has(key) || Date.now() > announcement.bidDeadlineMs) return;
        this.answeredTasks.add(key);
        await this.bid(announcement, options.bid);
      },
    });
  }

  /**
   * Contract Net: answers a call for bids with the bidder's estimate, or by default
   * with what its declared profile says the run costs (core/allocation profileBid);
   * no bid when the bidder returns undefined or the agent cannot run the task.
   */
  private async bid(announcement: TaskAnnouncementMessage, bidder: TaskBidder | undefined): Promise<void> {
    const own = (): TaskBidEstimate | undefined =>
      profileBid(
        {
          taskId: announcement.taskId,
          requirements: announcement.requirements,
          estimatedWork: announcement.estimatedWork,
          deadlineMs: announcement.deadlineMs,
          deferrable: announcement.deferrable,
        },
        allocationAgent(this.agentId, this.agent?.capabilities ?? [], this.agent?.resources),
        Date.now(),
      );
    const estimate = bidder ? await bidder(announcement, own) : own();
    if (!estimate) return;
    const bid: TaskBidMessage = {
      type: 'task-bid',
      taskId: announcement.taskId,
      attempt: announcement.attempt,
      agentId: this.agentId,
      finishAtMs: estimate.finishAtMs,
      energyWh: estimate.energyWh,
      carbonG: estimate.carbonG,
    };
    const payload = Buffer.from(JSON.stringify(bid));
    await this.messaging.publish(announcement.replyTopic, payload, {
      key: announcement.taskId,
      properties: signAsAgent(this.keys.privateKey, this.agentId, announcement.replyTopic, { type: 'task-bid' }, payload, Date.now()),
    });
  }

  /** Publishes an answer to the task's attempt, signed; a final one is sent until it goes or the task's deadline passes. */
  private async answerTask(task: TaskAssignmentMessage, body: TaskAnswer, untilDelivered: boolean): Promise<void> {
    const outcome: TaskOutcomeMessage = { type: 'task-outcome', taskId: task.taskId, attempt: task.attempt, agentId: this.agentId, ...body };
    const payload = Buffer.from(JSON.stringify(outcome));
    await this.publishSignedUntil(task.replyTopic, payload, { type: 'task-outcome' }, untilDelivered ? task.deadlineMs : 0, task.taskId);
  }

  private async runTask(task: TaskAssignmentMessage, handler: TaskHandler): Promise<void> {
    // The task's message is acknowledged already: an answer lost here would only be missed at the
    // task's deadline, so it is sent until it goes (progress reports only once).
    const key = `${task.taskId}/${task.attempt}`;
    const answer = (body: TaskAnswer, untilDelivered: boolean) => {
      if (body.outcome !== 'progress') {
        this.taskAnswers.set(key, body);
        if (this.taskAnswers.size > 1024) this.taskAnswers.delete(this.taskAnswers.keys().next().value!);
      }
      return this.answerTask(task, body, untilDelivered);
    };
    let result: unknown;
    try {
      result = await handler(task, {
        decline(reason: string): never {
          throw new TaskDeclined(reason);
        },
        progress: async (fraction: number) => {
          await answer({ outcome: 'progress', progress: Math.min(1, Math.max(0, fraction)) }, false);
        },
      });
    } catch (error) {
      const body =
        error instanceof TaskDeclined
          ? { outcome: 'declined' as const, reason: error.reason }
          : { outcome: 'failed' as const, reason: error instanceof Error ? error.message : String(error) };
      await answer(body, true).catch(() => undefined);
      return;
    }
    try {
      await answer({ outcome: 'succeeded', result: result ?? null }, true);
    } catch (error) {
      // A result that cannot be sent (not JSON, refused by the broker) is answered as a failure; one
      // still unsent when the deadline passes or the agent closes is not: the task did not fail.
      if (this.closing || Date.now() >= task.deadlineMs) return;
      await answer({ outcome: 'failed', reason: error instanceof Error ? error.message : String(error) }, true).catch(() => undefined);
    }
  }

  /**
   * Takes part in federated rounds: for each round that selects this agent,
   * trains with the given trainer and publishes the update with its credential.
   * Round starts come to the agent's own inbox, only when it is selected (see
   * RoundStartMessage); the agent never learns who else takes part.
   */
  async participate(trainer: Trainer): Promise<void> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    if (this.roundsLoop) return;
    const rounds = (this.rounds = await this.messaging.subscribe(
      swarmTopics(this.agent.swarmId).inbox(this.agentId),
      `agent-${this.agentId}-rounds`,
      { initialPosition: 'latest' },
    ));
    this.roundsLoop = consumeJson(rounds, {
      'round-start': async (message) => {
        const start = message as RoundStartMessage;
        if (start.type !== 'round-start' || start.agentId !== this.agentId) return;
        const key = `${start.jobId}/${start.round}/${start.attempt}`;
        if (this.startedRounds.has(key)) return;
        this.startedRounds.add(key);
        if (this.startedRounds.size > 256) this.startedRounds.delete(this.startedRounds.values().next().value!);
        if (start.mode === 'async') {
          this.newModelVersion(start, trainer);
          return;
        }
        const current = this.currentRounds.get(start.jobId);
        if (current && (current.round > start.round || (current.round === start.round && current.attempt > start.attempt))) return;
        // Work for an earlier round can no longer count: stop it and start this one now.
        current?.abandon.abort('superseded');
        const abandon = new AbortController();
        this.currentRounds.set(start.jobId, { round: start.round, attempt: start.attempt, abandon });
        const training = this.trainRound(start, trainer, abandon.signal).finally(() => {
          this.trainings.delete(training);
          if (this.currentRounds.get(start.jobId)?.abandon === abandon) this.currentRounds.delete(start.jobId);
        });
        this.trainings.add(training);
      },
      secagg: async (message) => {
        const request = message as ServerMessage;
        const key = `${request.roundId}|${request.type}`;
        const waiter = this.secaggWaiters.get(key);
        if (waiter) waiter(request);
        else this.secaggMail.set(key, request);
      },
    });
  }

  /**
   * An asynchronous job's new model version. The agent trains on the newest
   * version it holds, one training at a time per job: a version that arrives
   * while it trains is taken up next, and versions superseded meanwhile are
   * skipped. Caught up, it waits for the next version. A training whose base
   * falls more than maxStaleness versions behind the newest is abandoned (the
   * manager would refuse its update as stale) and the newest taken up at once.
   */
  private newModelVersion(start: RoundStartMessage, trainer: Trainer): void {
    let job = this.asyncJobs.get(start.jobId);
    if (!job) {
      this.asyncJobs.set(start.jobId, (job = { trained: -1 }));
      if (this.asyncJobs.size > 64) this.asyncJobs.delete(this.asyncJobs.keys().next().value!);
    }
    if (!job.latest || start.round > job.latest.round) job.latest = start;
    if (job.running) {
      const maxStaleness = job.latest.maxStaleness;
      if (maxStaleness !== undefined && job.latest.round - job.trained > maxStaleness) job.abandon?.abort('superseded');
      return;
    }
    const state = job;
    state.running = (async () => {
      while (state.latest && state.latest.round > state.trained) {
        const version = state.latest;
        state.trained = version.round;
        state.abandon = new AbortController();
        await this.trainRound(version, trainer, state.abandon.signal);
      }
      state.abandon = undefined;
      state.running = undefined;
    })();
  }

  private async trainRound(start: RoundStartMessage, trainer: Trainer, abandoned: AbortSignal): Promise<void> {
    const budget = start.evaluateOnly ? { localSteps: 0 } : (start.budget ?? agentBudget(start.training));
    const stop = new AbortController();
    const onAbandon = () => stop.abort('superseded');
    abandoned.addEventListener('abort', onAbandon);
    let timer: NodeJS.Timeout | undefined;
    try {
      const global = start.globalParams
        ? bytesToParams(Buffer.from(start.globalParams, 'base64'))
        : await this.downloadModel(start.jobId, start.globalDigest);
      // An evaluation-only round asks for no steps: the trainer finds itself stopped at once, scores the model and returns.
      if (start.evaluateOnly) stop.abort('evaluation-only');
      // The time budget runs from when training starts.
      const stopAt = budget.timeBudgetMs !== undefined ? Date.now() + budget.timeBudgetMs : Infinity;
      if (budget.timeBudgetMs !== undefined) timer = setTimeout(() => stop.abort('time-budget'), budget.timeBudgetMs);
      const result = await trainer({
        jobId: start.jobId,
        round: start.round,
        attempt: start.attempt,
        global,
        training: start.training,
        deadlineAt: start.deadlineAt,
        evaluate: start.evaluate,
        ...(start.evaluateOnly ? { evaluateOnly: true } : {}),
        budget,
        signal: stop.signal,
        shouldStop: () => stop.signal.aborted || Date.now() >= stopAt,
      });
      if (abandoned.aborted) {
        this.options.onEvent?.({ type: 'round-abandoned', jobId: start.jobId, round: start.round, attempt: start.attempt });
        return;
      }
      if (result && start.evaluate === false) result.evaluation = undefined;
      if (!result || !this.credential) return;
      if (start.evaluateOnly) {
        await this.answerEvaluation(start, result.evaluation);
        return;
      }
      if (start.localPrivacy) result.params = withLocalPrivacy(global, result.params, start.localPrivacy);
      if (start.secureAggregation) {
        await this.secureRound(start, global, result);
        return;
      }
      // It counts if the broker takes it by the round's deadline: until then an outage is waited out.
      await this.publishSignedUntil(
        start.updatesTopic,
        paramsToBytes(result.params),
        encodeUpdateHeader({
          jobId: start.jobId,
          round: start.round,
          attempt: start.attempt,
          agentId: this.agentId,
          examples: result.examples,
          trainLoss: result.loss,
          trainLossSquared: result.lossSquared,
          trainAccuracy: result.accuracy,
          evalLoss: result.evaluation?.loss,
          evalAccuracy: result.evaluation?.accuracy,
          evalExamples: result.evaluation?.examples,
          stepsCompleted: result.stepsCompleted,
          stepsPlanned: result.stepsPlanned,
        }),
        start.deadlineAt,
      );
      this.options.onEvent?.({ type: 'round-trained', jobId: start.jobId, round: start.round });
    } catch (error) {
      this.options.onEvent?.({ type: 'round-failed', jobId: start.jobId, round: start.round, error: String(error) });
    } finally {
      if (timer) clearTimeout(timer);
      abandoned.removeEventListener('abort', onAbandon);
    }
  }

  /** The evaluation-only round's answer: the scores in the update's properties, no parameters. */
  private async answerEvaluation(start: RoundStartMessage, evaluation: TrainingResult['evaluation']): Promise<void> {
    if (!evaluation) return;
    await this.publishSignedUntil(
      start.updatesTopic,
      new Uint8Array(0),
      encodeUpdateHeader({
        jobId: start.jobId,
        round: start.round,
        attempt: start.attempt,
        agentId: this.agentId,
        examples: 0,
        evalLoss: evaluation.loss,
        evalAccuracy: evaluation.accuracy,
        evalExamples: evaluation.examples,
        evalOnly: true,
      }),
      start.deadlineAt,
    );
    this.options.onEvent?.({ type: 'round-evaluated', jobId: start.jobId, round: start.round });
  }

  /**
   * SecAgg+ from the agent's side: only the masked change (params - global)
   * leaves the agent; the manager learns the participants' sum.
   */
  private async secureRound(start: RoundStartMessage, global: Float32Array, result: TrainingResult): Promise<void> {
    const { config, stageTimeoutMs } = start.secureAggregation!;
    let delta: Float32Array = Float32Array.from(result.params, (value, i) => value - global[i]);
    // Under DP every agent weighs the same and bounds its own change.
    if (start.clipNorm !== undefined) delta = clipToNorm(delta, start.clipNorm);
    const weight = start.clipNorm !== undefined ? 1 : result.examples;
    const machine = createSecAggAgent(config, this.agentId, undefined, { weight });
    // Each stage's message is sent again through a broker outage while the manager still waits for
    // it: the keys until the round's deadline, a later stage for one stage timeout after its request.
    const send = (body: object, untilMs: number) =>
      this.publishSignedUntil(
        start.updatesTopic,
        Buffer.from(JSON.stringify(body)),
        encodeSecAggHeader({ jobId: start.jobId, round: start.round, attempt: start.attempt, agentId: this.agentId }),
        untilMs,
      );
    const patience = Math.max(0, start.deadlineAt - Date.now()) + 2 * stageTimeoutMs;
    await send(machine.advertiseKeys(), start.deadlineAt);
    const shares = await this.secaggRequest(config.roundId, 'shareKeysRequest', patience);
    await send(machine.shareKeys(shares as Parameters<typeof machine.shareKeys>[0]), Date.now() + stageTimeoutMs);
    const masked = await this.secaggRequest(config.roundId, 'maskedInputRequest', 2 * stageTimeoutMs);
    await send(machine.maskedInput(masked as Parameters<typeof machine.maskedInput>[0], delta, weight), Date.now() + stageTimeoutMs);
    const unmask = await this.secaggRequest(config.roundId, 'unmaskRequest', 2 * stageTimeoutMs);
    await send(machine.unmask(unmask as Parameters<typeof machine.unmask>[0]), Date.now() + stageTimeoutMs);
    this.options.onEvent?.({ type: 'round-trained', jobId: start.jobId, round: start.round });
  }

  private secaggRequest(roundId: string, type: ServerMessage['type'], timeoutMs: number): Promise<ServerMessage> {
    const key = `${roundId}|${type}`;
    const waiting = this.secaggMail.get(key);
    if (waiting) {
      this.secaggMail.delete(key);
      return Promise.resolve(waiting);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.secaggWaiters.delete(key);
        reject(new Error(`no ${type} for round ${roundId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.secaggWaiters.set(key, (message) => {
        clearTimeout(timer);
        this.secaggWaiters.delete(key);
        resolve(message);
      });
    });
  }

  /**
   * Reports what the agent did in an episode. By default the report goes on
   * the swarm's behaviors topic with the agent's credential; `via: 'api'`
   * posts it to POST /api/v1/behaviors/reports instead (agents without
   * messaging), which also answers 400 at once for a bad report.
   */
  async reportBehavior(
    report: { episodeId: string; descriptor: number[]; fitness: number; context?: Record<string, unknown>; timestamp?: number },
    options: { via?: 'messaging' | 'api' } = {},
  ): Promise<{ behaviorId: string }> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    if (options.via === 'api') {
      return this.call<{ behaviorId: string }>('POST', '/api/v1/behaviors/reports', report, this.credential);
    }
    const message: BehaviorReportMessage = {
      type: 'behavior',
      agentId: this.agentId,
      swarmId: this.agent.swarmId,
      ...report,
      timestamp: report.timestamp ?? Date.now(),
    };
    await this.publishSigned(swarmTopics(this.agent.swarmId).behaviors, Buffer.from(JSON.stringify(message)), {});
    return { behaviorId: `${this.agentId}:${report.episodeId}` };
  }

  /**
   * Calls handler with every strategy the swarm's sweeps disseminate (its
   * broadcast topic), those published before the call included, until close().
   */
  async onSkill(handler: (skill: SkillMessage) => void | Promise<void>): Promise<void> {
    if (!this.agent) throw new Error('register() first');
    if (this.skillsLoop) throw new Error('onSkill() is already listening');
    const skills = (this.skills = await this.messaging.subscribe(
      swarmTopics(this.agent.swarmId).broadcast,
      `agent-${this.agentId}-skills`,
      { initialPosition: 'earliest' },
    ));
    this.skillsLoop = consumeJson(skills, {
      skill: async (message) => {
        const skill = message as SkillMessage;
        if (skill.type !== 'skill' || !Array.isArray(skill.descriptor)) return;
        await handler(skill);
      },
    });
  }

  /**
   * Calls handler with every proposal of the swarm as its voting opens (the
   * control topic, from the earliest message), until close(). The handler may
   * vote() at once.
   */
  async onProposal(handler: (proposal: ProposalMessage) => void | Promise<void>): Promise<void> {
    if (!this.agent) throw new Error('register() first');
    if (this.proposalsLoop) throw new Error('onProposal() is already listening');
    const proposals = (this.proposals = await this.messaging.subscribe(
      swarmTopics(this.agent.swarmId).control,
      `agent-${this.agentId}-proposals`,
      { initialPosition: 'earliest' },
    ));
    this.proposalsLoop = consumeJson(proposals, {
      'decision-proposal': async (message) => {
        const proposal = message as ProposalMessage;
        if (proposal.type !== 'decision-proposal' || !Array.isArray(proposal.options)) return;
        if (typeof proposal.closesAt === 'number') {
          this.votingClosesAt.set(proposal.decisionId, proposal.closesAt);
          if (this.votingClosesAt.size > VOTING_DEADLINES_KEPT) this.votingClosesAt.delete(this.votingClosesAt.keys().next().value as string);
        }
        await handler(proposal);
      },
    });
  }

  /**
   * Casts a ballot signed with the agent's registration key: on the
   * decision's ballot topic (default), or through POST
   * /api/v1/decisions/{id}/votes with `via: 'api'`, which answers a refusal
   * (forged, ineligible, late, duplicate) at once. A later vote on the same
   * decision replaces the earlier one where the decision allows vote changes.
   * Over messaging, a ballot that cannot go out (a broker outage) is sent
   * again until the proposal closes (as onProposal announced it; otherwise
   * for VOTE_RETRY_DEFAULT_MS), so an outage does not lose it.
   */
  async vote(decisionId: string, choice: Choice, options: { via?: 'messaging' | 'api' } = {}): Promise<Ballot> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    const previous = this.castAt.get(decisionId) ?? 0;
    const castAt = Math.max(Date.now(), previous + 1);
    this.castAt.set(decisionId, castAt);
    const ballot = signBallot(this.keys.privateKey, { decisionId, agentId: this.agentId, choice, castAt });
    if (options.via === 'api') {
      await this.call('POST', `/api/v1/decisions/${encodeURIComponent(decisionId)}/votes`, {
        choice, castAt, signature: ballot.signature,
      }, this.credential, 0);
      return ballot;
    }
    const topic = decisionTopic(this.agent.swarmId, decisionId);
    const payload = Buffer.from(JSON.stringify(ballot));
    const untilMs = this.votingClosesAt.get(decisionId) ?? Date.now() + VOTE_RETRY_DEFAULT_MS;
    await this.untilDelivered(() => this.messaging.publish(topic, payload, { key: this.agentId, properties: { type: 'ballot' } }), untilMs);
    return ballot;
  }

  /**
   * Opens a proposal in this agent's swarm (the body of POST /api/v1/decisions; swarmId defaults
   * to the agent's). The decision records this agent as its proposer.
   */
  async propose(proposal: Record<string, unknown>): Promise<{ decisionId: string; workflowId: string; state: string }> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    return this.call('POST', '/api/v1/decisions', { swarmId: this.agent.swarmId, ...proposal }, this.credential, 0);
  }

  /** Cancels a proposal this agent opened, while it is PENDING or ACTIVE (403 for another's, 409 once closed). */
  async cancelProposal(decisionId: string, reason?: string): Promise<{ state: string }> {
    if (!this.agent || !this.credential) throw new Error('register() first');
    return this.call('POST', `/api/v1/decisions/${encodeURIComponent(decisionId)}/cancel`, reason === undefined ? {} : { reason }, this.credential, 0);
  }

  /** The global model of a job by digest, over REST. */
  async downloadModel(jobId: string, digest: string): Promise<Float32Array> {
    const response = await fetch(`${this.options.apiUrl}/api/v1/tuning/${jobId}/model?digest=${digest}`, {
      headers: { authorization: `Bearer ${this.credential}` },
      signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
    });
    if (!response.ok) throw new ApiError(response.status, 'MODEL_DOWNLOAD', await response.text());
    return bytesToParams(new Uint8Array(await response.arrayBuffer()));
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      await this.closeConsumers();
    } finally {
      this.closing = false;
    }
  }

  private async closeConsumers(): Promise<void> {
    this.stopHeartbeats();
    await this.skills?.close();
    await this.skillsLoop;
    this.skills = undefined;
    this.skillsLoop = undefined;
    await this.proposals?.close();
    await this.proposalsLoop;
    this.proposals = undefined;
    this.proposalsLoop = undefined;
    await this.tasks?.close();
    await this.tasksLoop;
    this.tasks = undefined;
    this.tasksLoop = undefined;
    await this.taskWithdrawals?.close();
    await this.taskWithdrawalsLoop;
    this.taskWithdrawals = undefined;
    this.taskWithdrawalsLoop = undefined;
    await this.rounds?.close();
    await this.roundsLoop;
    await Promise.all([...this.trainings]);
    await Promise.all([...this.asyncJobs.values()].map((job) => job.running));
    this.rounds = undefined;
    this.roundsLoop = undefined;
    await this.inbox?.close();
    this.inbox = undefined;
    // A port opened with this session's broker token is the agent's own; one passed in is the caller's.
    if (this.brokerRole) {
      await this.messagingPort?.close();
      this.messagingPort = this.options.messaging;
      this.brokerRole = undefined;
    }
  }

  private async reconnect(): Promise<void> {
    try {
      await this.register();
      this.options.onEvent?.({ type: 'reconnected' });
    } catch {
      // The next heartbeat tick tries again.
    }
  }

  private async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    retries = this.options.retries ?? 4,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const response = await fetch(`${this.options.apiUrl}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
        });
        const payload = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
        if (response.ok) return payload as T;
        const error = new ApiError(response.status, payload.error?.code ?? 'HTTP', payload.error?.message ?? '');
        // 4xx is an answer, not a transient failure.
        if (response.status < 500 || attempt >= retries) throw error;
        retryAfterMs = retryAfter(response.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) throw error;
        if (attempt >= retries) throw error;
      }
      // A busy manager says how long to wait (Retry-After on its 503s): hammering it sooner only adds to its load.
      await new Promise((resolve) => setTimeout(resolve, Math.max(100 * 2 ** attempt, retryAfterMs ?? 0)));
    }
  }
}

/** Longest wait a Retry-After header may ask for between two tries of a call, ms. */
const RETRY_AFTER_MAX_MS = 30_000;

/** A Retry-After header in seconds (the form the manager sends), as ms, capped; undefined when absent or not seconds. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Math.min(RETRY_AFTER_MAX_MS, Number(header.trim()) * 1000);
}

/** Local DP: the change from the global model, clipped and noised on the agent before it is sent (noise from `random`, the OS CSPRNG by default). */
export function withLocalPrivacy(
  global: Float32Array,
  params: Float32Array,
  privacy: { clipNorm: number; noiseMultiplier: number },
  random: UniformSource = cryptoUniform(),
): Float32Array {
  const delta = Float32Array.from(params, (value, i) => value - global[i]);
  const { update } = applyLocalDp(delta, privacy, random);
  return Float32Array.from(update, (value, i) => value + global[i]);
}

/** Longest pause between two tries of a task answer or a round's update during a broker outage, ms. */
const PUBLISH_RETRY_MAX_MS = 5_000;
/** How long a ballot for a proposal the agent did not hear announced is sent again through an outage, ms. */
const VOTE_RETRY_DEFAULT_MS = 60_000;
/** Proposals whose closing time an agent keeps for its votes. */
const VOTING_DEADLINES_KEPT = 1_000;

/** Codes of publish errors another try cannot fix (the Pulsar adapter's PulsarError codes; UNAVAILABLE is not one). */
const REFUSALS = new Set(['REJECTED', 'UNAUTHENTICATED', 'CONFLICT', 'CLOSED', 'INVALID_ARGUMENT']);

function refusedForGood(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && REFUSALS.has(code);
}

/**
 * Reads a consumer until it is closed: each message is acknowledged, and
 * those of a type with a handler are parsed and handed to it one at a time.
 * A malformed message or a failing handler never stops the loop.
 */
async function consumeJson(
  consumer: Consumer,
  handlers: Record<string, (message: unknown) => Promise<void>>,
): Promise<void> {
  for (;;) {
    let message;
    try {
      message = await consumer.receive(1000);
    } catch {
      return; // closed
    }
    if (!message) continue;
    await consumer.ack(message).catch(() => undefined);
    const handle = Object.hasOwn(handlers, message.properties.type) ? handlers[message.properties.type] : undefined;
    if (!handle) continue;
    try {
      await handle(JSON.parse(Buffer.from(message.payload).toString('utf8')));
    } catch {
      // One bad message or failed handler must not deafen the agent to the next.
    }
  }
}

/** An agent's answer to a task attempt, as it goes on the task-results topic. */
type TaskAnswer = Omit<TaskOutcomeMessage, 'type' | 'taskId' | 'attempt' | 'agentId'>;

export interface TaskContext {
  /** Refuse the task: the manager gives it to another agent. */
  decline(reason: string): never;
  /** Report progress, 0..1 (informational: the manager does not count it as an answer). */
  progress(fraction: number): Promise<void>;
}

/** A Contract Net bid: when the agent expects to finish (ms since the epoch), and the run's energy (Wh) and carbon (g). */
export interface TaskBidEstimate {
  finishAtMs: number;
  energyWh: number;
  carbonG: number;
}

/** Decides an agent's bid on an announced task; `own()` is the estimate from its declared profile. Undefined: no bid. */
export type TaskBidder = (
  announcement: TaskAnnouncementMessage,
  own: () => TaskBidEstimate | undefined,
) => TaskBidEstimate | undefined | Promise<TaskBidEstimate | undefined>;

/** Runs one delegated task; the return value (small JSON) is its result. */
export type TaskHandler = (task: TaskAssignmentMessage, context: TaskContext) => Promise<unknown>;

/** Thrown by TaskContext.decline; reported to the manager as a decline, not a failure. */
export class TaskDeclined extends Error {
  constructor(readonly reason: string) {
    super(`declined: ${reason}`);
    this.name = 'TaskDeclined';
  }
}
