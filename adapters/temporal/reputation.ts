// Reputation from Temporal: the swarm's task workflows whose TaskStatus is SUCCEEDED, counted per
// AgentId (the agent of the latest attempt) from visibility, plus the federated round updates of the
// swarm's tuning jobs that were accepted (the contribution ledger), as core/decisions/reputation.ts defines.
import type { Client } from '@temporalio/client';
import { addScores, reputationFromTasks } from '../../core/decisions/reputation';
import { AgentIdKey } from '../../core/search-attributes';
import type { ContributionLedger, ReputationSource } from '../ports';
import { TASK_DELEGATION_WORKFLOW } from '../../workflows/definitions-tasks';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalTaskReputation implements ReputationSource {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    /** Accepted round updates; without it reputation is succeeded tasks only. */
    private readonly contributions?: ContributionLedger,
  ) {}

  async scores(swarmId: string): Promise<Record<string, number>> {
    // Swarm ids are validated against ID_PATTERN before they reach a decision.
    const query = `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED'`;
    const agents: string[] = [];
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      agents.push(keywordAttribute(execution, AgentIdKey.name));
    }
    const tasks = reputationFromTasks(agents);
    return this.contributions ? addScores(tasks, await this.contributions.counts(swarmId)) : tasks;
  }

  async scoreOf(swarmId: string, agentId: string): Promise<number> {
    // Both ids are validated against ID_PATTERN before they reach here.
    const query = `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND TaskStatus = 'SUCCEEDED' AND AgentId = '${agentId}'`;
    const tasks = (await this.client.workflow.count(query)).count;
    return tasks + (this.contributions ? ((await this.contributions.counts(swarmId))[agentId] ?? 0) : 0);
  }
}
