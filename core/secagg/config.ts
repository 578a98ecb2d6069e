// SecAgg+ round configuration: shared by the server and every agent (the
// manager broadcasts it with the round start). JSON-serialisable.
import { DomainError } from '../errors';

export interface SecAggConfig {
  /** Unique per round; binds keys, envelopes and masks to it. */
  roundId: string;
  /** Length of the update vector (float32 elements). */
  dimension: number;
  /**
   * Neighbours per agent (Bell et al. 2020). Default: recommendedDegree(agents, expectedDropout),
   * which is everyone (classic SecAgg, Bonawitz et al. 2017) for small rounds and grows like log n.
   */
  degree?: number;
  /** Per-agent dropout probability the default degree is sized for. Default 0.1. */
  expectedDropout?: number;
  /** Shares needed to rebuild a secret; must satisfy degree/2 < t ≤ degree. Default floor(degree/2) + 1. */
  threshold?: number;
  /** Elements are clipped to [−clipRange, clipRange] before quantisation. Default 8 (Flower's). */
  clipRange?: number;
  /** Quantisation levels R: a clipped element maps to an integer in [0, R]. Default 2^20. */
  quantizationLevels?: number;
  /** Arithmetic is in Z_{2^modBits}, 1 ≤ modBits ≤ 32. Default 32. */
  modBits?: number;
  /** 'stochastic' (unbiased, error < 1 step) or 'nearest' (error ≤ ½ step). Default 'stochastic'. */
  rounding?: 'stochastic' | 'nearest';
  /**
   * 'none': plain sum. 'clear': each agent pre-multiplies by weight/maxWeight and sends its
   * (quantised) weight in the clear next to the masked vector, so the server learns every
   * agent's example count. 'masked': the quantised weight rides as one extra masked element,
   * so the server only learns the total. Default 'none'.
   */
  weighting?: 'none' | 'clear' | 'masked';
  /** Largest weight (example count) an agent may claim; weights are scaled into (0, 1] by it. Default 1000. */
  maxWeight?: number;
  /** Seed of the neighbour graph (reproducible). Default: roundId. */
  graphSeed?: string;
}

/** A config with every default filled in (degree and threshold still depend on the agent count). */
export type SecAggSettings = Required<Omit<SecAggConfig, 'degree' | 'threshold'>> &
  Pick<SecAggConfig, 'degree' | 'threshold'>;

/** Fills defaults and checks the static constraints; throws INVALID_ARGUMENT naming the field. */
export function resolveSecAggConfig(config: SecAggConfig): SecAggSettings {
  const settings: SecAggSettings = {
    roundId: config.roundId,
    dimension: config.dimension,
    degree: config.degree,
    expectedDropout: config.expectedDropout ?? 0.1,
    threshold: config.threshold,
    clipRange: config.clipRange ?? 8,
    quantizationLevels: config.quantizationLevels ?? 2 ** 20,
    modBits: config.modBits ?? 32,
    rounding: config.rounding ?? 'stochastic',
    weighting: config.weighting ?? 'none',
    maxWeight: config.maxWeight ?? 1000,
    graphSeed: config.graphSeed ?? config.roundId,
  };
  const bad = (field: string, why: string): never => {
    throw new DomainError('INVALID_ARGUMENT', `secagg config: ${field} ${why}`, { field });
  };
  if (typeof settings.roundId !== 'string' || settings.roundId.length === 0) bad('roundId', 'must be a non-empty string');
  if (!Number.isInteger(settings.dimension) || settings.dimension < 1) bad('dimension', 'must be a positive integer');
  if (!(settings.clipRange > 0) || !Number.isFinite(settings.clipRange)) bad('clipRange', 'must be positive');
  if (!Number.isInteger(settings.modBits) || settings.modBits < 1 || settings.modBits > 32) bad('modBits', 'must be in 1..32');
  const levels = settings.quantizationLevels;
  if (!Number.isInteger(levels) || levels < 2 || levels >= 2 ** settings.modBits) {
    bad('quantizationLevels', `must be an integer in [2, 2^modBits)`);
  }
  if (!['stochastic', 'nearest'].includes(settings.rounding)) bad('rounding', "must be 'stochastic' or 'nearest'");
  if (!['none', 'clear', 'masked'].includes(settings.weighting)) bad('weighting', "must be 'none', 'clear' or 'masked'");
  if (!(settings.maxWeight > 0) || !Number.isFinite(settings.maxWeight)) bad('maxWeight', 'must be positive');
  if (!(settings.expectedDropout >= 0 && settings.expectedDropout < 1)) bad('expectedDropout', 'must be in [0, 1)');
  if (settings.degree !== undefined && (!Number.isInteger(settings.degree) || settings.degree < 1)) {
    bad('degree', 'must be a positive integer');
  }
  if (settings.threshold !== undefined && (!Number.isInteger(settings.threshold) || settings.threshold < 1)) {
    bad('threshold', 'must be a positive integer');
  }
  return settings;
}

/** Elements per masked vector: the update plus one for a masked weight. */
export function maskedLength(settings: SecAggSettings): number {
  return settings.dimension + (settings.weighting === 'masked' ? 1 : 0);
}

/**
 * The degree and threshold for `agents` participants. Odd degree with an odd
 * agent count is rounded up (no odd-degree regular graph exists then).
 * 2t > degree is enforced: a server that tells half the neighbours an agent
 * dropped and the other half it survived still cannot collect t shares of
 * both of its secrets.
 */
export function resolveGraphParameters(
  settings: SecAggSettings,
  agents: number,
): { degree: number; threshold: number } {
  if (agents < 2) throw new DomainError('UNAVAILABLE', `secure aggregation needs at least 2 agents, got ${agents}`);
  let degree = Math.min(settings.degree ?? recommendedDegree(agents, settings.expectedDropout), agents - 1);
  if (degree % 2 === 1 && agents % 2 === 1) degree += 1;
  const threshold = settings.threshold ?? Math.floor(degree / 2) + 1;
  if (threshold > degree || 2 * threshold <= degree) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `secagg config: threshold ${threshold} must satisfy degree/2 < threshold ≤ degree (degree ${degree} for ${agents} agents)`,
      { field: 'threshold' },
    );
  }
  // The unmasked sum of n values in [0, R] (and of n weights in [0, R]) must not wrap.
  if (agents * settings.quantizationLevels >= 2 ** settings.modBits) {
    throw new DomainError(
      'INVALID_ARGUMENT',
      `secagg config: ${agents} agents × quantizationLevels ${settings.quantizationLevels} overflow Z_2^${settings.modBits}; lower quantizationLevels`,
      { field: 'quantizationLevels' },
    );
  }
  return { degree, threshold };
}

/**
 * The smallest degree (with threshold floor(d/2) + 1) for which, if each agent drops
 * independently with probability `dropoutRate`, the chance that any agent loses more
 * than d − t neighbours (binomial tail, union bound over agents) is at most
 * `failureProbability`; `agents − 1` (everyone) when no smaller degree does.
 */
export function recommendedDegree(agents: number, dropoutRate: number, failureProbability = 1e-6): number {
  if (!(dropoutRate >= 0 && dropoutRate < 1)) throw new DomainError('INVALID_ARGUMENT', 'dropoutRate must be in [0, 1)');
  for (let degree = 2; degree < agents - 1; degree += 2) {
    const threshold = Math.floor(degree / 2) + 1;
    if (agents * binomialTail(degree, dropoutRate, degree - threshold + 1) <= failureProbability) return degree;
  }
  return Math.max(1, agents - 1);
}

/** P[Binomial(n, p) ≥ k]. */
function binomialTail(n: number, p: number, k: number): number {
  if (p === 0) return k <= 0 ? 1 : 0;
  let logCoef = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logCoef += Math.log((n - i + 1) / i);
    if (i >= k) tail += Math.exp(logCoef + i * Math.log(p) + (n - i) * Math.log1p(-p));
  }
  return tail;
}

/** Fraction of an agent's neighbours that may drop before its secrets become unrecoverable. */
export function toleratedDropoutFraction(degree: number, threshold: number): number {
  return (degree - threshold) / degree;
}
