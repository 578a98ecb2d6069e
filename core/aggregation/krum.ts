// Krum and Multi-Krum (Blanchard et al. 2017) as Flower's aggregate_krum: with f the number of
// Byzantine agents tolerated, each update's score is the sum of its squared L2 distances to
// its n − f − 2 nearest other updates (at least 1); Krum returns the update with the lowest
// score, Multi-Krum the example-weighted mean of the `keep` lowest. Ties go to the earlier
// arrival (Flower's argmin; its argsort is unstable, ours is stable so the result is
// deterministic). Distances in float64; O(n² · model) time. Buffers every update.
import { BufferedRound, squaredDistances, weightedAverage } from './buffered';
import type { ModelUpdate, Strategy, StrategyOptions } from './types';
import { checkCount } from './validate';

/**
 * Krum scores (parameter units squared) of `members` (indices into the distance matrix),
 * each against the other members only.
 */
export function krumScores(distances: readonly Float64Array[], members: readonly number[], byzantine: number): Float64Array {
  const n = members.length;
  const closest = Math.max(1, n - byzantine - 2);
  const scores = new Float64Array(n);
  const others = new Float64Array(Math.max(0, n - 1));
  members.forEach((a, i) => {
    let o = 0;
    for (const b of members) if (b !== a) others[o++] = distances[a][b];
    others.sort();
    let score = 0;
    for (let k = 0; k < Math.min(closest, o); k++) score += others[k];
    scores[i] = score;
  });
  return scores;
}

/** Positions of the `keep` lowest scores, lowest first, ties by position. */
export function lowestScores(scores: Float64Array, keep: number): number[] {
  return Array.from(scores.keys())
    .sort((a, b) => scores[a] - scores[b] || a - b)
    .slice(0, keep);
}

/** Krum: a copy of the params of the update with the lowest score (f = byzantine agents tolerated). */
export function krum(updates: readonly ModelUpdate[], byzantine: number): Float32Array {
  const members = updates.map((_, k) => k);
  const [best] = lowestScores(krumScores(squaredDistances(updates), members, byzantine), 1);
  return updates[best].params.slice();
}

/** Multi-Krum: the example-weighted mean of the `keep` updates with the lowest Krum scores (taken in arrival order). */
export function multiKrum(updates: readonly ModelUpdate[], byzantine: number, keep: number): Float32Array {
  const members = updates.map((_, k) => k);
  const chosen = lowestScores(krumScores(squaredDistances(updates), members, byzantine), Math.min(keep, updates.length));
  chosen.sort((a, b) => a - b);
  return weightedAverage(
    chosen.map((k) => updates[k]),
    updates[0].params.length,
  );
}

/** Krum (byzantine = f, default 0 as in Flower); O(agents × model) memory. */
export function createKrum(options: StrategyOptions = {}): Strategy {
  const byzantine = checkCount('byzantine', options.byzantine ?? 0);
  return {
    name: 'krum',
    streaming: false,
    start: (global, state) => new BufferedRound(global, state, (updates) => krum(updates, byzantine)),
  };
}

/** Multi-Krum averaging multiKrumKeep updates (default n − f, the paper's choice; at least 1). */
export function createMultiKrum(options: StrategyOptions = {}): Strategy {
  const byzantine = checkCount('byzantine', options.byzantine ?? 0);
  const keep = options.multiKrumKeep === undefined ? undefined : checkCount('multiKrumKeep', options.multiKrumKeep);
  if (keep === 0) checkCount('multiKrumKeep', -1); // 0 would be Flower's "plain Krum": use 'krum' for that
  return {
    name: 'multikrum',
    streaming: false,
    start: (global, state) =>
      new BufferedRound(global, state, (updates) =>
        multiKrum(updates, byzantine, keep ?? Math.max(1, updates.length - byzantine)),
      ),
  };
}
