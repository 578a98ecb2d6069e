// The agents eligible for work, read from Temporal visibility: ACTIVE
// registration sessions of a swarm, with the resources kept in their memo.
import type { Client } from '@temporalio/client';
import type { AgentResources } from '../../core/agents';
import type { AgentDirectory, DirectoryEntry } from '../ports';
import { AgentIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalAgentDirectory implements AgentDirectory {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const entries: DirectoryEntry[] = [];
    const query = `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND AgentStatus = 'ACTIVE' AND ExecutionStatus = 'Running'`;
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      const memo = execution.memo?.fields?.resources;
      const resources = memo
        ? (this.client.options.loadedDataConverter.payloadConverter.fromPayload(memo) as AgentResources)
        : undefined;
      if (agentId) entries.push({ agentId, resources });
    }
    return entries;
  }
}
