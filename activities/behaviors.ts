// Activities of the behavior sweep: drain a swarm's behavior reports, store
// and score them, discover strategies, publish the best as skills. Vectors
// stay here, in the vector store and in transient blobs; the workflow gets
// ids, digests and counts.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Registry } from 'prom-client';
import { createWorkerMetrics } from './metrics';
import { behaviorCollection, skillCollection } from '../core/behaviors/collections';
import { novelty } from '../core/behaviors/novelty';
import { discoverStrategies, type DiscoveredStrategy } from '../core/behaviors/strategies';
import type {
  BehaviorMetric,
  BehaviorReport,
  RejectionCounts,
  RejectionReason,
  ResolvedSweepParameters,
  ScoredBehavior,
  SkillMessage,
  StrategySummary,
  SweepParameters,
} from '../core/behaviors/types';
import { behaviorId, validateBehaviorReport } from '../core/behaviors/validation';
import type { ProofRejection } from '../core/message-proof';
import { MessageProofs } from './message-proofs';
import { ID_PATTERN } from '../core/agents';
import { swarmTopics } from '../core/topics';
import {
  isVectorStoreError,
  type AgentKeyDirectory,
  type BehaviorAgentRegistry,
  type BlobStore,
  type Consumer,
  type MessagingPort,
  type ReceivedMessage,
  type VectorPort,
} from '../adapters/ports';

export interface BehaviorSettings {
  /** Descriptor length of every swarm (QP_BEHAVIOR_DIMENSION). */
  dimension: number;
  metric: BehaviorMetric;
  /** Reports stored and scored together: one upsert and one kNN batch each. */
  batchSize: number;
  /** Reports one sweep drains at most; the rest wait for the next sweep. */
  maxReports: number;
  /** The drain ends after this long without a new report, in milliseconds. */
  drainIdleMs: number;
}

/** The behaviour metrics of activities/metrics.ts, as the sweep activities use them. */
export function createBehaviorMetrics(registry: Registry) {
  const metrics = createWorkerMetrics(registry);
  return {
    reports: metrics.behaviorReports,
    strategies: metrics.behaviorStrategies,
    skillsPublished: metrics.behaviorSkillsPublished,
  };
}
export type BehaviorMetrics = ReturnType<typeof createBehaviorMetrics>;

export interface BehaviorDeps {
  messaging: MessagingPort;
  vectors: VectorPort;
  blobs: BlobStore;
  registry: BehaviorAgentRegistry;
  /** Reports count only with a valid proof by the reporting agent (or the manager's relay proof). */
  agentKeys: AgentKeyDirectory;
  credentialSecret: string;
  settings: BehaviorSettings;
  metrics?: BehaviorMetrics;
}

export const BEHAVIOR_SUBSCRIPTION = 'qp-manager-behavior-sweep';
/** A drain's consumer stays open this long after a batch for the next one, ms. */
const DRAIN_KEEP_MS = 10_000;

export interface IngestInput {
  swarmId: string;
  reportId: string;
  k: number;
}

/** Progress of a drain: its heartbeat details, so a retried attempt resumes. */
export interface IngestProgress {
  batches: number;
  received: number;
  accepted: number;
  rejections: RejectionCounts;
  /** One blob of ScoredBehavior[] per batch, in order. */
  scoredBlobs: string[];
}

/** A drain recorded batch by batch by the workflow (ingestBehaviorBatch). */
export interface DrainProgress extends IngestProgress {
  /** Blob of the message ids of the last batch counted: a copy redelivered to a new consumer is not counted again. */
  lastBatchIds?: string;
}

export interface IngestBatchInput extends IngestInput {
  /** The drain as the workflow recorded it; absent before the first batch. */
  progress?: DrainProgress;
  /** Settle the last batch and end the drain without reading more (the rest waits for the next sweep). */
  stop?: boolean;
}

export interface IngestBatchResult {
  progress: DrainProgress;
  /** True when the drain is over (no report left, or maxReports reached); archive is set then. */
  done: boolean;
  archive?: number;
}

export interface IngestResult extends IngestProgress {
  /** Behaviors stored for the swarm after the drain. */
  archive: number;
}

export interface DiscoverInput {
  swarmId: string;
  reportId: string;
  scoredBlobs: string[];
  parameters: SweepParameters;
}

export interface DiscoverResult {
  parameters: ResolvedSweepParameters;
  meanFitness: number;
  candidates: number;
  clustered: number;
  noise: number;
  strategies: Omit<StrategySummary, 'disseminated'>[];
}

export interface DisseminateInput {
  swarmId: string;
  reportId: string;
  strategyIds: string[];
}

/** One rejected report, for the log. */
interface Rejection {
  reason: RejectionReason;
  message: string;
}

export function createBehaviorActivities(deps: BehaviorDeps) {
  const { settings } = deps;
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);

  async function ensureArchive(swarmId: string): Promise<string> {
    const collection = behaviorCollection(swarmId);
    try {
      await deps.vectors.ensureCollection(collection, settings.dimension, settings.metric);
    } catch (error) {
      // A collection made with another dimension or metric: retrying cannot fix the configuration.
      if (isVectorStoreError(error, 'COLLECTION_SHAPE_MISMATCH')) {
        throw ApplicationFailure.nonRetryable(error.message, 'BEHAVIOR_COLLECTION_MISMATCH');
      }
      throw error;
    }
    return collection;
  }

  /**
   * Validates a batch of report messages, stores and scores the accepted ones
   * (one upsert and one kNN batch) and writes their scores to a blob.
   */
  async function processBatch(
    batch: ReceivedMessage[],
    input: IngestInput,
    registered: { agents: Set<string> },
  ): Promise<{ accepted: number; rejected: Rejection[]; digest?: string }> {
    const reports: BehaviorReport[] = [];
    const rejected: Rejection[] = [];
    const unknown: BehaviorReport[] = [];
    for (const message of batch) {
      const outcome = await checkMessage(message, input.swarmId, proofs, settings.dimension);
      if (!outcome.ok) rejected.push(outcome);
      else if (registered.agents.has(outcome.value.agentId)) reports.push(outcome.value);
      else unknown.push(outcome.value);
    }
    if (unknown.length > 0) {
      // An agent may have registered since the list was read: read it once more.
      registered.agents = await deps.registry.registeredAgents(input.swarmId);
      for (const report of unknown) {
        if (registered.agents.has(report.agentId)) reports.push(report);
        else rejected.push({ reason: 'unknown_agent', message: `agent ${report.agentId} is not registered in swarm ${input.swarmId}` });
      }
    }
    const scored = await scoreBatch(await ensureArchive(input.swarmId), reports, input);
    const digest = scored.length > 0 ? await deps.blobs.put(Buffer.from(JSON.stringify(scored))) : undefined;
    for (const r of rejected) deps.metrics?.reports.inc({ outcome: 'rejected', reason: r.reason });
    if (reports.length > 0) deps.metrics?.reports.inc({ outcome: 'accepted', reason: '' }, reports.length);
    if (rejected.length > 0) {
      Context.current().log.info('behavior reports rejected', {
        swarmId: input.swarmId,
        rejected: rejected.length,
        first: `${rejected[0].reason}: ${rejected[0].message}`,
      });
    }
    return { accepted: reports.length, rejected, digest };
  }

  // The drain consumer of each swarm, kept open between batches, and the messages of its last
  // batch: they are acknowledged only by the next call, once the workflow has recorded the batch.
  // `busy` marks a call reading or storing a batch on it: a retry that finds its drain busy comes
  // after an attempt Temporal gave up on (timed out) that may still be running on this worker.
  interface Drain {
    consumer: Consumer;
    busy: boolean;
    closer?: NodeJS.Timeout;
    pending?: { batches: number; messages: ReceivedMessage[] };
  }
  const drains = new Map<string, Drain>();
  /**
   * Closes `drain` (the swarm's current one when not named); its unacknowledged messages go back to
   * the subscription. Awaited by a call that reads next, so that what went back is redelivered
   * first and in order, not after later messages.
   */
  const closeDrain = async (swarmId: string, drain = drains.get(swarmId)): Promise<void> => {
    if (!drain) return;
    clearTimeout(drain.closer);
    if (drains.get(swarmId) === drain) drains.delete(swarmId);
    await drain.consumer.close().catch(() => undefined);
  };
  const drainFor = async (swarmId: string): Promise<Drain> => {
    const kept = drains.get(swarmId);
    if (kept) {
      clearTimeout(kept.closer);
      return kept;
    }
    const consumer = await deps.messaging.subscribe(swarmTopics(swarmId).behaviors, BEHAVIOR_SUBSCRIPTION, {
      type: 'shared',
      initialPosition: 'earliest',
    });
    const drain: Drain = { consumer, busy: false };
    drains.set(swarmId, drain);
    return drain;
  };

  return {
    /**
     * One batch of a drain the workflow records batch by batch. First settles
     * the previous batch: acknowledged when the workflow's progress counts it,
     * given back to the subscription when the workflow never saw it (its result
     * was lost). Then reads, stores and scores one batch, leaving its messages
     * unacknowledged until the next call. A copy of a counted message that comes
     * back to a new consumer is acknowledged and skipped. Returns done, with the
     * archive's size, when no report is left or maxReports were drained.
     */
    async ingestBehaviorBatch(input: IngestBatchInput): Promise<IngestBatchResult> {
      const context = Context.current();
      const recorded: DrainProgress = input.progress ?? { batches: 0, received: 0, accepted: 0, rejections: {}, scoredBlobs: [] };
      let drain = await drainFor(input.swarmId);
      if (drain.busy) {
        // The attempt before this one still holds a batch of unacknowledged messages: were it left
        // to finish, it would give its batch as this drain's pending one, to be acknowledged
        // uncounted. Its consumer is closed under it and the batch comes back to this attempt.
        await closeDrain(input.swarmId, drain);
        drain = await drainFor(input.swarmId);
      }
      drain.busy = true;
      const batch: ReceivedMessage[] = [];
      let failed = false;
      try {
        if (drain.pending) {
          const { pending } = drain;
          drain.pending = undefined;
          if (pending.batches === recorded.batches) {
            for (const message of pending.messages) await drain.consumer.ack(message);
          } else {
            await closeDrain(input.swarmId, drain);
            drain = await drainFor(input.swarmId);
            drain.busy = true;
          }
        }
        const counted = new Set<string>(
          recorded.lastBatchIds ? JSON.parse(Buffer.from((await deps.blobs.get(recorded.lastBatchIds)) ?? '[]').toString('utf8')) : [],
        );
        if (!input.stop && recorded.received < settings.maxReports) {
          while (batch.length < settings.batchSize && recorded.received + batch.length < settings.maxReports) {
            const message = await drain.consumer.receive(batch.length === 0 ? settings.drainIdleMs : 50);
            context.heartbeat();
            if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? new Error('cancelled');
            if (!message) break;
            if (counted.has(message.id)) await drain.consumer.ack(message);
            else batch.push(message);
          }
        }
        if (batch.length === 0) {
          await closeDrain(input.swarmId, drain);
          const collection = await ensureArchive(input.swarmId);
          // Once per drain, so Milvus' own statistics count what the sweep stored.
          await deps.vectors.flush(collection);
          return { progress: recorded, done: true, archive: await deps.vectors.count(collection) };
        }
        const registered = { agents: await deps.registry.registeredAgents(input.swarmId) };
        const { accepted, rejected, digest } = await processBatch(batch, input, registered);
        const rejections = { ...recorded.rejections };
        for (const r of rejected) rejections[r.reason] = (rejections[r.reason] ?? 0) + 1;
        const progress: DrainProgress = {
          batches: recorded.batches + 1,
          received: recorded.received + batch.length,
          accepted: recorded.accepted + accepted,
          rejections,
          scoredBlobs: digest && !recorded.scoredBlobs.includes(digest) ? [...recorded.scoredBlobs, digest] : recorded.scoredBlobs,
          lastBatchIds: await deps.blobs.put(Buffer.from(JSON.stringify(batch.map((message) => message.id)))),
        };
        if (drains.get(input.swarmId) !== drain) {
          // A later attempt took the drain over (see `busy`): its batch went back to the subscription.
          throw ApplicationFailure.retryable(`a later attempt took over the drain of swarm ${input.swarmId}`, 'DRAIN_SUPERSEDED');
        }
        drain.pending = { batches: progress.batches, messages: batch };
        return { progress, done: false };
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        drain.busy = false;
        // After a failure the unacknowledged batch goes back to the subscription for the retry.
        if (failed) await closeDrain(input.swarmId, drain);
        else if (drains.get(input.swarmId) === drain) {
          drain.closer = setTimeout(() => void closeDrain(input.swarmId, drain), DRAIN_KEEP_MS);
          drain.closer.unref?.();
        }
      }
    },

    /** Swarms to sweep on schedule: those with running agent sessions. */
    async listBehaviorSwarms(input: { limit: number }): Promise<string[]> {
      return (await deps.registry.swarms(input.limit)).filter((swarmId) => ID_PATTERN.test(swarmId));
    },

    /**
     * Drains the swarm's behaviors topic in batches: validate each report
     * (shape, dimension, finiteness, credential, registration), store the
     * accepted ones in the swarm's archive collection, score their novelty
     * against the archive (one kNN batch per batch), write the scores to a
     * blob, then acknowledge. Heartbeats carry the progress; a retried attempt
     * continues from it and the broker redelivers what was not acknowledged.
     */
    async ingestBehaviorReports(input: IngestInput): Promise<IngestResult> {
      const context = Context.current();
      const resumed = context.info.heartbeatDetails as IngestProgress | undefined;
      const progress: IngestProgress = resumed ?? { batches: 0, received: 0, accepted: 0, rejections: {}, scoredBlobs: [] };
      const collection = await ensureArchive(input.swarmId);
      let registered = await deps.registry.registeredAgents(input.swarmId);
      const consumer: Consumer = await deps.messaging.subscribe(swarmTopics(input.swarmId).behaviors, BEHAVIOR_SUBSCRIPTION, {
        type: 'exclusive',
        initialPosition: 'earliest',
      });
      try {
        while (progress.received < settings.maxReports) {
          const batch: ReceivedMessage[] = [];
          while (batch.length < settings.batchSize && progress.received + batch.length < settings.maxReports) {
            // Wait the idle time for a batch's first report, briefly for the rest.
            const message = await consumer.receive(batch.length === 0 ? settings.drainIdleMs : 50);
            context.heartbeat(progress);
            if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? new Error('cancelled');
            if (!message) break;
            batch.push(message);
          }
          if (batch.length === 0) break;

          const reports: BehaviorReport[] = [];
          const rejected: Rejection[] = [];
          const unknown: BehaviorReport[] = [];
          for (const message of batch) {
            const outcome = await checkMessage(message, input.swarmId, proofs, settings.dimension);
            if (!outcome.ok) rejected.push(outcome);
            else if (registered.has(outcome.value.agentId)) reports.push(outcome.value);
            else unknown.push(outcome.value);
          }
          if (unknown.length > 0) {
            // An agent may have registered since the list was read: read it once more.
            registered = await deps.registry.registeredAgents(input.swarmId);
            for (const report of unknown) {
              if (registered.has(report.agentId)) reports.push(report);
              else rejected.push({ reason: 'unknown_agent', message: `agent ${report.agentId} is not registered in swarm ${input.swarmId}` });
            }
          }

          const scored = await scoreBatch(collection, reports, input);
          context.heartbeat(progress);
          const digest = scored.length > 0 ? await deps.blobs.put(Buffer.from(JSON.stringify(scored))) : undefined;
          for (const message of batch) await consumer.ack(message);

          progress.batches++;
          progress.received += batch.length;
          progress.accepted += reports.length;
          if (digest && !progress.scoredBlobs.includes(digest)) progress.scoredBlobs.push(digest);
          for (const r of rejected) {
            progress.rejections[r.reason] = (progress.rejections[r.reason] ?? 0) + 1;
            deps.metrics?.reports.inc({ outcome: 'rejected', reason: r.reason });
          }
          if (reports.length > 0) deps.metrics?.reports.inc({ outcome: 'accepted', reason: '' }, reports.length);
          if (rejected.length > 0) {
            context.log.info('behavior reports rejected', {
              swarmId: input.swarmId,
              rejected: rejected.length,
              first: `${rejected[0].reason}: ${rejected[0].message}`,
            });
          }
          context.heartbeat(progress);
        }
      } finally {
        await consumer.close();
      }
      // Once per drain, so Milvus' own statistics count what the sweep stored.
      await deps.vectors.flush(collection);
      return { ...progress, archive: await deps.vectors.count(collection) };
    },

    /**
     * Clusters the sweep's novel, fit behaviors into strategies and stores each
     * strategy's centroid in the swarm's skill collection (id = strategy id).
     */
    async discoverBehaviorStrategies(input: DiscoverInput): Promise<DiscoverResult> {
      const byId = new Map<string, ScoredBehavior>();
      for (const digest of input.scoredBlobs) {
        const bytes = await deps.blobs.get(digest);
        if (!bytes) {
          throw ApplicationFailure.nonRetryable(
            `scored behaviors ${digest} are gone from the blob store (a worker restart with in-memory blobs)`,
            'SCORES_LOST',
          );
        }
        // A batch redelivered after a crash may be scored twice: the later score wins.
        for (const behavior of JSON.parse(Buffer.from(bytes).toString('utf8')) as ScoredBehavior[]) {
          byId.set(behavior.behaviorId, behavior);
        }
      }
      const discovery = discoverStrategies([...byId.values()], input.parameters, {
        metric: settings.metric,
        dimension: settings.dimension,
        reportId: input.reportId,
      });
      if (discovery.strategies.length > 0) {
        const skills = skillCollection(input.swarmId);
        await deps.vectors.ensureCollection(skills, settings.dimension, settings.metric);
        await deps.vectors.upsert(skills, discovery.strategies.map((s) => skillRecord(input, s)));
        await deps.vectors.flush(skills);
        deps.metrics?.strategies.inc(discovery.strategies.length);
      }
      return {
        parameters: discovery.parameters,
        meanFitness: discovery.meanFitness,
        candidates: discovery.candidates,
        clustered: discovery.clustered,
        noise: discovery.noise,
        strategies: discovery.strategies.map(({ centroid: _centroid, ...summary }) => summary),
      };
    },

    /** Publishes strategies (already in the skill collection) on the swarm's broadcast topic. */
    async disseminateSkills(input: DisseminateInput): Promise<{ published: string[] }> {
      if (input.strategyIds.length === 0) return { published: [] };
      const records = await deps.vectors.get(skillCollection(input.swarmId), input.strategyIds);
      const published: string[] = [];
      for (const record of records) {
        const message: SkillMessage = {
          type: 'skill',
          swarmId: input.swarmId,
          skillId: record.id,
          reportId: input.reportId,
          descriptor: record.vector,
          meanFitness: Number(record.fields.meanFitness),
          size: Number(record.fields.size),
          agentCount: Number(record.fields.agentCount),
          representativeBehaviorId: String(record.fields.representativeBehaviorId),
          publishedAt: new Date().toISOString(),
        };
        await deps.messaging.publish(swarmTopics(input.swarmId).broadcast, Buffer.from(JSON.stringify(message)), {
          key: record.id,
          properties: { type: 'skill' },
        });
        published.push(record.id);
      }
      deps.metrics?.skillsPublished.inc(published.length);
      return { published };
    },
  };

  /** Stores the batch, then scores each behavior against the archive it is now part of. */
  async function scoreBatch(collection: string, reports: BehaviorReport[], input: IngestInput): Promise<ScoredBehavior[]> {
    if (reports.length === 0) return [];
    // The same episode reported twice in one batch: the last report wins, as in the store.
    const unique = new Map(reports.map((r) => [behaviorId(r.agentId, r.episodeId), r]));
    await deps.vectors.upsert(
      collection,
      [...unique].map(([id, r]) => ({
        id,
        vector: r.descriptor,
        fields: { agentId: r.agentId, episodeId: r.episodeId, fitness: r.fitness, timestamp: r.timestamp, reportId: input.reportId },
      })),
    );
    const entries = [...unique];
    // k + 1: each behavior finds itself first.
    const neighbours = await deps.vectors.searchMany(collection, entries.map(([, r]) => r.descriptor), input.k + 1);
    return entries.map(([id, r], i) => ({
      behaviorId: id,
      agentId: r.agentId,
      episodeId: r.episodeId,
      descriptor: r.descriptor,
      fitness: r.fitness,
      ...novelty(id, neighbours[i], input.k, settings.metric),
    }));
  }
}

const PROOF_REJECTIONS: Record<ProofRejection, RejectionReason> = {
  'missing-proof': 'missing_proof',
  'bad-proof': 'bad_proof',
  stale: 'stale_proof',
  replayed: 'bad_proof',
  'unknown-agent': 'unknown_agent',
};

async function checkMessage(
  message: ReceivedMessage,
  swarmId: string,
  proofs: MessageProofs,
  dimension: number,
): Promise<{ ok: true; value: BehaviorReport } | { ok: false; reason: RejectionReason; message: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(message.payload).toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', message: 'payload is not JSON' };
  }
  const claimed = raw as { agentId?: unknown } | null;
  if (!claimed || typeof claimed !== 'object' || typeof claimed.agentId !== 'string') {
    return { ok: false, reason: 'malformed', message: 'a report is a JSON object with an agentId' };
  }
  const sender = await proofs.sender(swarmId, swarmTopics(swarmId).behaviors, message);
  if (!sender.ok) {
    return { ok: false, reason: PROOF_REJECTIONS[sender.reason], message: `the report's proof is refused (${sender.reason})` };
  }
  if (sender.agentId !== claimed.agentId) {
    return { ok: false, reason: 'bad_proof', message: `the report speaks for ${claimed.agentId} but is signed for ${sender.agentId}` };
  }
  return validateBehaviorReport(raw, dimension);
}

function skillRecord(input: DiscoverInput, strategy: DiscoveredStrategy) {
  return {
    id: strategy.strategyId,
    vector: strategy.centroid,
    fields: {
      swarmId: input.swarmId,
      reportId: input.reportId,
      rank: strategy.rank,
      meanFitness: strategy.meanFitness,
      size: strategy.size,
      agentCount: strategy.agentCount,
      representativeBehaviorId: strategy.representative.behaviorId,
    },
  };
}

export type BehaviorActivities = ReturnType<typeof createBehaviorActivities>;
