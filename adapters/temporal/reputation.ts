// Reputation from Temporal visibility: the swarm's task workflows whose TaskStatus is SUCCEEDED,
// counted per AgentId (the agent of the latest attempt), as core/decisions/reputation.ts defines.
import type { Client } from '@temporalio/client';
import { reputationFromTasks } from '../../core/decisions/reputation';
import { AgentIdKey } from '../../core/search-attributes';
import type { ReputationSource } from '../ports';
import { TASK_DELEGATION_WORKFLOW } from '../../workflows/definitions-tasks';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalTaskReputation implements ReputationSource {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  async scores(swarmId: string): Promise<Record<string, number>> {
    // Swarm ids are validated against ID_PATTERN before they reach a decision.
    const query = `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED'`;
    const agents: string[] = [];
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      agents.push(keywordAttribute(execution, AgentIdKey.name));
    }
    return reputationFromTasks(agents);
  }

  async scoreOf(swarmId: string, agentId: string): Promise<number> {
    // Both ids are validated against ID_PATTERN before they reach here.
    const query = `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED' AND AgentId = '${agentId}'`;
    return (await this.client.workflow.count(query)).count;
  }
}
