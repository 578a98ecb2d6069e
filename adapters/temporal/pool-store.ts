// PoolStore on Temporal: each pool's record is the state of its agentPool workflow (pool-<name>).
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PoolRecord } from '../../core/autoscaling';
import { agentPoolWorkflowId, poolRecordQuery, recordScalingUpdate } from '../../workflows/definitions';
import type { PoolStore } from '../ports';

export class TemporalPoolStore implements PoolStore {
  constructor(private readonly client: Client) {}

  async get(pool: string): Promise<PoolRecord | undefined> {
    try {
      return await this.client.workflow.getHandle(agentPoolWorkflowId(pool)).query(poolRecordQuery);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
  }

  async record(pool: string, entry: Parameters<PoolStore['record']>[1]): Promise<PoolRecord> {
    // The decision's id as the update id: the server answers a retried call with the first one's outcome.
    return this.client.workflow
      .getHandle(agentPoolWorkflowId(pool))
      .executeUpdate(recordScalingUpdate, { args: [entry], ...(entry.decision.id ? { updateId: `record-${entry.decision.id}` } : {}) });
  }
}
