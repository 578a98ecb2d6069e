// Task candidates from the agent directory (ACTIVE registration sessions and
// the resources and capabilities in their memo), in the allocation's terms.
import { allocationAgent } from '../../core/tasks';
import type { AllocationAgent } from '../../core/allocation/types';
import type { AgentDirectory, TaskAgentSource } from '../ports';

export class DirectoryTaskAgents implements TaskAgentSource {
  constructor(private readonly directory: AgentDirectory) {}

  async candidates(swarmId: string): Promise<AllocationAgent[]> {
    return (await this.directory.listActive(swarmId)).map((entry) => allocationAgent(entry.agentId, entry.capabilities ?? [], entry.resources));
  }
}
