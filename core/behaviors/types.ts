// Shapes of behavior discovery shared by the SDK, the API, the activities and
// the sweep workflow. Vectors appear only in what travels over messaging or
// lives in the vector store (BehaviorReport, SkillMessage, ScoredBehavior),
// never in what a workflow carries (SweepReport and the sweep results).

/** What an agent reports after an episode, on its swarm's `behaviors` topic or over REST. */
export interface BehaviorReport {
  agentId: string;
  /** The agent's own id for the episode; (agentId, episodeId) names the behavior. */
  episodeId: string;
  /** Behavior descriptor; its length is the swarm's dimension (QP_BEHAVIOR_DIMENSION). */
  descriptor: number[];
  /** Higher is better; unitless, comparable within a swarm. */
  fitness: number;
  /** Free-form, small: what the agent was doing (task, environment). Not used for scoring. */
  context?: Record<string, unknown>;
  /** Milliseconds since the epoch, agent clock. */
  timestamp: number;
}

/** A report as it travels on the topic: the agent's credential proves who sent it. */
export interface BehaviorReportMessage extends BehaviorReport {
  type: 'behavior';
  swarmId: string;
}

export const REJECTION_REASONS = [
  'malformed',
  'wrong_dimension',
  'not_finite',
  'missing_proof',
  'bad_proof',
  'stale_proof',
  'unknown_agent',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type RejectionCounts = Partial<Record<RejectionReason, number>>;

export type BehaviorMetric = 'L2' | 'COSINE';

/** Knobs of one sweep; 'auto' values are resolved from the sweep's own reports. */
export interface SweepParameters {
  /** Neighbours whose mean distance is a behavior's novelty. */
  k: number;
  /** Novelty at or above which a behavior is a candidate; 'auto' = noveltyFactor x median novelty of the sweep. */
  noveltyThreshold: number | 'auto';
  noveltyFactor: number;
  /** Fitness at or above which a behavior is a candidate; 'mean' = mean fitness of the sweep's reports. */
  fitnessFloor: number | 'mean';
  /** DBSCAN radius, descriptor units; 'auto' = 2 x median novelty of the sweep. */
  eps: number | 'auto';
  /** DBSCAN: reports within eps (itself included) that make a core point. */
  minPts: number;
  /** Strategies kept in a report, best first. */
  maxStrategies: number;
  /** Strategies published to the swarm as skills, best first. */
  broadcastTop: number;
}

export interface ResolvedSweepParameters {
  metric: BehaviorMetric;
  dimension: number;
  k: number;
  noveltyThreshold: number;
  fitnessFloor: number;
  eps: number;
  minPts: number;
}

/** A behavior after novelty scoring: what the discovery step clusters. */
export interface ScoredBehavior {
  behaviorId: string;
  agentId: string;
  episodeId: string;
  descriptor: number[];
  fitness: number;
  /** Mean distance to the k nearest other behaviors of the archive, descriptor units. */
  novelty: number;
  /** How many neighbours the novelty averages (fewer than k in a young archive). */
  neighbours: number;
}

export interface StrategySummary {
  strategyId: string;
  /** 1 = best. */
  rank: number;
  /** Behaviors in the cluster. */
  size: number;
  agentCount: number;
  /** The agents that show the strategy (at most 50, the rest counted in agentCount). */
  agents: string[];
  meanFitness: number;
  maxFitness: number;
  meanNovelty: number;
  /** The medoid: the member closest to all others. Its descriptor is in the vector store. */
  representative: { behaviorId: string; agentId: string; episodeId: string; fitness: number; novelty: number };
  /** Some members, representative first (at most 20). */
  behaviorIds: string[];
  /** Whether the sweep published it on the swarm's broadcast topic. */
  disseminated: boolean;
}

/** The outcome of one sweep of one swarm: ids, counts and small summaries only. */
export interface SweepReport {
  reportId: string;
  swarmId: string;
  startedAt: string;
  finishedAt: string;
  counts: {
    received: number;
    accepted: number;
    rejected: number;
    candidates: number;
    clustered: number;
    noise: number;
    /** Behaviors stored for the swarm after the sweep. */
    archive: number;
  };
  rejections: RejectionCounts;
  parameters: ResolvedSweepParameters;
  /** Mean fitness of the accepted reports (NaN-free: 0 when none). */
  meanFitness: number;
  strategies: StrategySummary[];
}

/** A strategy as the swarm receives it on its broadcast topic. */
export interface SkillMessage {
  type: 'skill';
  swarmId: string;
  skillId: string;
  reportId: string;
  /** Centroid of the strategy's behaviors: what an agent adopting it aims for. */
  descriptor: number[];
  meanFitness: number;
  size: number;
  agentCount: number;
  representativeBehaviorId: string;
  publishedAt: string;
}

export const DEFAULT_SWEEP_PARAMETERS: SweepParameters = {
  k: 15,
  noveltyThreshold: 'auto',
  noveltyFactor: 3,
  fitnessFloor: 'mean',
  eps: 'auto',
  minPts: 3,
  maxStrategies: 16,
  broadcastTop: 3,
};
