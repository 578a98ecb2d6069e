// Reputation, as a voting-power rule reads it: the work the manager has seen an agent finish.

/**
 * Reputation of each agent: one point per SUCCEEDED task whose latest attempt was the agent's
 * (pass one agent id per such task, of one swarm). Agents with no such task are absent (score 0).
 */
export function reputationFromTasks(succeededBy: Iterable<string>): Record<string, number> {
  const scores: Record<string, number> = {};
  for (const agentId of succeededBy) {
    if (agentId) scores[agentId] = (scores[agentId] ?? 0) + 1;
  }
  return scores;
}
