// Activities of asynchronous (FedBuff-style) tuning: announcing a model version
// to agents, taking updates into the buffer, and advancing the model from a full
// buffer. An accepted update's parameters go to the blob store and the workflow
// records only its digest, so the buffer lives in workflow history, not here.
import { Context } from '@temporalio/activity';
import { rejectionEvents, type RefusedUpdate } from '../core/analytics/round-events';
import { publishRoundEvents } from './round-events';
import { ApplicationFailure } from '@temporalio/common';
import { validateUpdate } from '../core/aggregation';
import { StalenessWeightedBuffer } from '../core/aggregation/fedbuff';
import { admissibleBase, type BufferedUpdate } from '../core/async-tuning';
import type { LocalTraining } from '../core/models/softmax';
import { swarmTopics } from '../core/topics';
import { bytesToParams, decodeUpdateHeader, paramsToBytes, type RoundStartMessage } from '../core/tuning';
import type { ReceivedMessage } from '../adapters/ports';
import { keptAlive } from './keep-alive';
import { MessageProofs } from './message-proofs';
import type { TuningDeps } from './tuning';

/** Models up to this size travel inside the version announcement (as in the synchronous round start). */
const INLINE_MODEL_BYTES = 256 * 1024;

export interface AnnounceVersionInput {
  jobId: string;
  swarmId: string;
  version: number;
  globalDigest: string;
  participants: string[];
  training: LocalTraining;
  maxStaleness: number;
}

export interface CollectBufferInput {
  jobId: string;
  swarmId: string;
  /** The current model version: updates are judged against it. */
  version: number;
  /** Digests of the versions an update may be based on (current and up to maxStaleness before). */
  versionDigests: Record<string, string>;
  maxStaleness: number;
  /** Accepted updates still missing from the buffer: the activity returns once it has these. */
  need: number;
  /** Messages whose outcome the workflow already recorded: acknowledged, never counted again. */
  settle: string[];
  /**
   * The newest base version of an update taken from each agent (within the staleness window):
   * an agent's next update must be trained on a newer version, else it is a duplicate.
   */
  lastBase: Record<string, number>;
  maxUpdateNorm?: number;
  /** Return what was taken after this long, so the buffer's progress is recorded before it fills. */
  flushAfterMs: number;
  /** With nothing taken, return empty after this long (the workflow then checks pause and cancellation). */
  idleMs: number;
}

export interface CollectBufferResult {
  accepted: BufferedUpdate[];
  rejected: Record<string, number>;
  /** Every message read and judged in this call (acknowledged by the next call, once recorded). */
  decided: string[];
  /** Messages of `settle` this call did not see again: still to acknowledge. */
  unsettled: string[];
}

export interface DrainFinishedInput {
  jobId: string;
  swarmId: string;
  /** Agents sent the last version that had no update based on it taken: the drain waits for them. */
  awaiting: string[];
  /** Messages the last collection recorded: acknowledged, never counted again. */
  settle: string[];
  /** Longest wait for the awaited agents (ms); without them, the drain ends once the topic is quiet. */
  windowMs: number;
  /**
   * The version whose refusals these are, named as round in the update-rejected events on the
   * swarm's rounds topic: the last version made when the job completed, the one its buffer was
   * building when it was cancelled or failed. Without it (jobs recorded before), no event.
   */
  version?: number;
}

export interface DrainFinishedResult {
  /** Updates with a valid proof that came after the job's last version, per sending agent. */
  afterFinish: Record<string, number>;
  /** Every message drained, by reason ('after-finish', 'bad-proof', 'malformed', ...). */
  rejected: Record<string, number>;
}

export interface AggregateBufferInput {
  version: number;
  globalDigest: string;
  versionDigests: Record<string, string>;
  buffer: BufferedUpdate[];
  stalenessExponent: number;
  serverLearningRate?: number;
  dimension: number;
}

export interface AggregateBufferResult {
  globalDigest: string;
  examples: number;
  meanStaleness: number;
  maxStaleness: number;
  trainLoss?: number;
  trainAccuracy?: number;
}

export interface AcceptedVersionInput {
  jobId: string;
  swarmId: string;
  /** The version the buffer made (1-based): the asynchronous job's round. */
  version: number;
  /** The agents whose buffered updates made it (one count each, however many updates). */
  agentIds: string[];
}

export function createAsyncTuningActivities(
  deps: Pick<TuningDeps, 'messaging' | 'blobs' | 'agentKeys' | 'credentialSecret' | 'metrics' | 'contributions'>,
) {
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);
  const loadParams = async (digest: string): Promise<Float32Array> => {
    const bytes = await deps.blobs.get(digest);
    if (!bytes) throw ApplicationFailure.nonRetryable(`no blob ${digest}`, 'MODEL_NOT_FOUND');
    return bytesToParams(bytes);
  };

  const activities = {
    /** Puts version `version` in each participant's inbox: a round start with mode 'async' (round = version, attempt 0). */
    async announceModelVersion(input: AnnounceVersionInput): Promise<void> {
      const bytes = await deps.blobs.get(input.globalDigest);
      if (!bytes) throw ApplicationFailure.nonRetryable(`no model blob ${input.globalDigest}`, 'MODEL_NOT_FOUND');
      const topics = swarmTopics(input.swarmId);
      const common: Omit<RoundStartMessage, 'agentId'> = {
        type: 'round-start',
        jobId: input.jobId,
        round: input.version,
        attempt: 0,
        globalDigest: input.globalDigest,
        globalParams: bytes.byteLength <= INLINE_MODEL_BYTES ? Buffer.from(bytes).toString('base64') : undefined,
        training: input.training,
        // No deadline: an update counts while it is at most maxStaleness versions old.
        deadlineAt: Number.MAX_SAFE_INTEGER,
        updatesTopic: topics.updates(input.jobId),
        mode: 'async',
        maxStaleness: input.maxStaleness,
      };
      const body = Buffer.from(JSON.stringify(common).slice(1));
      const properties = { type: 'round-start', jobId: input.jobId };
      for (const agentId of input.participants) {
        const payload = Buffer.concat([Buffer.from(`{"agentId":${JSON.stringify(agentId)},`), body]);
        await deps.messaging.publish(topics.inbox(agentId), payload, { key: agentId, properties });
      }
    },

    /**
     * Reads the job's updates topic and takes acceptable updates into the
     * buffer: each one's parameters are stored as a blob and only its digest is
     * returned. Nothing read here is acknowledged here: the next call
     * acknowledges what this one returned (`settle`), so a worker that dies at
     * any point loses no update and none is counted twice.
     */
    async collectBufferedUpdates(input: CollectBufferInput): Promise<CollectBufferResult> {
      const context = Context.current();
      const topic = swarmTopics(input.swarmId).updates(input.jobId);
      const consumer = await deps.messaging.subscribe(topic, `aggregator-${input.jobId}`, {
        type: 'exclusive',
        initialPosition: 'earliest',
      });
      const settle = new Set(input.settle);
      const lastBase = new Map(Object.entries(input.lastBase));
      const accepted: BufferedUpdate[] = [];
      const rejected: Record<string, number> = {};
      const decided: string[] = [];
      const bases = new Map<number, Float32Array>();
      const refused: RefusedUpdate[] = [];
      const reject = (message: ReceivedMessage, reason: string, agentId?: string) => {
        rejected[reason] = (rejected[reason] ?? 0) + 1;
        refused.push({ reason, agentId, at: Date.now(), updateId: message.id });
        deps.metrics?.updatesRejected.inc({ reason });
        decided.push(message.id);
      };
      const started = Date.now();
      try {
        while (accepted.length < input.need) {
          const elapsed = Date.now() - started;
          const limit = accepted.length > 0 || Object.keys(rejected).length > 0 ? input.flushAfterMs : input.idleMs;
          if (elapsed >= limit) break;
          // A cancelled job drains the topic next, and needs this exclusive subscription for it.
          if (context.cancellationSignal.aborted) break;
          const message = await consumer.receive(Math.min(500, limit - elapsed));
          context.heartbeat({ accepted: accepted.length });
          if (!message) continue;
          if (settle.delete(message.id)) {
            await consumer.ack(message);
            continue;
          }
          const header = decodeUpdateHeader(message.properties);
          if (!header || header.jobId !== input.jobId || header.attempt !== 0) {
            reject(message, 'malformed', header?.agentId);
            continue;
          }
          const admissible = admissibleBase(header.round, input.version, input.maxStaleness);
          if (admissible !== 'ok') {
            reject(message, admissible === 'stale' ? 'stale' : 'malformed', header.agentId);
            continue;
          }
          const sender = await proofs.sender(input.swarmId, topic, message);
          if (!sender.ok || sender.agentId !== header.agentId) {
            reject(message, sender.ok ? 'bad-proof' : sender.reason, header.agentId);
            continue;
          }
          if (header.round <= (lastBase.get(header.agentId) ?? -1)) {
            reject(message, 'duplicate', header.agentId);
            continue;
          }
          const baseDigest = input.versionDigests[String(header.round)];
          if (!baseDigest) {
            reject(message, 'stale', header.agentId);
            continue;
          }
          let base = bases.get(header.round);
          if (!base) bases.set(header.round, (base = await loadParams(baseDigest)));
          const params = bytesToParams(message.payload);
          const invalid = validateUpdate({ agentId: header.agentId, examples: header.examples, params }, base, {
            maxUpdateNorm: input.maxUpdateNorm,
          });
          if (invalid) {
            reject(message, invalid.code, header.agentId);
            continue;
          }
          const paramsDigest = await deps.blobs.put(message.payload);
          lastBase.set(header.agentId, header.round);
          decided.push(message.id);
          accepted.push({
            agentId: header.agentId,
            baseVersion: header.round,
            examples: header.examples,
            paramsDigest,
            trainLoss: header.trainLoss,
            trainAccuracy: header.trainAccuracy,
          });
          deps.metrics?.updatesAccepted.inc(1);
        }
      } finally {
        // Unacknowledged messages go back to the subscription for the next call.
        await consumer.close();
      }
      // Each message is judged once (the next call settles it), so each refusal is reported once; a
      // cancelled call's result is never recorded, and the drain that follows judges its messages again.
      if (context.cancellationSignal.aborted) return { accepted: [], rejected: {}, decided: [], unsettled: [...settle] };
      await publishRoundEvents(deps.messaging, input.swarmId, rejectionEvents(input.jobId, input.version + 1, refused));
      return { accepted, rejected, decided, unsettled: [...settle] };
    },

    /**
     * After the job's last version: reads what is left on its updates topic (and what the awaited
     * agents still send, until windowMs) and refuses it as 'after-finish', counted per agent;
     * nothing else would ever read it, since the topic is deleted next. Acknowledged only at the
     * end, so a retry counts the same messages.
     */
    async drainFinishedUpdates(input: DrainFinishedInput): Promise<DrainFinishedResult> {
      const context = Context.current();
      const topic = swarmTopics(input.swarmId).updates(input.jobId);
      const consumer = await deps.messaging.subscribe(topic, `aggregator-${input.jobId}`, {
        type: 'exclusive',
        initialPosition: 'earliest',
      });
      const settle = new Set(input.settle);
      const awaiting = new Set(input.awaiting);
      const afterFinish: Record<string, number> = {};
      const rejected: Record<string, number> = {};
      const held: ReceivedMessage[] = [];
      const refused: RefusedUpdate[] = [];
      const until = Date.now() + input.windowMs;
      try {
        while (Date.now() < until) {
          const message = await consumer.receive(Math.min(500, Math.max(1, until - Date.now())));
          context.heartbeat({ drained: held.length });
          if (!message) {
            if (awaiting.size === 0) break;
            continue;
          }
          held.push(message);
          if (settle.delete(message.id)) continue;
          const header = decodeUpdateHeader(message.properties);
          let reason = 'after-finish';
          if (!header || header.jobId !== input.jobId) reason = 'malformed';
          else {
            const sender = await proofs.sender(input.swarmId, topic, message);
            if (!sender.ok || sender.agentId !== header.agentId) reason = sender.ok ? 'bad-proof' : sender.reason;
          }
          rejected[reason] = (rejected[reason] ?? 0) + 1;
          refused.push({ reason, agentId: header?.agentId, at: Date.now(), updateId: message.id });
          deps.metrics?.updatesRejected.inc({ reason });
          if (reason === 'after-finish' && header) {
            afterFinish[header.agentId] = (afterFinish[header.agentId] ?? 0) + 1;
            awaiting.delete(header.agentId);
          }
        }
        // Before the acknowledgement, as the collection's: at least once (a retry reports them again).
        if (input.version !== undefined && input.version >= 1) {
          await publishRoundEvents(deps.messaging, input.swarmId, rejectionEvents(input.jobId, input.version, refused));
        }
        await Promise.all(held.map((m) => consumer.ack(m)));
      } finally {
        await consumer.close();
      }
      return { afterFinish, rejected };
    },

    /** Advances the model one version from a full buffer (core/aggregation/fedbuff.ts); returns the new digest. */
    async aggregateBuffer(input: AggregateBufferInput): Promise<AggregateBufferResult> {
      const global = await loadParams(input.globalDigest);
      const buffer = new StalenessWeightedBuffer(input.dimension, input.stalenessExponent);
      const bases = new Map<number, Float32Array>();
      let maxStaleness = 0;
      let lossSum = 0;
      let accuracySum = 0;
      let reportedExamples = 0;
      let examples = 0;
      // Sorted so the float64 sums of the reported figures do not depend on arrival order either.
      const ordered = [...input.buffer].sort((a, b) =>
        a.agentId === b.agentId ? a.baseVersion - b.baseVersion : a.agentId < b.agentId ? -1 : 1,
      );
      for (const entry of ordered) {
        let base = bases.get(entry.baseVersion);
        if (!base) {
          const digest = input.versionDigests[String(entry.baseVersion)];
          if (!digest) throw ApplicationFailure.nonRetryable(`no digest of version ${entry.baseVersion}`, 'MODEL_NOT_FOUND');
          bases.set(entry.baseVersion, (base = await loadParams(digest)));
        }
        const staleness = input.version - entry.baseVersion;
        buffer.add({ params: await loadParams(entry.paramsDigest), base, examples: entry.examples, staleness });
        maxStaleness = Math.max(maxStaleness, staleness);
        examples += entry.examples;
        if (entry.trainLoss !== undefined && entry.trainAccuracy !== undefined) {
          lossSum += entry.trainLoss * entry.examples;
          accuracySum += entry.trainAccuracy * entry.examples;
          reportedExamples += entry.examples;
        }
      }
      const next = buffer.apply(global, input.serverLearningRate ?? 1);
      const globalDigest = await deps.blobs.put(paramsToBytes(next));
      return {
        globalDigest,
        examples,
        meanStaleness: buffer.meanStaleness,
        maxStaleness,
        trainLoss: reportedExamples > 0 ? lossSum / reportedExamples : undefined,
        trainAccuracy: reportedExamples > 0 ? accuracySum / reportedExamples : undefined,
      };
    },

    /**
     * Counts a version's accepted updates toward their agents' reputation, as a synchronous
     * round's are counted: one per agent per version, and a version recorded again counts once.
     */
    async recordAcceptedVersion(input: AcceptedVersionInput): Promise<void> {
      if (!deps.contributions || input.agentIds.length === 0) return;
      await deps.contributions.record({ swarmId: input.swarmId, jobId: input.jobId, round: input.version, agentIds: input.agentIds });
    },
  };
  // The announcement and the aggregation heartbeat while they run; the collection reports its own progress.
  const { collectBufferedUpdates, drainFinishedUpdates, ...quick } = activities;
  return { ...keptAlive(quick), collectBufferedUpdates, drainFinishedUpdates };
}

export type AsyncTuningActivities = ReturnType<typeof createAsyncTuningActivities>;
