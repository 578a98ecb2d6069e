// From scored behaviors to emergent strategies: pick the candidates (novel and
// good enough), cluster them with DBSCAN, and summarise each cluster.
import { dbscan, NOISE } from './dbscan';
import { distanceBetween, median } from './novelty';
import type {
  BehaviorMetric,
  ResolvedSweepParameters,
  ScoredBehavior,
  StrategySummary,
  SweepParameters,
} from './types';

/** Candidates clustered per sweep at most (DBSCAN is O(n^2)); the most novel are kept. */
export const MAX_CANDIDATES = 4000;
const MAX_LISTED_AGENTS = 50;
const MAX_LISTED_BEHAVIORS = 20;
/** Floor of automatic thresholds, so a swarm of identical behaviors does not make everything novel. */
const MIN_AUTO_DISTANCE = 1e-6;

/** A strategy with its centroid: the centroid goes to the vector store and the broadcast, never into a report. */
export interface DiscoveredStrategy extends Omit<StrategySummary, 'disseminated'> {
  centroid: number[];
}

export interface Discovery {
  parameters: ResolvedSweepParameters;
  meanFitness: number;
  candidates: number;
  clustered: number;
  noise: number;
  /** Best first: highest mean fitness, then most behaviors. */
  strategies: DiscoveredStrategy[];
}

/** Resolves 'auto' and 'mean' settings from the sweep's own scores (see SweepParameters). */
export function resolveParameters(
  scored: readonly ScoredBehavior[],
  parameters: SweepParameters,
  metric: BehaviorMetric,
  dimension: number,
): ResolvedSweepParameters {
  const typical = median(scored.map((b) => b.novelty));
  return {
    metric,
    dimension,
    k: parameters.k,
    noveltyThreshold:
      parameters.noveltyThreshold === 'auto'
        ? Math.max(MIN_AUTO_DISTANCE, parameters.noveltyFactor * typical)
        : parameters.noveltyThreshold,
    fitnessFloor: parameters.fitnessFloor === 'mean' ? meanFitness(scored) : parameters.fitnessFloor,
    eps: parameters.eps === 'auto' ? Math.max(MIN_AUTO_DISTANCE, 2 * typical) : parameters.eps,
    minPts: parameters.minPts,
  };
}

/** Mean fitness of the behaviors (0 when there are none). */
export function meanFitness(behaviors: readonly { fitness: number }[]): number {
  if (behaviors.length === 0) return 0;
  return behaviors.reduce((sum, b) => sum + b.fitness, 0) / behaviors.length;
}

/** Behaviors at or above the novelty threshold and the fitness floor, most novel first, at most `cap`. */
export function selectCandidates(
  scored: readonly ScoredBehavior[],
  parameters: Pick<ResolvedSweepParameters, 'noveltyThreshold' | 'fitnessFloor'>,
  cap = MAX_CANDIDATES,
): ScoredBehavior[] {
  return scored
    .filter((b) => b.novelty >= parameters.noveltyThreshold && b.fitness >= parameters.fitnessFloor)
    .sort((a, b) => b.novelty - a.novelty || (a.behaviorId < b.behaviorId ? -1 : 1))
    .slice(0, cap);
}

/** The whole discovery step of a sweep: resolve parameters, select, cluster, summarise, rank. */
export function discoverStrategies(
  scored: readonly ScoredBehavior[],
  parameters: SweepParameters,
  options: { metric: BehaviorMetric; dimension: number; reportId: string },
): Discovery {
  const resolved = resolveParameters(scored, parameters, options.metric, options.dimension);
  const candidates = selectCandidates(scored, resolved);
  const labels = dbscan(candidates, resolved.eps, resolved.minPts, (a, b) =>
    distanceBetween(options.metric, a.descriptor, b.descriptor),
  );
  const clusters = new Map<number, ScoredBehavior[]>();
  labels.forEach((label, i) => {
    if (label === NOISE) return;
    const members = clusters.get(label) ?? [];
    members.push(candidates[i]);
    clusters.set(label, members);
  });
  const strategies = [...clusters.values()]
    .map((members) => summarise(members, options.metric))
    .sort((a, b) => b.meanFitness - a.meanFitness || b.size - a.size || (a.representative.behaviorId < b.representative.behaviorId ? -1 : 1))
    .slice(0, parameters.maxStrategies)
    .map((strategy, i) => ({ ...strategy, rank: i + 1, strategyId: `${options.reportId}-s${i + 1}` }));
  const clustered = labels.filter((label) => label !== NOISE).length;
  return {
    parameters: resolved,
    meanFitness: meanFitness(scored),
    candidates: candidates.length,
    clustered,
    noise: candidates.length - clustered,
    strategies,
  };
}

function summarise(members: ScoredBehavior[], metric: BehaviorMetric): DiscoveredStrategy {
  const dimension = members[0].descriptor.length;
  const centroid = new Array<number>(dimension).fill(0);
  for (const m of members) for (let i = 0; i < dimension; i++) centroid[i] += m.descriptor[i] / members.length;
  // The medoid is a behavior somebody actually showed, unlike the centroid.
  let medoid = members[0];
  let best = Number.POSITIVE_INFINITY;
  for (const a of members) {
    let total = 0;
    for (const b of members) total += distanceBetween(metric, a.descriptor, b.descriptor);
    if (total < best || (total === best && a.behaviorId < medoid.behaviorId)) {
      best = total;
      medoid = a;
    }
  }
  const agents = [...new Set(members.map((m) => m.agentId))].sort();
  const others = members.filter((m) => m !== medoid).map((m) => m.behaviorId).sort();
  return {
    strategyId: '',
    rank: 0,
    size: members.length,
    agentCount: agents.length,
    agents: agents.slice(0, MAX_LISTED_AGENTS),
    meanFitness: meanFitness(members),
    maxFitness: Math.max(...members.map((m) => m.fitness)),
    meanNovelty: members.reduce((sum, m) => sum + m.novelty, 0) / members.length,
    representative: {
      behaviorId: medoid.behaviorId,
      agentId: medoid.agentId,
      episodeId: medoid.episodeId,
      fitness: medoid.fitness,
      novelty: medoid.novelty,
    },
    behaviorIds: [medoid.behaviorId, ...others].slice(0, MAX_LISTED_BEHAVIORS),
    centroid,
  };
}
