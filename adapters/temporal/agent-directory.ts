// The agents eligible for work, read from Temporal visibility: ACTIVE
// registration sessions of a swarm, with the resources kept in their memo.
import type { Client } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { AgentResources } from '../../core/agents';
import type { AgentDirectory, DirectoryEntry } from '../../activities/tuning';
import { AgentIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';

export class TemporalAgentDirectory implements AgentDirectory {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  async listActive(swarmId: string): Promise<DirectoryEntry[]> {
    const entries: DirectoryEntry[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.namespace,
        pageSize: 1000,
        nextPageToken,
        query: `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND AgentStatus = 'ACTIVE' AND ExecutionStatus = 'Running'`,
      });
      for (const execution of page.executions ?? []) {
        const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
        const agentId = String((attributes[AgentIdKey.name] as unknown[] | undefined)?.[0] ?? '');
        const memo = execution.memo?.fields?.resources;
        const resources = memo ? (await this.client.options.loadedDataConverter.payloadConverter.fromPayload(memo) as AgentResources) : undefined;
        if (agentId) entries.push({ agentId, resources });
      }
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
    return entries;
  }
}
