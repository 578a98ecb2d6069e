// Activities of federated tuning: participant selection, the round's start
// message, collecting and aggregating updates, storing models, evaluation.
// Model tensors stay here and in the blob store; the workflow sees digests.
import { Context } from '@temporalio/activity';
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { createStrategy } from '../core/aggregation';
import type { ServerState, StrategyName, StrategyOptions } from '../core/aggregation/types';
import { centralNoiseStd, gaussianNoise, keyedUniform } from '../core/privacy/gaussian';
import { DEFAULT_SELECTION, recordFeedback, selectParticipants, type AgentFeedback, type SelectionOptions, type SelectionStrategy } from '../core/selection';
import {
  agentBudget,
  bytesToParams,
  decodeSecAggHeader,
  combineEvaluations,
  decodeUpdateHeader,
  roundMismatch,
  type FinalEvaluation,
  paramsToBytes,
  type ControlMessage,
  type ModelKind,
  secureRoundId,
  type RoundInput,
  type RoundStartMessage,
  type SecureAggregationSpec,
  type RoundClose,
  type StragglerPolicy,
  type TuningStatus,
} from '../core/tuning';
import { keptAlive } from './keep-alive';
import { publishRoundEvents } from './round-events';
import { roundEvents, type RefusedUpdate } from '../core/analytics/round-events';
import { MessageProofs } from './message-proofs';
import { collectPlainly, type Arrival, type ReportedMetrics, type WorkSummary } from './plain-collection';
import { RoundContributions } from './round-contributions';
import { collectSecurely, secureRoundConfig } from './secure-collection';
import { loadMessageIds, SettlingConsumer, storeMessageIds } from './settled-messages';
import type { LocalTraining, Evaluation } from '../core/models/softmax';
import { swarmTopics } from '../core/topics';
import type { AgentDirectory, AgentKeyDirectory, BlobStore, Consumer, ContributionLedger, MessagingPort, ModelEvaluator, ReceivedMessage } from '../adapters/ports';
import type { WorkerMetrics } from './metrics';

export interface TuningDeps {
  messaging: MessagingPort;
  blobs: BlobStore;
  directory: AgentDirectory;
  evaluator: ModelEvaluator;
  /** Keys the DP noise of a round; also verifies the manager's relay proofs. */
  credentialSecret: string;
  agentKeys: AgentKeyDirectory;
  metrics?: WorkerMetrics;
  /** Where each aggregated round's accepted updates are counted per agent (reputation); optional. */
  contributions?: ContributionLedger;
}

/** Models up to this size travel inside the round-start message. */
const INLINE_MODEL_BYTES = 256 * 1024;
/** Round starts being published at once: bounds the broker connections a round opens together. */
const PUBLISHES_IN_FLIGHT = 256;

/** What the evaluation-only round heard: answers kept, refusals by reason, and their combination. */
export interface EvaluationOutcome {
  answered: number;
  rejected: Record<string, number>;
  evaluation?: FinalEvaluation;
}

export interface StartRoundInput extends RoundInput {
  globalDigest: string;
  training: LocalTraining;
  secureAggregation?: SecureAggregationSpec;
  clipNorm?: number;
  localPrivacy?: { clipNorm: number; noiseMultiplier: number };
  /** False when the round has no federated evaluation. */
  evaluate?: boolean;
  /** The evaluation-only round after the last: agents score the model and train nothing. */
  evaluateOnly?: boolean;
}

export interface SelectionInput {
  swarmId: string;
  count?: number;
  fraction?: number;
  minParticipants: number;
  requirements?: { cpu?: number; memoryMb?: number; gpu?: number };
  /** Round each agent last took part in. */
  lastParticipation: Record<string, number>;
  exclude: string[];
  seed: number;
  round: number;
  attempt: number;
  /** Uniform when absent. */
  strategy?: SelectionStrategy;
  options?: SelectionOptions;
  /** Oort: the blob of what each agent's earlier rounds showed (recordFeedback); none before the first round. */
  feedbackDigest?: string;
  /** Carbon-aware: when the round starts (ms since the epoch), and whether accuracy allows preferring low carbon. */
  atMs?: number;
  preferLowCarbon?: boolean;
}

export interface SelectionResult {
  participants: string[];
  /** Agents that were eligible (resources fit, not excluded). */
  eligible: number;
  strategy: SelectionStrategy;
  exploring?: number;
  lowCarbon?: boolean;
}


/**
 * A round input whose participants travel as the digest of their stored list (a JSON array
 * of agent ids in selection order): at 10,000 agents the list is ~280 KB, too much to
 * carry through the job's history once per activity.
 */
export type ByParticipantsDigest<T extends RoundInput> = Omit<T, 'participants'> & { participantsDigest: string };

export interface StoredSelectionInput extends Omit<SelectionInput, 'lastParticipation'> {
  /** Blob of the round each agent last took part in (storeParticipation); none before the first round. */
  participationDigest?: string;
  /** Rounds carried from a run that kept them in the workflow; merged over participationDigest's. */
  lastParticipation?: Record<string, number>;
}

/** A selection whose participants stay in the blob store: the history carries their digest and count. */
export interface StoredSelection extends Omit<SelectionResult, 'participants'> {
  participantsDigest: string;
  participantCount: number;
  /** Blob of the round each agent last took part in, with this selection's participants at this round. */
  participationDigest: string;
}

type WithoutReported<T> = T extends unknown ? Omit<T, 'reported'> : never;
/** A collection's outcome by digest: the participants that sent nothing instead of those that reported. */
export type SilentCollectOutcome = WithoutReported<CollectOutcome> & { silent: string[] };


export interface CollectInput extends RoundInput {
  minParticipants: number;
  dimension: number;
  globalDigest: string;
  serverStateDigest?: string;
  strategy: StrategyName;
  strategyOptions: StrategyOptions;
  maxUpdateNorm?: number;
  privacy?: { clipNorm: number; noiseMultiplier: number };
  secureAggregation?: SecureAggregationSpec;
  seed: number;
  /**
   * Oort: fold what this round showed of each participant into the feedback blob
   * previousDigest (durations counted from startedAt, ms since the epoch; silent
   * participants charged timeoutMs) and return the new blob's digest.
   */
  learnFeedback?: { startedAt: number; timeoutMs: number; previousDigest?: string };
  stragglers?: StragglerPolicy;
  /** The round's length, for stragglers.closeWhen.afterMs. */
  roundTimeoutMs?: number;
  /**
   * Leave this collection's messages unacknowledged and return their ids as heldDigest: the
   * workflow passes it back as `settled` to its next collection once it recorded this one.
   */
  deferAcks?: boolean;
  /** Blob of the message ids earlier recorded collections counted: acknowledged and skipped here. */
  settled?: string;
}

/** How much work stood behind a round's updates (plain rounds; see RoundMetrics). */
export interface CollectedWork {
  partial: number;
  dropped: number;
  stepsCompleted: number;
  stepsPlanned: number;
  closedBy: RoundClose;
}

export type CollectOutcome =
  | {
      status: 'aggregated';
      globalDigest: string;
      serverStateDigest: string;
      reported: string[];
      accepted: number;
      rejected: Record<string, number>;
      examples: number;
      trainLoss?: number;
      trainAccuracy?: number;
      agentLoss?: number;
      agentAccuracy?: number;
      work?: CollectedWork;
      /** Updates of earlier rounds read in this one, by round: late in their own round. */
      lateByRound?: Record<string, number>;
      agentEvalExamples?: number;
      /** Present when learnFeedback was asked for and the round was not secure. */
      feedbackDigest?: string;
      /** With deferAcks: the blob of the ids of the messages read and not acknowledged. */
      heldDigest?: string;
    }
  | {
      status: 'quorum-not-met';
      reported: string[];
      accepted: number;
      rejected: Record<string, number>;
      reason?: string;
      lateByRound?: Record<string, number>;
      heldDigest?: string;
    };

interface ServerStateBlob {
  round: number;
  vectors: Record<string, string>;
}

export function createTuningActivities(deps: TuningDeps) {
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);
  const loadParams = async (digest: string): Promise<Float32Array> => {
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no model blob ${digest}`, 'MODEL_NOT_FOUND');
    return bytesToParams(bytes);
  };

  const loadState = async (digest: string | undefined): Promise<ServerState> => {
    if (!digest) return { round: 0, vectors: {} };
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no server state blob ${digest}`, 'STATE_NOT_FOUND');
    const blob = JSON.parse(Buffer.from(bytes).toString('utf8')) as ServerStateBlob;
    const vectors: Record<string, Float32Array> = {};
    for (const [name, base64] of Object.entries(blob.vectors)) vectors[name] = bytesToParams(Buffer.from(base64, 'base64'));
    return { round: blob.round, vectors };
  };

  const storeState = async (state: ServerState): Promise<string> => {
    const blob: ServerStateBlob = {
      round: state.round,
      vectors: Object.fromEntries(
        Object.entries(state.vectors)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, vector]) => [name, Buffer.from(paramsToBytes(vector)).toString('base64')]),
      ),
    };
    return deps.blobs.put(Buffer.from(JSON.stringify(blob)));
  };

  const loadFeedback = async (digest: string | undefined): Promise<Record<string, AgentFeedback>> => {
    if (!digest) return {};
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no selection feedback blob ${digest}`, 'STATE_NOT_FOUND');
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, AgentFeedback>;
  };

  /** Keys in order, so the same feedback is the same blob. */
  const storeFeedback = (feedback: Record<string, AgentFeedback>): Promise<string> =>
    deps.blobs.put(Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(feedback).sort(([a], [b]) => (a < b ? -1 : 1)))), 'utf8'));

  const loadParticipants = async (digest: string): Promise<string[]> => {
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no participant list blob ${digest}`, 'STATE_NOT_FOUND');
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as string[];
  };

  const loadParticipation = async (digest: string | undefined): Promise<Record<string, number>> => {
    if (!digest) return {};
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no participation blob ${digest}`, 'STATE_NOT_FOUND');
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, number>;
  };

  /** Keys in order, so the same rounds are the same blob. */
  const storeParticipation = (participation: Record<string, number>): Promise<string> =>
    deps.blobs.put(Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(participation).sort(([a], [b]) => (a < b ? -1 : 1)))), 'utf8'));

  const publishControl = async (swarmId: string, message: ControlMessage): Promise<void> => {
    await deps.messaging.publish(swarmTopics(swarmId).control, Buffer.from(JSON.stringify(message)), {
      key: message.jobId,
      properties: { type: message.type, jobId: message.jobId },
    });
  };

  /** Central DP noise, keyed by the round so a retried aggregation adds the same noise. */
  const addCentralNoise = (
    params: Float32Array,
    round: Pick<CollectInput, 'jobId' | 'round' | 'attempt'>,
    privacy: { clipNorm: number; noiseMultiplier: number },
    participants: number,
  ): Float32Array => {
    const noiseKey = createHmac('sha256', deps.credentialSecret)
      .update(`dp-noise/${round.jobId}/${round.round}/${round.attempt}`)
      .digest();
    return gaussianNoise(params, centralNoiseStd(privacy.noiseMultiplier, privacy.clipNorm, participants), keyedUniform(noiseKey));
  };

  const activities = {
    /** The starting global model: the given blob, or zeros of the model's dimension. */
    async initializeModel(input: { dimension: number; initialDigest?: string }): Promise<string> {
      if (input.initialDigest) {
        const params = await loadParams(input.initialDigest);
        if (params.length !== input.dimension) {
          throw ApplicationFailure.nonRetryable(
            `initial model has ${params.length} parameters, the job says ${input.dimension}`,
            'INVALID_ARGUMENT',
          );
        }
        return input.initialDigest;
      }
      return deps.blobs.put(paramsToBytes(new Float32Array(input.dimension)));
    },

    /**
     * ACTIVE agents whose resources fit, chosen by the job's strategy
     * (core/selection), seeded by the job, round and attempt so a job's
     * selections repeat.
     */
    async selectParticipants(input: SelectionInput): Promise<SelectionResult> {
      const excluded = new Set(input.exclude);
      const need = input.requirements ?? {};
      const eligible = (await deps.directory.listActive(input.swarmId))
        .filter((entry) => !excluded.has(entry.agentId))
        .filter((entry) => {
          const r = entry.resources;
          if (!need.cpu && !need.memoryMb && !need.gpu) return true;
          if (!r) return false;
          return r.cpu >= (need.cpu ?? 0) && r.memoryMb >= (need.memoryMb ?? 0) && (r.gpu ?? 0) >= (need.gpu ?? 0);
        });
      const wanted = input.count ?? Math.max(input.minParticipants, Math.ceil((input.fraction ?? 1) * eligible.length));
      const strategy = input.strategy ?? DEFAULT_SELECTION;
      const feedback = strategy === 'oort' ? await loadFeedback(input.feedbackDigest) : undefined;
      const selection = selectParticipants({
        strategy,
        candidates: eligible,
        wanted,
        seed: input.seed,
        round: input.round,
        attempt: input.attempt,
        lastParticipation: input.lastParticipation,
        feedback,
        atMs: input.atMs,
        preferLowCarbon: input.preferLowCarbon,
        options: input.options,
      });
      return { ...selection, eligible: eligible.length, strategy };
    },

    /**
     * selectParticipants with the list kept out of the history: stores the participants and
     * the rounds each agent last took part in (theirs set to this round) as blobs and returns
     * their digests with the count. The workflow adopts participationDigest once the round's
     * collection returned, as it updated lastParticipation before.
     */
    async selectAndStoreParticipants(input: StoredSelectionInput): Promise<StoredSelection> {
      const { participationDigest, lastParticipation: carried, ...rest } = input;
      const lastParticipation = { ...(await loadParticipation(participationDigest)), ...carried };
      const { participants, ...selection } = await activities.selectParticipants({ ...rest, lastParticipation });
      for (const agentId of participants) lastParticipation[agentId] = input.round;
      return {
        ...selection,
        participantsDigest: await deps.blobs.put(Buffer.from(JSON.stringify(participants), 'utf8')),
        participantCount: participants.length,
        participationDigest: await storeParticipation(lastParticipation),
      };
    },

    /** startRound for the participants stored under participantsDigest. */
    async startRoundByDigest(input: ByParticipantsDigest<StartRoundInput>): Promise<void> {
      const { participantsDigest, ...round } = input;
      await activities.startRound({ ...round, participants: await loadParticipants(participantsDigest) });
    },

    /** Puts the round start in each participant's inbox (the contract is at RoundStartMessage). */
    async startRound(input: StartRoundInput): Promise<void> {
      const bytes = await deps.blobs.get(input.globalDigest);
      if (!bytes) throw ApplicationFailure.nonRetryable(`no model blob ${input.globalDigest}`, 'MODEL_NOT_FOUND');
      const common: Omit<RoundStartMessage, 'agentId'> = {
        type: 'round-start',
        jobId: input.jobId,
        round: input.round,
        attempt: input.attempt,
        globalDigest: input.globalDigest,
        globalParams: bytes.byteLength <= INLINE_MODEL_BYTES ? Buffer.from(bytes).toString('base64') : undefined,
        training: input.training,
        deadlineAt: input.deadlineAt,
        updatesTopic: swarmTopics(input.swarmId).updates(input.jobId),
        secureAggregation: input.secureAggregation
          ? {
              config: secureRoundConfig(
                secureRoundId(input.jobId, input.round, input.attempt),
                bytes.byteLength / 4,
                input.secureAggregation,
              ),
              stageTimeoutMs: input.secureAggregation.stageTimeoutMs,
            }
          : undefined,
        clipNorm: input.secureAggregation ? input.clipNorm : undefined,
        localPrivacy: input.localPrivacy,
        evaluate: input.evaluate,
        ...(input.evaluateOnly ? { evaluateOnly: true } : {}),
      };
      // Serialised once: each participant's message is its addressee and budget in front of the same body.
      const body = Buffer.from(JSON.stringify(common).slice(1));
      const topics = swarmTopics(input.swarmId);
      const properties = { type: 'round-start', jobId: input.jobId };
      const shares = input.training.scaleByCapacity ? await capacityShares(deps.directory, input.swarmId, input.participants) : undefined;
      await forEachBounded(input.participants, PUBLISHES_IN_FLIGHT, async (agentId) => {
        const budget = JSON.stringify(agentBudget(input.training, shares?.get(agentId)));
        const payload = Buffer.concat([Buffer.from(`{"agentId":${JSON.stringify(agentId)},"budget":${budget},`), body]);
        await deps.messaging.publish(topics.inbox(agentId), payload, { key: agentId, properties });
      });
    },

    /**
     * Reads the round's updates until every participant reported or the
     * deadline passed (an update counts when the broker accepted it by the
     * deadline), aggregates the valid ones, stores the new model and server
     * state, and only then acknowledges the messages: a worker that dies here
     * loses nothing, and the retry sees the same updates and computes the same bits.
     * With deferAcks not even then: the messages stay unacknowledged until the
     * workflow has recorded this result and passes their ids to its next
     * collection (`settled`), so a result lost on its way to Temporal (a restart)
     * does not take acknowledged updates with it.
     */
    async collectAndAggregate(input: CollectInput): Promise<CollectOutcome> {
      const global = await loadParams(input.globalDigest);
      const settled = await loadMessageIds(deps.blobs, input.settled);
      const consumer = new SettlingConsumer(
        await deps.messaging.subscribe(swarmTopics(input.swarmId).updates(input.jobId), `aggregator-${input.jobId}`, {
          type: 'exclusive',
          initialPosition: 'earliest',
        }),
        settled,
      );
      /** Acknowledges what was read, or with deferAcks stores its ids (and the settled ones not seen) for the next collection. */
      const settle = async (held: ReceivedMessage[]): Promise<{ heldDigest?: string }> => {
        if (input.deferAcks) return { heldDigest: await storeMessageIds(deps.blobs, [...held.map((m) => m.id), ...consumer.unseen()]) };
        await Promise.all(held.map((m) => consumer.ack(m)));
        return {};
      };
      const rejected: Record<string, number> = {};
      const refused: RefusedUpdate[] = [];
      const reject = (reason: string, agentId?: string) => {
        rejected[reason] = (rejected[reason] ?? 0) + 1;
        refused.push({ reason, agentId, at: Date.now() });
        deps.metrics?.updatesRejected.inc({ reason });
      };
      const closed = (status: CollectOutcome['status'], reported: string[]) =>
        publishRoundEvents(deps.messaging, input.swarmId, roundEvents({ ...input, status, reported, refused, closedAt: Date.now() }));
      const participants = new Set(input.participants);
      const updatesTopic = swarmTopics(input.swarmId).updates(input.jobId);
      const check = async (message: ReceivedMessage, agentId: string): Promise<string | undefined> => {
        if (!participants.has(agentId)) return 'not-selected';
        const sender = await proofs.sender(input.swarmId, updatesTopic, message);
        if (!sender.ok) return sender.reason;
        return sender.agentId === agentId ? undefined : 'bad-proof';
      };
      try {
        const round = input.secureAggregation
          ? await collectSecureRound(input, input.secureAggregation, deps.messaging, global, consumer, check, reject)
          : await collectPlainRound(input, global, consumer, check, reject);
        if (round.status === 'collected' || !input.secureAggregation) deps.metrics?.updatesAccepted.inc(round.accepted);
        Context.current().log.info('round collected', {
          jobId: input.jobId,
          swarmId: input.swarmId,
          round: input.round,
          attempt: input.attempt,
          status: round.status,
          accepted: round.accepted,
          rejected,
        });
        if (round.status === 'quorum-not-met') {
          // This attempt is over: its updates can never count, so they are acknowledged away.
          const settledHeld = await settle(round.held);
          await closed('quorum-not-met', round.reported);
          return {
            ...settledHeld,
            status: 'quorum-not-met',
            reported: round.reported,
            accepted: round.accepted,
            rejected,
            reason: round.reason,
            ...lateOf(round),
          };
        }
        const next = round.contributions.aggregate(global, await loadState(input.serverStateDigest));
        const params = input.privacy ? addCentralNoise(next.params, input, input.privacy, participants.size) : next.params;
        const globalDigest = await deps.blobs.put(paramsToBytes(params));
        const serverStateDigest = await storeState(next.state);
        const settledHeld = await settle(round.held);
        await recordContributions(input, round.arrivals?.map((arrival) => arrival.agentId) ?? round.reported);
        const learn = input.learnFeedback;
        const feedbackDigest =
          learn && round.arrivals
            ? await storeFeedback(
                recordFeedback(
                  await loadFeedback(learn.previousDigest),
                  input.round,
                  input.participants,
                  round.arrivals.map(({ publishTime, ...report }) => ({ ...report, durationMs: publishTime - learn.startedAt })),
                  learn.timeoutMs,
                ),
              )
            : undefined;
        await closed('aggregated', round.reported);
        return {
          status: 'aggregated',
          globalDigest,
          serverStateDigest,
          reported: round.reported,
          accepted: round.accepted,
          rejected,
          examples: round.contributions.examples,
          ...round.metrics,
          ...workOf(round.work, input, round.reported.length),
          ...lateOf(round),
          feedbackDigest,
          ...settledHeld,
        };
      } finally {
        await consumer.close();
      }
    },

    /** collectAndAggregate for the participants stored under participantsDigest; returns the silent ones, not the reported. */
    async collectAndAggregateByDigest(input: ByParticipantsDigest<CollectInput>): Promise<SilentCollectOutcome> {
      const { participantsDigest, ...round } = input;
      const participants = await loadParticipants(participantsDigest);
      const { reported, ...outcome } = await activities.collectAndAggregate({ ...round, participants });
      const heard = new Set(reported);
      return { ...outcome, silent: participants.filter((agentId) => !heard.has(agentId)) } as SilentCollectOutcome;
    },

    /**
     * After a job's last round: reads the updates that arrive for it (or for earlier rounds) until
     * every participant in `awaiting` has been heard from or windowMs has passed, and counts them
     * late in their own round; nothing else would ever read them. Acknowledged only at the end,
     * so a retry counts the same messages. With deferAcks never: the topic is deleted next. Messages
     * whose ids are in `settled` were counted by a recorded collection: skipped.
     */
    async drainLateUpdates(input: {
      jobId: string;
      swarmId: string;
      round: number;
      awaiting: string[];
      windowMs: number;
      deferAcks?: boolean;
      settled?: string;
    }): Promise<{ lateByRound: Record<string, number> }> {
      const consumer = new SettlingConsumer(
        await deps.messaging.subscribe(swarmTopics(input.swarmId).updates(input.jobId), `aggregator-${input.jobId}`, {
          type: 'exclusive',
          initialPosition: 'earliest',
        }),
        await loadMessageIds(deps.blobs, input.settled),
      );
      const lateByRound: Record<string, number> = {};
      const awaiting = new Set(input.awaiting);
      const held: ReceivedMessage[] = [];
      const until = Date.now() + input.windowMs;
      try {
        while (awaiting.size > 0 && Date.now() < until) {
          const message = await consumer.receive(Math.min(until - Date.now(), 500));
          if (!message) continue;
          held.push(message);
          // A secure round's late protocol message counts as a plain round's late update.
          const header = decodeUpdateHeader(message.properties) ?? decodeSecAggHeader(message.properties);
          if (!header || header.jobId !== input.jobId || header.round > input.round) continue;
          lateByRound[header.round] = (lateByRound[header.round] ?? 0) + 1;
          if (header.round === input.round) awaiting.delete(header.agentId);
        }
        if (!input.deferAcks) await Promise.all(held.map((m) => consumer.ack(m)));
      } finally {
        await consumer.close();
      }
      return { lateByRound };
    },

    /**
     * The evaluation-only round's answers: reads the updates topic until every participant answered
     * or the deadline passed (an answer counts when the broker accepted it by the deadline), keeps one
     * evalOnly answer per participant with a valid proof, and combines their scores by examples.
     * Messages of earlier rounds were counted by their own collections: skipped. Acknowledged only
     * at the end (with deferAcks never: the topic is deleted next), so a retry reads the same answers.
     */
    async collectEvaluations(input: ByParticipantsDigest<RoundInput & { deferAcks?: boolean; settled?: string }>): Promise<EvaluationOutcome> {
      const participants = new Set(await loadParticipants(input.participantsDigest));
      const updatesTopic = swarmTopics(input.swarmId).updates(input.jobId);
      const consumer = new SettlingConsumer(
        await deps.messaging.subscribe(updatesTopic, `aggregator-${input.jobId}`, { type: 'exclusive', initialPosition: 'earliest' }),
        await loadMessageIds(deps.blobs, input.settled),
      );
      const held: ReceivedMessage[] = [];
      const scores = new Map<string, { loss: number; accuracy: number; examples: number }>();
      const rejected: Record<string, number> = {};
      const reject = (reason: string) => (rejected[reason] = (rejected[reason] ?? 0) + 1);
      try {
        for (;;) {
          if (scores.size >= participants.size) break;
          const now = Date.now();
          const draining = now >= input.deadlineAt;
          const message = await consumer.receive(draining ? 300 : Math.min(input.deadlineAt - now, 500));
          Context.current().heartbeat({ answered: scores.size });
          if (!message) {
            if (draining) break;
            continue;
          }
          held.push(message);
          const header = decodeUpdateHeader(message.properties);
          if (header && header.jobId === input.jobId && header.round < input.round) continue;
          const mismatch = roundMismatch(header, input);
          if (mismatch || !header) {
            reject(mismatch ?? 'malformed');
            continue;
          }
          if (!header.evalOnly || header.evalLoss === undefined || header.evalAccuracy === undefined || header.evalExamples === undefined) {
            reject('malformed');
            continue;
          }
          if (message.publishTime > input.deadlineAt) {
            reject('late');
            continue;
          }
          if (!participants.has(header.agentId)) {
            reject('not-selected');
            continue;
          }
          const sender = await proofs.sender(input.swarmId, updatesTopic, message);
          if (!sender.ok || sender.agentId !== header.agentId) {
            reject(sender.ok ? 'bad-proof' : sender.reason);
            continue;
          }
          if (scores.has(header.agentId)) {
            reject('duplicate');
            continue;
          }
          scores.set(header.agentId, { loss: header.evalLoss, accuracy: header.evalAccuracy, examples: header.evalExamples });
        }
        if (!input.deferAcks) await Promise.all(held.map((m) => consumer.ack(m)));
      } finally {
        await consumer.close();
      }
      return { answered: scores.size, rejected, evaluation: combineEvaluations([...scores.values()]) };
    },

    async evaluateModel(input: { kind: ModelKind; globalDigest: string }): Promise<Evaluation | undefined> {
      return deps.evaluator.evaluate(input.kind, await loadParams(input.globalDigest));
    },

    async announceJobFinished(input: {
      jobId: string;
      swarmId: string;
      status: TuningStatus;
      globalDigest: string;
    }): Promise<void> {
      await publishControl(input.swarmId, { type: 'job-finished', ...input });
      // Nothing reads the job's updates any more: its topic and the aggregator's subscription go.
      await deps.messaging.deleteTopic(swarmTopics(input.swarmId).updates(input.jobId));
    },
  };
  // Quick activities heartbeat while they run; the aggregation reports its own progress.
  /**
   * Counts the round's accepted updates toward their agents' reputation. Best effort: the round
   * is aggregated and acknowledged already, so a ledger that does not answer costs reputation,
   * never the round (a retry could not collect it again).
   */
  async function recordContributions(input: CollectInput, agentIds: string[]): Promise<void> {
    if (!deps.contributions || agentIds.length === 0) return;
    try {
      await deps.contributions.record({ swarmId: input.swarmId, jobId: input.jobId, round: input.round, agentIds });
    } catch (error) {
      Context.current().log.warn('accepted updates not recorded for reputation', {
        jobId: input.jobId,
        round: input.round,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  const { collectAndAggregate, collectAndAggregateByDigest, collectEvaluations, ...quick } = activities;
  return { ...keptAlive(quick), collectAndAggregate, collectAndAggregateByDigest, collectEvaluations };
}

type CollectedRound =
  | {
      status: 'collected';
      held: ReceivedMessage[];
      reported: string[];
      accepted: number;
      contributions: RoundContributions;
      metrics?: ReturnType<ReportedMetrics['summary']>;
      work?: WorkSummary;
      /** Accepted updates in agent-id order (plain rounds only). */
      arrivals?: Arrival[];
      /** Secure rounds: messages of earlier rounds read in this one (plain rounds count them in work). */
      lateByRound?: Record<string, number>;
    }
  | {
      status: 'quorum-not-met';
      held: ReceivedMessage[];
      reported: string[];
      accepted: number;
      reason?: string;
      work?: WorkSummary;
      lateByRound?: Record<string, number>;
    };

async function collectPlainRound(
  input: CollectInput,
  global: Float32Array,
  consumer: Consumer,
  check: (message: ReceivedMessage, agentId: string) => Promise<string | undefined>,
  reject: (reason: string, agentId?: string) => void,
): Promise<CollectedRound> {
  const strategy = createStrategy(input.strategy, input.strategyOptions);
  const contributions = new RoundContributions(strategy, input.dimension);
  const plain = await collectPlainly(input, consumer, global, check, reject, contributions);
  const reported = [...plain.reported].sort();
  const accepted = contributions.count;
  return accepted < input.minParticipants
    ? { status: 'quorum-not-met', held: plain.held, reported, accepted, work: plain.work }
    : {
        status: 'collected',
        held: plain.held,
        reported,
        accepted,
        contributions,
        metrics: plain.metrics.summary(),
        work: plain.work,
        arrivals: [...plain.arrivals].sort((a, b) => (a.agentId < b.agentId ? -1 : 1)),
      };
}

async function collectSecureRound(
  input: CollectInput,
  secure: SecureAggregationSpec,
  messaging: MessagingPort,
  global: Float32Array,
  consumer: Consumer,
  check: (message: ReceivedMessage, agentId: string) => Promise<string | undefined>,
  reject: (reason: string, agentId?: string) => void,
): Promise<CollectedRound> {
  if (Context.current().info.attempt > 1) {
    // The protocol's secrets lived in the process that died; the workflow
    // runs the round again as a new attempt with fresh keys.
    return { status: 'quorum-not-met', held: [], reported: [], accepted: 0, reason: 'secure round interrupted' };
  }
  const config = secureRoundConfig(secureRoundId(input.jobId, input.round, input.attempt), input.dimension, secure);
  const result = await collectSecurely({ ...input, secure, config }, consumer, messaging, check, reject);
  const reported = [...result.survivors].sort();
  if (!result.meanDelta || result.survivors.length < input.minParticipants) {
    return {
      status: 'quorum-not-met',
      held: result.held,
      reported,
      accepted: result.survivors.length,
      reason: result.failure,
      lateByRound: result.lateByRound,
    };
  }
  const contributions = new RoundContributions(createStrategy(input.strategy, input.strategyOptions), input.dimension);
  // The sum is all the manager knows: it enters the strategy as one update.
  contributions.add({
    agentId: '(secure sum)',
    examples: Math.max(1, Math.round(result.totalWeight)),
    params: Float32Array.from(result.meanDelta, (delta, i) => global[i] + delta),
  });
  return { status: 'collected', held: result.held, reported, accepted: reported.length, contributions, lateByRound: result.lateByRound };
}

/** Each participant's cpu over the largest among them, (0, 1]; agents that declared none get 1. */
async function capacityShares(directory: AgentDirectory, swarmId: string, participants: readonly string[]): Promise<Map<string, number>> {
  const wanted = new Set(participants);
  const cpus = new Map<string, number>();
  for (const entry of await directory.listActive(swarmId)) {
    const cpu = entry.resources?.cpu;
    if (wanted.has(entry.agentId) && cpu !== undefined && cpu > 0) cpus.set(entry.agentId, cpu);
  }
  const largest = Math.max(0, ...cpus.values());
  return new Map(participants.map((agentId) => [agentId, largest > 0 && cpus.has(agentId) ? cpus.get(agentId)! / largest : 1]));
}

/** The round's work figures: partial updates kept, participants whose work did not count. */
function workOf(work: WorkSummary | undefined, input: CollectInput, reported: number): { work?: CollectedWork } {
  if (!work) return {};
  return {
    work: {
      partial: work.partial,
      dropped: work.droppedPartial + (input.participants.length - reported),
      stepsCompleted: work.stepsCompleted,
      stepsPlanned: work.stepsPlanned,
      closedBy: work.closedBy,
    },
  };
}

function lateOf(round: { work?: WorkSummary; lateByRound?: Record<string, number> }): { lateByRound?: Record<string, number> } {
  const late = round.lateByRound ?? round.work?.lateByRound;
  return late && Object.keys(late).length > 0 ? { lateByRound: late } : {};
}

/** Items between two turns of the event loop in forEachBounded. */
const ITEMS_PER_TURN = 64;

/**
 * Runs task over items with at most limit in flight. Every ITEMS_PER_TURN items it lets the event
 * loop turn: an in-process broker resolves each publish as a microtask, and 10,000 of them (with the
 * in-process agents' answers) otherwise ran for seconds without a timer, so the activity's heartbeats
 * stopped and the round failed on its heartbeat timeout.
 */
async function forEachBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      if (index > 0 && index % ITEMS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export type TuningActivities = ReturnType<typeof createTuningActivities>;
