// Counting: each voting system turns the ballots that count (one per voter)
// into scores per option and a leader. Pure and deterministic: ballots are
// counted in agent-id order, so float sums do not depend on arrival order.
//
// Tie-break (documented in the README): when options tie for the lead, the one
// listed first in the proposal's options leads (a proposer lists the status quo
// first). In instant runoff, when options tie for fewest votes, the one listed
// last is eliminated. A basic proposal needs for > threshold x (for + against),
// so a for/against tie is defeated.
import type { Choice, DecisionSystem, IrvRound, Tally } from './types';

export interface CountedBallot {
  agentId: string;
  choice: Choice;
  /** The voter's snapshotted power. */
  power: number;
}

/** The tally of one ballot per voter under a system; powers in the snapshot's units. */
export function tally(system: DecisionSystem, options: readonly string[], ballots: readonly CountedBallot[]): Tally {
  const ordered = [...ballots].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
  const scores: Record<string, number> = Object.fromEntries(options.map((option) => [option, 0]));
  let turnout = 0;
  let abstained = 0;
  for (const ballot of ordered) turnout += ballot.power;

  if (system === 'ranked-choice') return instantRunoff(options, ordered, turnout);

  for (const { choice, power } of ordered) {
    switch (system) {
      case 'basic':
        if (choice === 'abstain') abstained += power;
        else scores[choice as string] += power;
        break;
      case 'single-choice':
        scores[choice as string] += power;
        break;
      case 'approval':
        for (const option of choice as string[]) scores[option] += power;
        break;
      case 'weighted':
      case 'quadratic': {
        const weights = sortedWeights(choice as Record<string, number>);
        const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
        for (const [option, weight] of weights) {
          const credits = (power * weight) / total;
          // Quadratic: credits c buy sqrt(c) votes, so n votes on one option cost n^2.
          scores[option] += system === 'quadratic' ? Math.sqrt(credits) : credits;
        }
        break;
      }
    }
  }
  const contenders = system === 'basic' ? ['for', 'against'] : options;
  return { scores, turnout, abstained, ballots: ordered.length, ...lead(contenders, scores) };
}

function sortedWeights(choice: Record<string, number>): Array<[string, number]> {
  return Object.entries(choice).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The highest-scoring option (first listed among ties), and the tie if there was one. */
function lead(options: readonly string[], scores: Record<string, number>): Pick<Tally, 'leader' | 'tiedFor'> {
  const best = Math.max(...options.map((option) => scores[option]));
  if (!(best > 0)) return {};
  const tied = options.filter((option) => scores[option] === best);
  return tied.length > 1 ? { leader: tied[0], tiedFor: tied } : { leader: tied[0] };
}

/**
 * Instant runoff: each round every ballot counts for its highest-ranked option
 * still in the race; an option with more than half of the ballots still
 * counting wins; otherwise the option with fewest votes is eliminated (the
 * last listed among ties). Ballots whose ranked options are all eliminated are
 * exhausted and stop counting.
 */
function instantRunoff(options: readonly string[], ballots: readonly CountedBallot[], turnout: number): Tally {
  const continuing = new Set(options);
  const rounds: IrvRound[] = [];
  let leader: string | undefined;
  let tiedFor: string[] | undefined;
  for (;;) {
    const counts: Record<string, number> = Object.fromEntries([...continuing].map((option) => [option, 0]));
    let exhausted = 0;
    let counting = 0;
    for (const { choice, power } of ballots) {
      const top = (choice as string[]).find((option) => continuing.has(option));
      if (top === undefined) exhausted += power;
      else {
        counts[top] += power;
        counting += power;
      }
    }
    const round: IrvRound = { counts, exhausted };
    rounds.push(round);
    const inRace = options.filter((option) => continuing.has(option));
    const best = counting > 0 ? lead(inRace, counts) : {};
    if (best.leader === undefined) break;
    if (counts[best.leader] > counting / 2) {
      leader = best.leader;
      break;
    }
    if (inRace.length <= 2) {
      // Two left and tied: the first listed leads (the tie-break).
      leader = best.leader;
      tiedFor = best.tiedFor;
      break;
    }
    const fewest = Math.min(...inRace.map((option) => counts[option]));
    const eliminated = [...inRace].reverse().find((option) => counts[option] === fewest) as string;
    round.eliminated = eliminated;
    continuing.delete(eliminated);
  }
  const final = rounds[rounds.length - 1];
  const scores: Record<string, number> = Object.fromEntries(options.map((option) => [option, final.counts[option] ?? 0]));
  return { scores, turnout, abstained: 0, ballots: ballots.length, leader, ...(tiedFor ? { tiedFor } : {}), rounds };
}
