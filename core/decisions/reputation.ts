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

/** One aggregated federated round: the agents whose updates it accepted. */
export interface AcceptedRoundUpdates {
  swarmId: string;
  jobId: string;
  /** 1-based round of the job. */
  round: number;
  agentIds: string[];
}

/** A swarm's record of accepted round updates: per agent, and the last round recorded per job. */
export interface ContributionCounts {
  /** agentId -> accepted round updates. */
  counts: Record<string, number>;
  /** [jobId, last round recorded], oldest job first; at most MAX_JOBS_REMEMBERED. */
  jobs: Array<[string, number]>;
}

/** Jobs whose last recorded round is remembered (to refuse a round recorded twice). */
export const MAX_JOBS_REMEMBERED = 1_000;

export const EMPTY_CONTRIBUTIONS: ContributionCounts = { counts: {}, jobs: [] };

/**
 * Adds one round's accepted updates to the record, once: a round of a job at or below the last
 * one recorded for it (a retried activity, a repeated signal) changes nothing. Returns whether it
 * counted. Mutates `record`.
 */
export function recordAcceptedRound(record: ContributionCounts, round: Pick<AcceptedRoundUpdates, 'jobId' | 'round' | 'agentIds'>): boolean {
  const at = record.jobs.findIndex(([jobId]) => jobId === round.jobId);
  if (at >= 0 && record.jobs[at][1] >= round.round) return false;
  if (at >= 0) record.jobs.splice(at, 1);
  record.jobs.push([round.jobId, round.round]);
  if (record.jobs.length > MAX_JOBS_REMEMBERED) record.jobs.shift();
  for (const agentId of new Set(round.agentIds)) {
    if (agentId) record.counts[agentId] = (record.counts[agentId] ?? 0) + 1;
  }
  return true;
}

/** Reputation as the sum of its sources (succeeded tasks, accepted round updates), per agent. */
export function addScores(...sources: Array<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const scores of sources) {
    for (const [agentId, score] of Object.entries(scores)) total[agentId] = (total[agentId] ?? 0) + score;
  }
  return total;
}
