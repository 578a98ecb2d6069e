// Activities of federated tuning: participant selection, the round's start
// message, collecting and aggregating updates, storing models, evaluation.
// Model tensors stay here and in the blob store; the workflow sees digests.
import { Context } from '@temporalio/activity';
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { createStrategy, validateUpdate } from '../core/aggregation';
import { ExactWeightedMean } from '../core/aggregation/exact-mean';
import type { ModelUpdate, ServerState, StrategyName, StrategyOptions } from '../core/aggregation/types';
import { verifyCredential } from '../core/credentials';
import { centralNoiseStd, clipToNorm, gaussianNoise, keyedUniform } from '../core/privacy/gaussian';
import { mixSeed, seededRandom, shuffle } from '../core/random';
import {
  bytesToParams,
  decodeUpdateHeader,
  paramsToBytes,
  roundMismatch,
  type ControlMessage,
  type ModelKind,
  secureRoundId,
  type RoundStartMessage,
  type SecureAggregationSpec,
  type TuningStatus,
} from '../core/tuning';
import { collectSecurely, secureRoundConfig } from './secure-collection';
import type { LocalTraining, Evaluation } from '../core/models/softmax';
import { swarmTopics } from '../core/topics';
import type { AgentDirectory, BlobStore, MessagingPort, ModelEvaluator, ReceivedMessage } from '../adapters/ports';
import type { WorkerMetrics } from './metrics';

export interface TuningDeps {
  messaging: MessagingPort;
  blobs: BlobStore;
  directory: AgentDirectory;
  evaluator: ModelEvaluator;
  credentialSecret: string;
  metrics?: WorkerMetrics;
}

/** Models up to this size travel inside the round-start message. */
const INLINE_MODEL_BYTES = 256 * 1024;
/** After the deadline, how long to keep draining updates that were published in time. */
const LATE_DRAIN_MS = 300;

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
}

export interface CollectInput {
  jobId: string;
  swarmId: string;
  round: number;
  attempt: number;
  participants: string[];
  deadlineAt: number;
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
    }
  | {
      status: 'quorum-not-met';
      reported: string[];
      accepted: number;
      rejected: Record<string, number>;
      reason?: string;
    };

interface ServerStateBlob {
  round: number;
  vectors: Record<string, string>;
}

export function createTuningActivities(deps: TuningDeps) {
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

  const publishControl = async (swarmId: string, message: ControlMessage): Promise<void> => {
    await deps.messaging.publish(swarmTopics(swarmId).control, Buffer.from(JSON.stringify(message)), {
      key: message.jobId,
      properties: { type: message.type, jobId: message.jobId },
    });
  };

  return {
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
     * ACTIVE agents whose resources fit, those that waited longest first, a
     * seeded shuffle breaking ties so a job's selections repeat.
     */
    async selectParticipants(input: SelectionInput): Promise<{ participants: string[]; eligible: number }> {
      const excluded = new Set(input.exclude);
      const need = input.requirements ?? {};
      const eligible = (await deps.directory.listActive(input.swarmId))
        .filter((entry) => !excluded.has(entry.agentId))
        .filter((entry) => {
          const r = entry.resources;
          if (!need.cpu && !need.memoryMb && !need.gpu) return true;
          if (!r) return false;
          return r.cpu >= (need.cpu ?? 0) && r.memoryMb >= (need.memoryMb ?? 0) && (r.gpu ?? 0) >= (need.gpu ?? 0);
        })
        .map((entry) => entry.agentId)
        .sort();
      const random = seededRandom(mixSeed(input.seed, input.round, input.attempt));
      const order = shuffle(eligible, random);
      const waited = (agentId: string) => input.lastParticipation[agentId] ?? -1;
      order.sort((a, b) => waited(a) - waited(b)); // stable: ties keep the seeded order
      const wanted = input.count ?? Math.max(input.minParticipants, Math.ceil((input.fraction ?? 1) * order.length));
      return { participants: order.slice(0, wanted).sort(), eligible: order.length };
    },

    async startRound(input: {
      jobId: string;
      swarmId: string;
      round: number;
      attempt: number;
      participants: string[];
      globalDigest: string;
      training: LocalTraining;
      deadlineAt: number;
      secureAggregation?: SecureAggregationSpec;
      clipNorm?: number;
      localPrivacy?: { clipNorm: number; noiseMultiplier: number };
    }): Promise<void> {
      const bytes = await deps.blobs.get(input.globalDigest);
      if (!bytes) throw ApplicationFailure.nonRetryable(`no model blob ${input.globalDigest}`, 'MODEL_NOT_FOUND');
      const message: RoundStartMessage = {
        type: 'round-start',
        jobId: input.jobId,
        round: input.round,
        attempt: input.attempt,
        participants: input.participants,
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
      };
      await publishControl(input.swarmId, message);
    },

    /**
     * Reads the round's updates until every participant reported or the
     * deadline passed (an update counts when the broker accepted it by the
     * deadline), aggregates the valid ones, stores the new model and server
     * state, and only then acknowledges the messages: a worker that dies here
     * loses nothing, and the retry sees the same updates and computes the same bits.
     */
    async collectAndAggregate(input: CollectInput): Promise<CollectOutcome> {
      const context = Context.current();
      const participants = new Set(input.participants);
      const global = await loadParams(input.globalDigest);
      const consumer = await deps.messaging.subscribe(
        swarmTopics(input.swarmId).updates(input.jobId),
        `aggregator-${input.jobId}`,
        { type: 'exclusive', initialPosition: 'earliest' },
      );
      const strategy = createStrategy(input.strategy, input.strategyOptions);
      const mean = new ExactWeightedMean(input.dimension);
      const buffered: ModelUpdate[] = [];
      const held: ReceivedMessage[] = [];
      const reported = new Set<string>();
      const rejected: Record<string, number> = {};
      const reject = (reason: string) => {
        rejected[reason] = (rejected[reason] ?? 0) + 1;
        deps.metrics?.updatesRejected.inc({ reason });
      };
      let lossSum = 0;
      let accuracySum = 0;
      let metricExamples = 0;
      let evalLossSum = 0;
      let evalAccuracySum = 0;
      let evalExamples = 0;
      const credentialProblem = (agentId: string, credential: string): string | undefined => {
        if (!participants.has(agentId)) return 'not-selected';
        try {
          const claims = verifyCredential(deps.credentialSecret, credential, Math.floor(Date.now() / 1000));
          return claims.sub === agentId ? undefined : 'bad-credential';
        } catch {
          return 'bad-credential';
        }
      };
      try {
        if (input.secureAggregation) {
          if (context.info.attempt > 1) {
            // The protocol's secrets lived in the process that died; the workflow
            // runs the round again as a new attempt with fresh keys.
            return { status: 'quorum-not-met', reported: [], accepted: 0, rejected, reason: 'secure round interrupted' };
          }
          const secure = await collectSecurely(
            {
              ...input,
              secure: input.secureAggregation,
              config: secureRoundConfig(
                secureRoundId(input.jobId, input.round, input.attempt),
                input.dimension,
                input.secureAggregation,
              ),
            },
            consumer,
            deps.messaging,
            credentialProblem,
            reject,
          );
          held.push(...secure.held);
          for (const agentId of secure.survivors) reported.add(agentId);
          if (!secure.meanDelta || secure.survivors.length < input.minParticipants) {
            await Promise.all(held.map((m) => consumer.ack(m)));
            return {
              status: 'quorum-not-met',
              reported: [...reported].sort(),
              accepted: secure.survivors.length,
              rejected,
              reason: secure.failure,
            };
          }
          const meanParams = Float32Array.from(secure.meanDelta, (delta, i) => global[i] + delta);
          // The sum is all the manager knows: it enters the strategy as one update.
          mean.add({ examples: Math.max(1, Math.round(secure.totalWeight)), params: meanParams });
        }
        for (;;) {
          if (input.secureAggregation) break;
          if (reported.size === participants.size) break;
          const now = Date.now();
          const wait = now < input.deadlineAt ? Math.min(input.deadlineAt - now, 500) : LATE_DRAIN_MS;
          const message = await consumer.receive(wait);
          context.heartbeat({ reported: reported.size });
          if (!message) {
            if (Date.now() >= input.deadlineAt) break;
            continue;
          }
          held.push(message);
          const header = decodeUpdateHeader(message.properties);
          const mismatch = roundMismatch(header, input);
          if (mismatch || !header) {
            reject(mismatch ?? 'malformed');
            continue;
          }
          if (message.publishTime > input.deadlineAt) {
            reject('late');
            continue;
          }
          const refusal = credentialProblem(header.agentId, header.credential);
          if (refusal) {
            reject(refusal);
            continue;
          }
          if (reported.has(header.agentId)) {
            reject('duplicate');
            continue;
          }
          reported.add(header.agentId);
          let params: Float32Array = Float32Array.from(bytesToParams(message.payload));
          const update: ModelUpdate = { agentId: header.agentId, examples: header.examples, params };
          const invalid = validateUpdate(update, global, { maxUpdateNorm: input.maxUpdateNorm });
          if (invalid) {
            reject(invalid.code);
            continue;
          }
          if (input.privacy) {
            // DP-FedAvg (McMahan et al. 2018) with equal weights: the noise below
            // bounds one agent's influence only when no agent outweighs another.
            params = clipDelta(params, global, input.privacy.clipNorm);
            update.params = params;
            update.examples = 1;
          }
          if (strategy.streaming) mean.add(update);
          else buffered.push(update);
          if (header.trainLoss !== undefined && header.trainAccuracy !== undefined) {
            lossSum += header.trainLoss * header.examples;
            accuracySum += header.trainAccuracy * header.examples;
            metricExamples += header.examples;
          }
          if (header.evalLoss !== undefined && header.evalAccuracy !== undefined && (header.evalExamples ?? 0) > 0) {
            evalLossSum += header.evalLoss * header.evalExamples!;
            evalAccuracySum += header.evalAccuracy * header.evalExamples!;
            evalExamples += header.evalExamples!;
          }
        }
        const accepted = input.secureAggregation ? reported.size : strategy.streaming ? mean.updates : buffered.length;
        deps.metrics?.updatesAccepted.inc(accepted);
        if (accepted < input.minParticipants) {
          // This attempt is over: its updates can never count, so they are acknowledged away.
          await Promise.all(held.map((m) => consumer.ack(m)));
          return { status: 'quorum-not-met', reported: [...reported].sort(), accepted, rejected };
        }
        const state = await loadState(input.serverStateDigest);
        const aggregator = strategy.start(global, state);
        if (strategy.streaming) {
          aggregator.add({ agentId: '(weighted mean)', examples: mean.totalExamples, params: mean.mean() });
        } else {
          buffered.sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
          for (const update of buffered) aggregator.add(update);
        }
        const next = aggregator.finish();
        let params = next.params;
        if (input.privacy) {
          const noiseKey = createHmac('sha256', deps.credentialSecret)
            .update(`dp-noise/${input.jobId}/${input.round}/${input.attempt}`)
            .digest();
          params = gaussianNoise(
            params,
            centralNoiseStd(input.privacy.noiseMultiplier, input.privacy.clipNorm, participants.size),
            keyedUniform(noiseKey),
          );
        }
        const globalDigest = await deps.blobs.put(paramsToBytes(params));
        const serverStateDigest = await storeState(next.state);
        await Promise.all(held.map((m) => consumer.ack(m)));
        const examples = strategy.streaming ? mean.totalExamples : buffered.reduce((n, u) => n + u.examples, 0);
        return {
          status: 'aggregated',
          globalDigest,
          serverStateDigest,
          reported: [...reported].sort(),
          accepted,
          rejected,
          examples,
          trainLoss: metricExamples > 0 ? lossSum / metricExamples : undefined,
          trainAccuracy: metricExamples > 0 ? accuracySum / metricExamples : undefined,
          agentLoss: evalExamples > 0 ? evalLossSum / evalExamples : undefined,
          agentAccuracy: evalExamples > 0 ? evalAccuracySum / evalExamples : undefined,
        };
      } finally {
        await consumer.close();
      }
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
    },
  };
}

/** Central DP: the update's distance from the global model is clipped to clipNorm (L2). */
function clipDelta(params: Float32Array, global: Float32Array, clipNorm: number): Float32Array {
  const delta = Float32Array.from(params, (value, i) => value - global[i]);
  const clipped = clipToNorm(delta, clipNorm);
  return Float32Array.from(clipped, (value, i) => value + global[i]);
}

export type TuningActivities = ReturnType<typeof createTuningActivities>;
