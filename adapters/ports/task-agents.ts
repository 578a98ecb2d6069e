// The task-agent port: the agents of a swarm that may be given tasks now, in
// the allocation's terms (capacity, capabilities, speed, energy profile).
import type { AllocationAgent } from '../../core/allocation/types';

export interface TaskAgentSource {
  /** ACTIVE agents of the swarm with their declared profiles. */
  candidates(swarmId: string): Promise<AllocationAgent[]>;
}
