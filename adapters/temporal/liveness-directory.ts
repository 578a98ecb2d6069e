// LivenessDirectory on Temporal: signal-with-start of the swarm's liveness
// monitor, so the first agent of a swarm starts it and later ones join it.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { LivenessDirectory } from '../ports';
import {
  LIVENESS_WORKFLOW,
  livenessWorkflowId,
  unwatchAgentSignal,
  watchAgentSignal,
  type LivenessMonitorInput,
} from '../../workflows/definitions';

export interface TemporalLivenessOptions {
  taskQueue: string;
  graceMs: number;
  windowMs: number;
}

export class TemporalLivenessDirectory implements LivenessDirectory {
  constructor(
    private readonly client: Client,
    private readonly options: TemporalLivenessOptions,
  ) {}

  async watch(swarmId: string, agentId: string): Promise<void> {
    const input: LivenessMonitorInput = {
      swarmId,
      graceMs: this.options.graceMs,
      windowMs: this.options.windowMs,
    };
    await this.client.workflow.signalWithStart(LIVENESS_WORKFLOW, {
      workflowId: livenessWorkflowId(swarmId),
      taskQueue: this.options.taskQueue,
      args: [input],
      signal: watchAgentSignal,
      signalArgs: [{ agentId }],
    });
  }

  async unwatch(swarmId: string, agentId: string): Promise<void> {
    try {
      await this.client.workflow.getHandle(livenessWorkflowId(swarmId)).signal(unwatchAgentSignal, { agentId });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
}
