// Federated tuning jobs behind the REST routes: start, progress, model, control.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { JobIdKey, SwarmIdKey } from '../core/search-attributes';
import type { TuningJobSpec, TuningProgress } from '../core/tuning';
import type { BlobStore } from '../adapters/ports';
import { workflowCallError } from './temporal-errors';
import {
  ASYNC_TUNING_WORKFLOW,
  TUNING_WORKFLOW,
  pauseTuningUpdate,
  resumeTuningUpdate,
  tuningProgressQuery,
  tuningWorkflowId,
} from '../workflows/definitions';
import type { FederatedTuningInput } from '../workflows/tuning';

export interface TuningServiceOptions {
  taskQueue: string;
  /** QP_DEFAULT_SWARM: the swarm of a job whose request names none. */
  defaultSwarm?: string;
  /** Up to `max` swarms with live agents on this deployment; without QP_DEFAULT_SWARM, the only one is the default. */
  liveSwarms(max: number): Promise<string[]>;
}

/** How a job's swarm was chosen. */
export type SwarmChoice = 'request' | 'QP_DEFAULT_SWARM' | 'only swarm with live agents';

export interface TuningStarted {
  jobId: string;
  workflowId: string;
  swarmId: string;
  swarmChosenBy: SwarmChoice;
  /** What started, in a sentence: the swarm, rounds, strategy, model and participation. */
  message: string;
}

/** Swarms named when the default is ambiguous. */
const SWARMS_NAMED = 5;

export class TuningService {
  constructor(
    private readonly client: Client,
    private readonly blobs: BlobStore,
    private readonly options: TuningServiceOptions,
  ) {}

  /**
   * Starts a job. A request without swarmId runs on QP_DEFAULT_SWARM, else on
   * the only swarm with live agents; with neither, CONFLICT names what is missing.
   */
  async start(request: Omit<TuningJobSpec, 'jobId' | 'swarmId'> & { jobId?: string; swarmId?: string }): Promise<TuningStarted> {
    const { swarmId, chosenBy } = await this.chooseSwarm(request.swarmId);
    const spec: TuningJobSpec = { ...request, swarmId, jobId: request.jobId ?? randomUUID() };
    if (spec.model.initialDigest && !(await this.blobs.has(spec.model.initialDigest))) {
      throw new DomainError('INVALID_ARGUMENT', `no model blob ${spec.model.initialDigest}`, { field: 'model.initialDigest' });
    }
    const workflowId = tuningWorkflowId(spec.jobId);
    const input: FederatedTuningInput = { spec };
    try {
      await this.client.workflow.start(spec.mode === 'async' ? ASYNC_TUNING_WORKFLOW : TUNING_WORKFLOW, {
        workflowId,
        taskQueue: this.options.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: JobIdKey, value: spec.jobId },
          { key: SwarmIdKey, value: spec.swarmId },
        ],
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new DomainError('CONFLICT', `job ${spec.jobId} is already running`);
      }
      throw error;
    }
    return { jobId: spec.jobId, workflowId, swarmId, swarmChosenBy: chosenBy, message: describeStart(spec, chosenBy) };
  }

  private async chooseSwarm(requested: string | undefined): Promise<{ swarmId: string; chosenBy: SwarmChoice }> {
    if (requested !== undefined) return { swarmId: requested, chosenBy: 'request' };
    if (this.options.defaultSwarm) return { swarmId: this.options.defaultSwarm, chosenBy: 'QP_DEFAULT_SWARM' };
    const swarms = await this.options.liveSwarms(SWARMS_NAMED + 1);
    if (swarms.length === 1) return { swarmId: swarms[0], chosenBy: 'only swarm with live agents' };
    const missing =
      swarms.length === 0
        ? 'no swarm has live agents yet and QP_DEFAULT_SWARM is not set: register agents first (README "The handshake"), or name the swarm'
        : `${swarms.length > SWARMS_NAMED ? `more than ${SWARMS_NAMED}` : swarms.length} swarms have live agents ` +
          `(${swarms.slice(0, SWARMS_NAMED).join(', ')}${swarms.length > SWARMS_NAMED ? ', ...' : ''}) and QP_DEFAULT_SWARM is not set: name one`;
    throw new DomainError('CONFLICT', `swarmId: is required here: ${missing}, e.g. {"swarmId": "<id>"}`, { field: 'swarmId' });
  }

  async progress(jobId: string): Promise<TuningProgress> {
    try {
      return await this.client.workflow.getHandle(tuningWorkflowId(jobId)).query(tuningProgressQuery);
    } catch (error) {
      throw await this.domainError(error, jobId);
    }
  }

  /** The latest global model's bytes, or the one with the given digest. */
  async model(jobId: string, digest?: string): Promise<{ digest: string; bytes: Uint8Array }> {
    const wanted = digest ?? (await this.progress(jobId)).globalDigest;
    if (!wanted) throw new DomainError('NOT_FOUND', `tuning job ${jobId} has no global model yet`);
    const bytes = await this.blobs.get(wanted);
    if (!bytes) throw new DomainError('NOT_FOUND', `no model ${wanted}`);
    return { digest: wanted, bytes };
  }

  async cancel(jobId: string): Promise<void> {
    try {
      await this.client.workflow.getHandle(tuningWorkflowId(jobId)).cancel();
    } catch (error) {
      throw await this.domainError(error, jobId);
    }
  }

  async pause(jobId: string, pause: boolean): Promise<TuningProgress> {
    try {
      return await this.client.workflow
        .getHandle(tuningWorkflowId(jobId))
        .executeUpdate(pause ? pauseTuningUpdate : resumeTuningUpdate);
    } catch (error) {
      throw await this.domainError(error, jobId);
    }
  }

  private domainError(error: unknown, jobId: string): Promise<unknown> {
    return workflowCallError(error, this.client.workflow.getHandle(tuningWorkflowId(jobId)), {
      missing: `no tuning job ${jobId}`,
      closed: { code: 'CONFLICT', message: `tuning job ${jobId} has finished` },
    });
  }
}

function describeStart(spec: TuningJobSpec, chosenBy: SwarmChoice): string {
  const who =
    spec.participantsPerRound !== undefined
      ? `${spec.participantsPerRound} agents a round`
      : spec.fraction === 1
        ? 'every ACTIVE agent that fits'
        : `${Math.round((spec.fraction ?? 1) * 100)}% of the ACTIVE agents that fit`;
  const why = chosenBy === 'request' ? '' : ` (chosen as the ${chosenBy})`;
  if (spec.mode === 'async') {
    return (
      `started asynchronous tuning job ${spec.jobId} on swarm ${spec.swarmId}${why}: ${spec.rounds} model versions ` +
      `on ${spec.model.kind} (${spec.model.dimension} parameters), each from ${spec.bufferSize} buffered updates at most ` +
      `${spec.maxStaleness} versions stale, announced to ${who}; follow it at GET /api/v1/tuning/${spec.jobId}`
    );
  }
  return (
    `started tuning job ${spec.jobId} on swarm ${spec.swarmId}${why}: ${spec.rounds} rounds of ${spec.strategy} ` +
    `on ${spec.model.kind} (${spec.model.dimension} parameters), ${who}, at least ${spec.minParticipants} ` +
    `update(s) a round; follow it at GET /api/v1/tuning/${spec.jobId}`
  );
}
