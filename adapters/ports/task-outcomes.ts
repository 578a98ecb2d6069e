// The task-outcome port: hands a verified agent outcome, or a Contract Net bid, to the task's workflow.
import type { TaskBidMessage, TaskOutcomeMessage } from '../../core/tasks';

export interface TaskOutcomeSink {
  /** 'closed' when the task has already ended (the outcome is a late duplicate). */
  deliver(outcome: TaskOutcomeMessage): Promise<'delivered' | 'closed'>;
  /** 'closed' when the task has already ended (the bid came too late). */
  deliverBid(bid: TaskBidMessage): Promise<'delivered' | 'closed'>;
}
