// BehaviorAgentRegistry on Temporal visibility: the registration sessions
// (registerAgent workflows) are the registry, so "is this agent registered?"
// and "which swarms exist?" are visibility queries, read once per sweep.
import type { Client } from '@temporalio/client';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { BehaviorAgentRegistry } from '../../activities/behaviors';
import { ID_PATTERN } from '../../core/agents';
import { AgentIdKey, SwarmIdKey } from '../../core/search-attributes';
import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';

export class TemporalBehaviorRegistry implements BehaviorAgentRegistry {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
    /** Swarms are listed from the sessions this worker's task queue runs. */
    private readonly taskQueue: string,
  ) {}

  async registeredAgents(swarmId: string): Promise<Set<string>> {
    if (!ID_PATTERN.test(swarmId)) return new Set();
    const agents = new Set<string>();
    await this.each(
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND ExecutionStatus = 'Running' ` +
        `AND AgentStatus IN ('ACTIVE', 'LOST')`,
      (attributes) => {
        const agentId = first(attributes, AgentIdKey.name);
        if (agentId) agents.add(agentId);
        return true;
      },
    );
    return agents;
  }

  async swarms(limit: number): Promise<string[]> {
    const swarms = new Set<string>();
    await this.each(
      `WorkflowType = '${REGISTRATION_WORKFLOW}' AND ExecutionStatus = 'Running' AND TaskQueue = '${this.taskQueue.replace(/'/g, "''")}'`,
      (attributes) => {
        const swarmId = first(attributes, SwarmIdKey.name);
        if (swarmId) swarms.add(swarmId);
        return swarms.size < limit;
      },
    );
    return [...swarms].sort();
  }

  /** Visits every matching execution's search attributes until visit returns false. */
  private async each(query: string, visit: (attributes: Record<string, unknown>) => boolean): Promise<void> {
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.namespace,
        pageSize: 1000,
        nextPageToken,
        query,
      });
      for (const execution of page.executions ?? []) {
        if (!visit(decodeSearchAttributes(execution.searchAttributes?.indexedFields))) return;
      }
      nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (nextPageToken);
  }
}

function first(attributes: Record<string, unknown>, name: string): string {
  return String((attributes[name] as unknown[] | undefined)?.[0] ?? '');
}
