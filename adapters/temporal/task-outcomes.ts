// Delivers an agent's verified task outcome to its task-<taskId> workflow as a signal.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { TaskOutcomeMessage } from '../../core/tasks';
import type { TaskOutcomeSink } from '../ports';
import { taskOutcomeSignal, taskWorkflowId } from '../../workflows/definitions-tasks';

export class TemporalTaskOutcomes implements TaskOutcomeSink {
  constructor(private readonly client: Client) {}

  async deliver(outcome: TaskOutcomeMessage): Promise<'delivered' | 'closed'> {
    try {
      await this.client.workflow.getHandle(taskWorkflowId(outcome.taskId)).signal(taskOutcomeSignal, outcome);
      return 'delivered';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return 'closed';
      throw error;
    }
  }
}
