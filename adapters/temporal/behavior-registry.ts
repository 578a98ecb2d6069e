// BehaviorAgentRegistry on Temporal visibility: the registration sessions
// (registerAgent workflows) are the registry, so "is this agent registered?"
// and "which swarms exist?" are visibility queries, read once per sweep.
import type { Client } from '@temporalio/client';
import type { BehaviorAgentRegistry } from '../ports';
import { ID_PATTERN } from '../../core/agents';
import { AgentIdKey, SwarmIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions, type ExecutionInfo } from './visibility';

export class TemporalBehaviorRegistry implements BehaviorAgentRegistry {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    /** Swarms are listed from the sessions these task queues run (the general and the registration queue). */
    private readonly taskQueue: string | string[],
  ) {}

  async registeredAgents(swarmId: string): Promise<Set<string>> {
    if (!ID_PATTERN.test(swarmId)) return new Set();
    const agents = new Set<string>();
    await this.each(
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND ExecutionStatus = 'Running' ` +
        `AND AgentStatus IN ('ACTIVE', 'LOST')`,
      (execution) => {
        const agentId = keywordAttribute(execution, AgentIdKey.name);
        if (agentId) agents.add(agentId);
        return true;
      },
    );
    return agents;
  }

  async swarms(limit: number): Promise<string[]> {
    const swarms = new Set<string>();
    await this.each(
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND ExecutionStatus = 'Running' AND TaskQueue IN (${[this.taskQueue].flat().map((queue) => `'${queue.replace(/'/g, "''")}'`).join(', ')})`,
      (execution) => {
        const swarmId = keywordAttribute(execution, SwarmIdKey.name);
        if (swarmId) swarms.add(swarmId);
        return swarms.size < limit;
      },
    );
    return [...swarms].sort();
  }

  /** Visits every matching execution until visit returns false. */
  private async each(query: string, visit: (execution: ExecutionInfo) => boolean): Promise<void> {
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      if (!visit(execution)) return;
    }
  }
}
