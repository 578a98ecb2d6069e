// Delivers an agent's verified task outcome (or Contract Net bid) to its task-<taskId> workflow as a signal.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { TaskBidMessage, TaskOutcomeMessage } from '../../core/tasks';
import type { TaskOutcomeSink } from '../ports';
import { taskBidSignal, taskOutcomeSignal, taskWorkflowId } from '../../workflows/definitions-tasks';

export class TemporalTaskOutcomes implements TaskOutcomeSink {
  constructor(private readonly client: Client) {}

  async deliver(outcome: TaskOutcomeMessage): Promise<'delivered' | 'closed'> {
    return this.signal(() => this.client.workflow.getHandle(taskWorkflowId(outcome.taskId)).signal(taskOutcomeSignal, outcome));
  }

  async deliverBid(bid: TaskBidMessage): Promise<'delivered' | 'closed'> {
    return this.signal(() => this.client.workflow.getHandle(taskWorkflowId(bid.taskId)).signal(taskBidSignal, bid));
  }

  private async signal(send: () => Promise<void>): Promise<'delivered' | 'closed'> {
    try {
      await send();
      return 'delivered';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'closed';
      throw error;
    }
  }
}
