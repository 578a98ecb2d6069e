// Federated tuning jobs behind the REST routes: start, progress, model, control.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { JobIdKey, SwarmIdKey } from '../core/search-attributes';
import type { TuningJobSpec, TuningProgress } from '../core/tuning';
import type { BlobStore } from '../adapters/ports';
import { workflowCallError } from './temporal-errors';
import {
  TUNING_WORKFLOW,
  pauseTuningUpdate,
  resumeTuningUpdate,
  tuningProgressQuery,
  tuningWorkflowId,
} from '../workflows/definitions';
import type { FederatedTuningInput } from '../workflows/tuning';

export class TuningService {
  constructor(
    private readonly client: Client,
    private readonly blobs: BlobStore,
    private readonly taskQueue: string,
  ) {}

  async start(request: Omit<TuningJobSpec, 'jobId'> & { jobId?: string }): Promise<{ jobId: string; workflowId: string }> {
    const spec: TuningJobSpec = { ...request, jobId: request.jobId ?? randomUUID() };
    if (spec.model.initialDigest && !(await this.blobs.has(spec.model.initialDigest))) {
      throw new DomainError('INVALID_ARGUMENT', `no model blob ${spec.model.initialDigest}`, { field: 'model.initialDigest' });
    }
    const workflowId = tuningWorkflowId(spec.jobId);
    const input: FederatedTuningInput = { spec };
    try {
      await this.client.workflow.start(TUNING_WORKFLOW, {
        workflowId,
        taskQueue: this.taskQueue,
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
    return { jobId: spec.jobId, workflowId };
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
