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
  /** When the round was aggregated, ms since the epoch; with it the ledger also keeps decaying scores. */
  at?: number;
  /** The reputation half-life the recorder runs with (QP_REPUTATION_HALF_LIFE_MS), ms; 0 or absent: no decay. */
  halfLifeMs?: number;
}

/** An agent's decaying score: its value at `at` (ms since the epoch); it halves every half-life from then. */
export interface DecayingScore {
  score: number;
  at: number;
}

/** A swarm's record of accepted round updates: per agent, and the last round recorded per job. */
export interface ContributionCounts {
  /** agentId -> accepted round updates. */
  counts: Record<string, number>;
  /** [jobId, last round recorded], oldest job first; at most MAX_JOBS_REMEMBERED. */
  jobs: Array<[string, number]>;
  /** agentId -> decaying score of the rounds recorded with a time (absent in records made before decay). */
  scores?: Record<string, DecayingScore>;
}

/** Jobs whose last recorded round is remembered (to refuse a round recorded twice). */
export const MAX_JOBS_REMEMBERED = 1_000;

export const EMPTY_CONTRIBUTIONS: ContributionCounts = { counts: {}, jobs: [] };

/**
 * Adds one round's accepted updates to the record, once: a round of a job at or below the last
 * one recorded for it (a retried activity, a repeated signal) changes nothing. Returns whether it
 * counted. Mutates `record`.
 */
export function recordAcceptedRound(
  record: ContributionCounts,
  round: Pick<AcceptedRoundUpdates, 'jobId' | 'round' | 'agentIds' | 'at' | 'halfLifeMs'>,
): boolean {
  const at = record.jobs.findIndex(([jobId]) => jobId === round.jobId);
  if (at >= 0 && record.jobs[at][1] >= round.round) return false;
  if (at >= 0) record.jobs.splice(at, 1);
  record.jobs.push([round.jobId, round.round]);
  if (record.jobs.length > MAX_JOBS_REMEMBERED) record.jobs.shift();
  for (const agentId of new Set(round.agentIds)) {
    if (!agentId) continue;
    record.counts[agentId] = (record.counts[agentId] ?? 0) + 1;
    if (round.at !== undefined) {
      const scores = (record.scores ??= {});
      const before = scores[agentId];
      // Rounds of two jobs may arrive slightly out of time order: the older one is added undecayed at the newer time.
      const at = Math.max(round.at, before?.at ?? round.at);
      scores[agentId] = { score: (before ? decayed(before.score, at - before.at, round.halfLifeMs ?? 0) : 0) + 1, at };
    }
  }
  return true;
}

/** What is left of `score` after `elapsedMs` (ms), halving every `halfLifeMs` (ms); 0 half-life: no decay. */
export function decayed(score: number, elapsedMs: number, halfLifeMs: number): number {
  if (halfLifeMs <= 0 || elapsedMs <= 0) return score;
  return score * Math.pow(0.5, elapsedMs / halfLifeMs);
}

/** Per agent, each (agentId, when in ms) worth 1 at its time, decayed to `now` (ms) with `halfLifeMs`. */
export function decayedReputation(events: Iterable<{ agentId: string; at: number }>, now: number, halfLifeMs: number): Record<string, number> {
  const scores: Record<string, number> = {};
  for (const { agentId, at } of events) {
    if (agentId) scores[agentId] = (scores[agentId] ?? 0) + decayed(1, now - at, halfLifeMs);
  }
  return scores;
}

/**
 * A ledger's contributions as reputation at `now` (ms): decaying scores decayed further to now;
 * agents with counts but no score (recorded before decay existed) keep their counts undecayed.
 */
export function contributionReputation(
  counts: Record<string, number>,
  scores: Record<string, DecayingScore>,
  now: number,
  halfLifeMs: number,
): Record<string, number> {
  const total: Record<string, number> = { ...counts };
  for (const [agentId, entry] of Object.entries(scores)) total[agentId] = decayed(entry.score, now - entry.at, halfLifeMs);
  return total;
}

/** Reputation as the sum of its sources (succeeded tasks, accepted round updates), per agent. */
export function addScores(...sources: Array<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const scores of sources) {
    for (const [agentId, score] of Object.entries(scores)) total[agentId] = (total[agentId] ?? 0) + score;
  }
  return total;
}
