// Accepting ballots for one decision: signature, electorate, time window,
// duplicates and vote changes, each refusal with a typed reason. Keeps the
// ballot that counts for each voter and the power not cast yet.
import type { KeyObject } from 'node:crypto';
import { ballotSignatureValid, parseBallot } from './ballot';
import { choiceProblem } from './choice';
import type { RemainingPower } from './outcome';
import { tally, type CountedBallot } from './tally';
import type { AcceptedBallot, DecisionSystem, RefusalReason, Tally } from './types';

export interface BallotBoxRules {
  decisionId: string;
  system: DecisionSystem;
  options: string[];
  allowVoteChange?: boolean;
  /** agentId -> power, snapshotted when voting opened. */
  powers: Record<string, number>;
}

export type Offer =
  | { ok: true; ballot: AcceptedBallot; replaced: boolean }
  | { ok: false; reason: RefusalReason; agentId?: string };

export class BallotBox {
  private readonly counting = new Map<string, AcceptedBallot>();
  private readonly totalPower: number;
  private readonly totalSqrtPower: number;
  private castPower = 0;
  private castSqrtPower = 0;

  constructor(private readonly rules: BallotBoxRules) {
    const powers = Object.values(rules.powers);
    this.totalPower = powers.reduce((sum, power) => sum + power, 0);
    this.totalSqrtPower = powers.reduce((sum, power) => sum + Math.sqrt(power), 0);
  }

  /**
   * Offers a received ballot. window: voting's open interval [opensAt, closesAt)
   * in ms since the epoch, compared with receivedAt (the broker's publish time).
   * key: the sender's registered public key, undefined when it has none.
   */
  offer(raw: unknown, receivedAt: number, window: { opensAt: number; closesAt: number }, key: KeyObject | undefined): Offer {
    const ballot = parseBallot(raw);
    if (!ballot) return { ok: false, reason: 'malformed' };
    const { agentId } = ballot;
    if (ballot.decisionId !== this.rules.decisionId) return { ok: false, reason: 'wrong-decision', agentId };
    if (!key || !ballotSignatureValid(ballot, key)) return { ok: false, reason: 'forged', agentId };
    const power = this.rules.powers[agentId];
    if (power === undefined) return { ok: false, reason: 'ineligible', agentId };
    if (receivedAt < window.opensAt) return { ok: false, reason: 'not-open', agentId };
    if (receivedAt >= window.closesAt) return { ok: false, reason: 'late', agentId };
    if (choiceProblem(this.rules.system, this.rules.options, ballot.choice) !== undefined) {
      return { ok: false, reason: 'invalid-choice', agentId };
    }
    const previous = this.counting.get(agentId);
    if (previous && (!this.rules.allowVoteChange || ballot.castAt <= previous.castAt)) {
      return { ok: false, reason: 'duplicate', agentId };
    }
    const accepted: AcceptedBallot = { ...ballot, power, receivedAt };
    this.restore(accepted);
    return { ok: true, ballot: accepted, replaced: previous !== undefined };
  }

  /** Counts a ballot accepted before (rebuilding the box from kept ballots): the later castAt of a voter counts. */
  restore(ballot: AcceptedBallot): void {
    const previous = this.counting.get(ballot.agentId);
    if (previous && previous.castAt >= ballot.castAt) return;
    if (!previous) {
      this.castPower += ballot.power;
      this.castSqrtPower += Math.sqrt(ballot.power);
    }
    this.counting.set(ballot.agentId, ballot);
  }

  /** The tally of the ballots that count, one per voter. */
  tally(): Tally {
    const ballots: CountedBallot[] = [...this.counting.values()].map(({ agentId, choice, power }) => ({ agentId, choice, power }));
    return tally(this.rules.system, this.rules.options, ballots);
  }

  /** Power of the voters who have not voted yet. */
  remaining(): RemainingPower {
    return {
      power: Math.max(0, this.totalPower - this.castPower),
      sqrtPower: Math.max(0, this.totalSqrtPower - this.castSqrtPower),
    };
  }

  /** Power of the voters who have voted (the tally's turnout), without counting. */
  get turnout(): number {
    return this.castPower;
  }

  get voters(): number {
    return this.counting.size;
  }
}
