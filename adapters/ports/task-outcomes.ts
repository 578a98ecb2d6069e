// The task-outcome port: hands a verified agent outcome to the task's workflow.
import type { TaskOutcomeMessage } from '../../core/tasks';

export interface TaskOutcomeSink {
  /** 'closed' when the task has already ended (the outcome is a late duplicate). */
  deliver(outcome: TaskOutcomeMessage): Promise<'delivered' | 'closed'>;
}
