// What the tuning activities tell the analytics about a round (swarm/<id>/rounds, api/asyncapi.yaml):
// one round-closed event per collection attempt, and one update-rejected event per refused update
// whose sender is known (asynchronous jobs: rejections only, their round being the model version
// the buffer builds). The analytics turn them into straggler rates and rejection bursts.

export interface RoundClosedMessage {
  type: 'round-closed';
  jobId: string;
  round: number;
  attempt: number;
  /** ms since the epoch, manager clock. */
  closedAt: number;
  /** aggregated, or quorum-not-met. */
  status: string;
  participants: string[];
  /** Participants whose update the round did not receive before it closed. */
  stragglers: string[];
}

export interface UpdateRejectedMessage {
  type: 'update-rejected';
  jobId: string;
  round: number;
  agentId: string;
  reason: string;
  /** ms since the epoch, manager clock. */
  rejectedAt: number;
  /** The collection attempt (synchronous rounds); with seq it names this refusal, so a retried collection's copy is dropped. */
  attempt?: number;
  /** Rank of this refusal among the attempt's refusals of the same agent for the same reason, from 1. */
  seq?: number;
  /**
   * The refused update's message id (asynchronous jobs, which have no collection attempt): a message
   * redelivered to a retried collection, or judged again by the drain, is refused again under the same id.
   */
  updateId?: string;
}

/** A refused update: why, and whose (when its header named a sender). */
export interface RefusedUpdate {
  reason: string;
  agentId?: string;
  /** When it was refused, ms since the epoch. */
  at: number;
  /** The refused message's id on its updates topic. */
  updateId?: string;
}

/** The analytics parser's id rule (core/analytics/events.ts): other ids cannot be windowed. */
const ANALYTICS_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The events of one closed collection attempt: round-closed, then the rejections with a usable sender. */
export function roundEvents(input: {
  jobId: string;
  round: number;
  attempt: number;
  status: string;
  participants: readonly string[];
  reported: readonly string[];
  refused: readonly RefusedUpdate[];
  /** ms since the epoch. */
  closedAt: number;
}): (RoundClosedMessage | UpdateRejectedMessage)[] {
  const reported = new Set(input.reported);
  const participants = input.participants.filter((id) => ANALYTICS_ID.test(id));
  const closed: RoundClosedMessage = {
    type: 'round-closed',
    jobId: input.jobId,
    round: input.round,
    attempt: input.attempt,
    closedAt: input.closedAt,
    status: input.status,
    participants,
    stragglers: participants.filter((id) => !reported.has(id)),
  };
  return [closed, ...rejectionEvents(input.jobId, input.round, input.refused, input.attempt)];
}

/**
 * One update-rejected event per refused update whose header named a usable sender. With the
 * collection attempt, each carries (attempt, seq): a retry that refuses the same updates names them alike.
 * Without it (asynchronous jobs), each carries its update's message id when it has one.
 */
export function rejectionEvents(jobId: string, round: number, refused: readonly RefusedUpdate[], attempt?: number): UpdateRejectedMessage[] {
  const ranks = new Map<string, number>();
  return refused
    .filter((r): r is RefusedUpdate & { agentId: string } => r.agentId !== undefined && ANALYTICS_ID.test(r.agentId) && r.reason.length > 0 && r.reason.length <= 64)
    .map((r) => {
      const message: UpdateRejectedMessage = { type: 'update-rejected', jobId, round, agentId: r.agentId, reason: r.reason, rejectedAt: r.at };
      if (attempt === undefined) return r.updateId === undefined ? message : { ...message, updateId: r.updateId };
      const rank = `${r.agentId}|${r.reason}`;
      const seq = (ranks.get(rank) ?? 0) + 1;
      ranks.set(rank, seq);
      return { ...message, attempt, seq };
    });
}
