// From a tally to a result: quorum, threshold, whether the result can still
// change (early close), and the late-quorum extension of the deadline.
import type { DecisionOutcome, DecisionSpec, DecisionSystem, Quorum, Tally } from './types';

/** Voting power the quorum asks for, in the snapshot's units. */
export function quorumPower(quorum: Quorum, totalPower: number): number {
  return 'fraction' in quorum ? quorum.fraction * totalPower : quorum.absolute;
}

/** The share a winner must exceed, 0..1: basic 0.5 unless set, other systems 0 (plurality). */
export function thresholdOf(spec: Pick<DecisionSpec, 'system' | 'threshold'>): number {
  return spec.threshold ?? (spec.system === 'basic' ? 0.5 : 0);
}

/**
 * The leader's share as the threshold compares it, 0..1:
 * basic: for / (for + against); approval: approving power / turnout;
 * ranked-choice: final-round votes / ballots still counting; others: leader's score / all scores.
 */
export function leaderShare(system: DecisionSystem, tally: Tally): number {
  if (system === 'basic') {
    const decisive = tally.scores.for + tally.scores.against;
    return decisive > 0 ? tally.scores.for / decisive : 0;
  }
  if (tally.leader === undefined) return 0;
  const score = tally.scores[tally.leader];
  if (system === 'approval') return tally.turnout > 0 ? score / tally.turnout : 0;
  const total = Object.values(tally.scores).reduce((sum, value) => sum + value, 0);
  return total > 0 ? score / total : 0;
}

/** The result if voting closed with this tally; totalPower is the snapshot's total voting power. */
export function decide(
  spec: Pick<DecisionSpec, 'system' | 'threshold' | 'quorum'>,
  tally: Tally,
  totalPower: number,
): DecisionOutcome {
  const needed = quorumPower(spec.quorum, totalPower);
  const base = { quorumPower: needed, turnout: tally.turnout };
  if (tally.turnout < needed || tally.ballots === 0) return { state: 'QUORUM_NOT_MET', ...base };
  const share = leaderShare(spec.system, tally);
  const winner = spec.system === 'basic' ? 'for' : tally.leader;
  if (winner !== undefined && share > thresholdOf(spec)) return { state: 'SUCCEEDED', winner, share, ...base };
  return { state: 'DEFEATED', share, ...base };
}

/** Voting power not yet cast: what the voters still to vote could add. */
export interface RemainingPower {
  /** Sum of their powers. */
  power: number;
  /** Sum of the square roots of their powers (quadratic votes they could put on one option). */
  sqrtPower: number;
}

/**
 * True when no ballots still to come can change the result (state and winner):
 * every eligible voter has voted, quorum can no longer be reached, or the
 * leader is out of reach. Conservative: for systems other than basic, only an
 * unassailable winner (not an unassailable defeat) closes early. Never with
 * vote changes allowed, since a ballot already cast may still change.
 */
export function cannotChange(
  spec: Pick<DecisionSpec, 'system' | 'threshold' | 'quorum' | 'allowVoteChange' | 'options'>,
  tally: Tally,
  totalPower: number,
  remaining: RemainingPower,
): boolean {
  if (spec.allowVoteChange) return false;
  const needed = quorumPower(spec.quorum, totalPower);
  const r = remaining.power;
  if (tally.turnout + r < needed) return true;
  if (r <= 0) return true;
  if (tally.turnout < needed) return false;
  const threshold = thresholdOf(spec);
  if (spec.system === 'basic') {
    const { for: yes, against: no } = tally.scores;
    const succeeds = yes + no + r > 0 && yes / (yes + no + r) > threshold;
    const defeated = yes + r + no === 0 || (yes + r) / (yes + r + no) <= threshold;
    return succeeds || defeated;
  }
  const leader = tally.leader;
  if (leader === undefined) return false;
  const score = tally.scores[leader];
  if (spec.system === 'ranked-choice') {
    const firstPreferences = tally.rounds?.[0]?.counts[leader] ?? 0;
    return firstPreferences / (tally.turnout + r) > Math.max(0.5, threshold);
  }
  const runnerUp = Math.max(0, ...spec.options.filter((option) => option !== leader).map((option) => tally.scores[option]));
  const total = Object.values(tally.scores).reduce((sum, value) => sum + value, 0);
  // Most a remaining voter adds to one option, and to all options together.
  const toOne = spec.system === 'quadratic' ? remaining.sqrtPower : r;
  const toAll = spec.system === 'quadratic' ? remaining.sqrtPower * Math.sqrt(spec.options.length) : r;
  if (!(score > runnerUp + toOne)) return false;
  const worstShare = spec.system === 'approval' ? score / (tally.turnout + r) : score / (total + toAll);
  return worstShare > threshold;
}

/**
 * The deadline after quorum is first reached at quorumReachedAt (ms since the
 * epoch): moved to quorumReachedAt + extensionMs when that is later, so a
 * quorum reached at the last moment leaves the others time to react.
 */
export function deadlineAfterQuorum(deadline: number, quorumReachedAt: number, extensionMs: number | undefined): number {
  return extensionMs ? Math.max(deadline, quorumReachedAt + extensionMs) : deadline;
}
