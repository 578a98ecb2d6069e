// Voting power of each member of the electorate, computed once, when voting opens.
import type { AgentResources } from '../agents';
import type { Electorate, PowerRule } from './types';

export interface ElectorateMember {
  agentId: string;
  status: string;
  capabilities?: string[];
  resources?: AgentResources;
  /** Reputation score, >= 0, where a reputation source provides one. */
  reputation?: number;
}

/**
 * Voting power of one member: equal 1; resources: cores + GPUs; reputation:
 * its score; fixed: the listed number (0 when unlisted). Non-finite or negative is 0.
 */
export function votingPower(rule: PowerRule, member: ElectorateMember): number {
  const power =
    rule === 'equal'
      ? 1
      : rule === 'resources'
        ? (member.resources?.cpu ?? 0) + (member.resources?.gpu ?? 0)
        : rule === 'reputation'
          ? (member.reputation ?? 0)
          : (rule.fixed[member.agentId] ?? 0);
  return Number.isFinite(power) && power > 0 ? power : 0;
}

/** Whether a member belongs to the electorate (default: ACTIVE agents, any capabilities). */
export function inElectorate(electorate: Electorate | undefined, member: ElectorateMember): boolean {
  const statuses: string[] = electorate?.status ?? ['ACTIVE'];
  if (!statuses.includes(member.status)) return false;
  if (electorate?.agentIds && !electorate.agentIds.includes(member.agentId)) return false;
  const has = new Set(member.capabilities ?? []);
  return (electorate?.capabilities ?? []).every((capability) => has.has(capability));
}

/** agentId -> power for every member with power above 0, in agent-id order. */
export function snapshotPower(rule: PowerRule, electorate: Electorate | undefined, members: readonly ElectorateMember[]): Record<string, number> {
  const powers: Record<string, number> = {};
  for (const member of [...members].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0))) {
    if (!inElectorate(electorate, member)) continue;
    const power = votingPower(rule, member);
    if (power > 0) powers[member.agentId] = power;
  }
  return powers;
}
