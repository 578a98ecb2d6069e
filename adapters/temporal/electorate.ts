// The electorate of a swarm from Temporal visibility: live registration
// sessions with their status (search attribute), resources and capabilities
// (memo, set when the session starts).
import type { Client } from '@temporalio/client';
import type { AgentResources } from '../../core/agents';
import type { ElectorateMember } from '../../core/decisions/power';
import { AgentIdKey, AgentStatusKey } from '../../core/search-attributes';
import type { ElectorateDirectory } from '../ports';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';
import { keywordAttribute, matchingExecutions } from './visibility';

export class TemporalElectorate implements ElectorateDirectory {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  async members(swarmId: string): Promise<ElectorateMember[]> {
    const query =
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND ExecutionStatus = 'Running' ` +
      `AND AgentStatus IN ('ACTIVE', 'LOST')`;
    const converter = this.client.options.loadedDataConverter.payloadConverter;
    const members: ElectorateMember[] = [];
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      if (!agentId) continue;
      const fields = execution.memo?.fields ?? {};
      members.push({
        agentId,
        status: keywordAttribute(execution, AgentStatusKey.name),
        resources: fields.resources ? (converter.fromPayload(fields.resources) as AgentResources) : undefined,
        capabilities: fields.capabilities ? (converter.fromPayload(fields.capabilities) as string[]) : undefined,
      });
    }
    return members;
  }
}
