// Behavior simulation with planted ground truth: most agents follow baseline
// strategies, a few (chosen by seed) discover one of several planted novel
// strategies, better than the baselines, at known episodes; some discover a
// decoy that is novel but worse. Agents report every episode through the SDK
// and adopt the skills the swarm disseminates when they beat what they do.
//
// Behaviors live in a descriptor space with a fitness landscape: each strategy
// is a centre with a peak fitness that falls off with distance (a Gaussian of
// width `width`), and an agent's fitness is the best any strategy gives where
// it stands. Adopting a skill means moving to its descriptor, so fitness rises
// because the agent now behaves differently, not because a number was copied.
import type { SkillMessage } from '../core/behaviors/types';
import { gaussian, seededRandom } from '../core/random';
import type { QpAgent } from './sdk';

export interface Strategy {
  name: string;
  center: number[];
  /** Fitness at the centre. */
  fitness: number;
}

export interface PlantedStrategy extends Strategy {
  kind: 'planted' | 'decoy';
  discoverers: string[];
  /** The episode from which the discoverers show it. */
  discoveredAt: number;
}

export interface BehaviorWorld {
  dimension: number;
  baselines: Strategy[];
  /** Novel and better than every baseline: what a sweep should find. */
  planted: PlantedStrategy[];
  /** Novel but worse than the baselines: what a sweep should pass over. */
  decoys: PlantedStrategy[];
  /** Per-component standard deviation of an agent's behavior around its strategy. */
  noise: number;
  /** Distance over which a strategy's fitness falls to e^-1/2 of its peak. */
  width: number;
  /** Baseline strategy of every agent, by agent id. */
  baselineOf: Map<string, Strategy>;
}

export interface PlantOptions {
  seed: number;
  agentIds: string[];
  dimension?: number;
  baselines?: number;
  planted?: number;
  decoys?: number;
  discoverersPerStrategy?: number;
  /** Discovery episode of planted strategy i is discoveryEpisodes[i % length]. */
  discoveryEpisodes?: number[];
  baselineFitness?: number;
  plantedFitness?: [number, number];
  decoyFitness?: number;
  noise?: number;
  width?: number;
  /** Smallest distance between two strategy centres. */
  separation?: number;
}

/** Lays out strategies and picks, by seed, the agents that will discover the planted ones. */
export function plantStrategies(options: PlantOptions): BehaviorWorld {
  const random = seededRandom(options.seed);
  const dimension = options.dimension ?? 16;
  const separation = options.separation ?? 1.5;
  const centers: number[][] = [];
  const newCenter = (): number[] => {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const c = Array.from({ length: dimension }, () => random() * 2 - 1);
      if (centers.every((other) => euclidean(c, other) >= separation)) {
        centers.push(c);
        return c;
      }
    }
    throw new Error(`cannot place strategies ${separation} apart in dimension ${dimension}`);
  };
  const baselines: Strategy[] = Array.from({ length: options.baselines ?? 3 }, (_, i) => ({
    name: `baseline-${i}`,
    center: newCenter(),
    fitness: options.baselineFitness ?? 0.5,
  }));
  const [low, high] = options.plantedFitness ?? [0.8, 0.95];
  const perStrategy = options.discoverersPerStrategy ?? 2;
  const episodes = options.discoveryEpisodes ?? [3, 4, 5];
  // Discoverers are drawn without replacement: an agent discovers at most one thing.
  const pool = [...options.agentIds];
  const draw = (): string[] =>
    Array.from({ length: perStrategy }, () => {
      if (pool.length === 0) throw new Error('not enough agents for the planted strategies');
      return pool.splice(Math.floor(random() * pool.length), 1)[0];
    }).sort();
  const plantedCount = options.planted ?? 3;
  const planted: PlantedStrategy[] = Array.from({ length: plantedCount }, (_, i) => ({
    kind: 'planted',
    name: `planted-${i}`,
    center: newCenter(),
    fitness: plantedCount === 1 ? high : low + ((high - low) * i) / (plantedCount - 1),
    discoverers: draw(),
    discoveredAt: episodes[i % episodes.length],
  }));
  const decoys: PlantedStrategy[] = Array.from({ length: options.decoys ?? 1 }, (_, i) => ({
    kind: 'decoy',
    name: `decoy-${i}`,
    center: newCenter(),
    fitness: options.decoyFitness ?? 0.2,
    discoverers: draw(),
    discoveredAt: episodes[i % episodes.length],
  }));
  const baselineOf = new Map(options.agentIds.map((id, i) => [id, baselines[i % baselines.length]]));
  return { dimension, baselines, planted, decoys, noise: options.noise ?? 0.03, width: options.width ?? 0.3, baselineOf };
}

/** Fitness of behaving at `descriptor`: the best any strategy of the world gives there. */
export function fitnessAt(world: BehaviorWorld, descriptor: readonly number[]): number {
  let best = 0;
  for (const s of [...world.baselines, ...world.planted, ...world.decoys]) {
    const d2 = euclidean(descriptor, s.center) ** 2;
    best = Math.max(best, s.fitness * Math.exp(-d2 / (2 * world.width ** 2)));
  }
  return best;
}

export interface Adoption {
  agentId: string;
  skillId: string;
  episode: number;
}

export interface BehaviorSimulationOptions {
  agents: QpAgent[];
  world: BehaviorWorld;
  seed: number;
  /** Chance that an agent adopts a skill better than what it does. */
  adoptionRate?: number;
  /** How agents report: on the behaviors topic (default) or over REST. */
  via?: 'messaging' | 'api';
}

/** Drives the agents episode by episode; see the file comment. */
export class BehaviorSimulation {
  /** Where each agent stands now (its strategy's centre, or an adopted skill's descriptor). */
  private readonly position = new Map<string, number[]>();
  private readonly random: () => number;
  private episodeNow = -1;
  readonly adoptions: Adoption[] = [];
  readonly skillsSeen = new Set<string>();

  constructor(private readonly options: BehaviorSimulationOptions) {
    this.random = seededRandom(options.seed);
    for (const agent of options.agents) {
      const baseline = options.world.baselineOf.get(agent.agentId);
      if (!baseline) throw new Error(`agent ${agent.agentId} has no baseline in this world`);
      this.position.set(agent.agentId, baseline.center);
    }
  }

  /** Subscribes every agent to the swarm's disseminated skills. */
  async listen(): Promise<void> {
    const rate = this.options.adoptionRate ?? 0.8;
    await Promise.all(
      this.options.agents.map((agent) =>
        agent.onSkill((skill: SkillMessage) => {
          this.skillsSeen.add(skill.skillId);
          if (skill.descriptor.length !== this.options.world.dimension) return;
          const here = fitnessAt(this.options.world, this.position.get(agent.agentId)!);
          const there = fitnessAt(this.options.world, skill.descriptor);
          if (there > here && this.random() < rate) {
            this.position.set(agent.agentId, [...skill.descriptor]);
            this.adoptions.push({ agentId: agent.agentId, skillId: skill.skillId, episode: this.episodeNow });
          }
        }),
      ),
    );
  }

  /** Every agent acts once and reports it: episode ids are `e<episode>`. */
  async episode(episode: number): Promise<void> {
    this.episodeNow = episode;
    for (const strategy of [...this.options.world.planted, ...this.options.world.decoys]) {
      if (strategy.discoveredAt !== episode) continue;
      for (const agentId of strategy.discoverers) this.position.set(agentId, strategy.center);
    }
    await Promise.all(
      this.options.agents.map(async (agent) => {
        const position = this.position.get(agent.agentId)!;
        const descriptor = position.map((x) => x + gaussian(this.random) * this.options.world.noise);
        const fitness = fitnessAt(this.options.world, descriptor);
        await agent.reportBehavior({ episodeId: `e${episode}`, descriptor, fitness }, { via: this.options.via });
      }),
    );
  }

  /** Mean fitness of the swarm where its agents stand now (noise-free). */
  meanFitness(): number {
    const values = this.options.agents.map((agent) => fitnessAt(this.options.world, this.position.get(agent.agentId)!));
    return values.reduce((sum, v) => sum + v, 0) / values.length;
  }
}

export interface DetectionScore {
  /** Detected strategies that are a planted one. */
  truePositives: number;
  detected: number;
  /** Planted strategies discovered before the sweep. */
  discoverable: number;
  /** Of those, found by the sweep. */
  found: number;
  precision: number;
  recall: number;
  /** For each detected strategy, the planted or decoy or baseline it is nearest (and whether within radius). */
  matches: { strategyId: string; nearest: string; distance: number; planted: boolean }[];
}

/**
 * Scores detected strategies (their centroids) against the ground truth: a
 * detection is a true positive when its centroid lies within `radius` of a
 * planted strategy's centre discovered before `episodeLimit`.
 */
export function scoreDetection(
  world: BehaviorWorld,
  detected: { strategyId: string; centroid: number[] }[],
  episodeLimit: number,
  radius = 0.5,
): DetectionScore {
  const discoverable = world.planted.filter((p) => p.discoveredAt <= episodeLimit);
  const all = [...world.baselines, ...world.planted, ...world.decoys];
  const matches = detected.map(({ strategyId, centroid }) => {
    let nearest = all[0];
    for (const s of all) if (euclidean(centroid, s.center) < euclidean(centroid, nearest.center)) nearest = s;
    const distance = euclidean(centroid, nearest.center);
    const planted = discoverable.some((p) => p === nearest) && distance <= radius;
    return { strategyId, nearest: nearest.name, distance, planted };
  });
  const foundNames = new Set(matches.filter((m) => m.planted).map((m) => m.nearest));
  const truePositives = matches.filter((m) => m.planted).length;
  return {
    truePositives,
    detected: detected.length,
    discoverable: discoverable.length,
    found: foundNames.size,
    precision: detected.length === 0 ? 0 : truePositives / detected.length,
    recall: discoverable.length === 0 ? 1 : foundNames.size / discoverable.length,
    matches,
  };
}

function euclidean(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}
