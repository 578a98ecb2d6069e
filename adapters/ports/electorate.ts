// The electorate port: who may vote in a swarm's decisions, with what the
// voting-power rules read (status, capabilities, resources).
import type { ElectorateMember } from '../../core/decisions/power';

export interface ElectorateDirectory {
  /** Every agent of the swarm with a live registration session (ACTIVE or LOST). */
  members(swarmId: string): Promise<ElectorateMember[]>;
}
