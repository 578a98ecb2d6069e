// Task candidates from the agent directory (ACTIVE registration sessions and
// the resources in their memo), in the allocation's terms.
import { allocationAgent } from '../../core/tasks';
import type { AllocationAgent } from '../../core/allocation/types';
import type { AgentDirectory, TaskAgentSource } from '../ports';

export class DirectoryTaskAgents implements TaskAgentSource {
  constructor(private readonly directory: AgentDirectory) {}

  async candidates(swarmId: string): Promise<AllocationAgent[]> {
    // The directory's memo carries resources only: capabilities are not listed there yet.
    return (await this.directory.listActive(swarmId)).map((entry) => allocationAgent(entry.agentId, [], entry.resources));
  }
}
