// Tasks of a swarm that are with an agent now (or held for one): task workflows
// whose visibility record says ASSIGNED or HELD (TaskStatus) and names the agent (AgentId).
import type { Client } from '@temporalio/client';
import { AgentIdKey, TaskStatusKey } from '../../core/search-attributes';
import type { TaskStatus } from '../../core/tasks';
import type { AssignedTask, TaskDirectory } from '../ports';
import { TASK_DELEGATION_WORKFLOW } from '../../workflows/definitions-tasks';
import { keywordAttribute, matchingExecutions, memoField } from './visibility';

export class TemporalTaskDirectory implements TaskDirectory {
  constructor(
    private readonly client: Client,
    private readonly namespace: string,
  ) {}

  assigned(swarmId: string, max: number): Promise<AssignedTask[]> {
    return this.inStatus(swarmId, 'ASSIGNED', max);
  }

  held(swarmId: string, max: number): Promise<AssignedTask[]> {
    return this.inStatus(swarmId, 'HELD', max);
  }

  private async inStatus(swarmId: string, status: TaskStatus, max: number): Promise<AssignedTask[]> {
    // Swarm ids are ID_PATTERN ids (validated at submission): safe between quotes.
    const query =
      `WorkflowType = '${TASK_DELEGATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND ` +
      `${TaskStatusKey.name} = '${status}' AND ExecutionStatus = 'Running'`;
    const found: AssignedTask[] = [];
    for await (const execution of matchingExecutions(this.client, this.namespace, query)) {
      const agentId = keywordAttribute(execution, AgentIdKey.name);
      const taskId = (execution.execution?.workflowId ?? '').replace(/^task-/, '');
      if (agentId && taskId) {
        const assignment = memoField(execution, 'assignment') as AssignedTask['assignment'];
        found.push(assignment ? { taskId, agentId, assignment } : { taskId, agentId });
      }
      if (found.length >= max) break;
    }
    return found;
  }
}
