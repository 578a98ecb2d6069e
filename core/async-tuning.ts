// Asynchronous federated tuning, FedBuff-style (Nguyen et al. 2022): agents
// train on the newest global model version they received and send an update
// tagged with that base version; the manager buffers updates and advances the
// global model one version every `bufferSize` accepted updates. An update's
// staleness is the number of versions made since its base; staler than
// `maxStaleness` it is refused, otherwise its weight is scaled down.

export interface AsyncTuningOptions {
  /** Accepted updates per model version (FedBuff's K). */
  bufferSize: number;
  /** Updates whose base is more than this many versions old are refused. */
  maxStaleness: number;
  /**
   * Polynomial staleness discount: an update of staleness t weighs
   * examples × (1 + t)^-stalenessExponent (0.5 is FedBuff's 1/sqrt(1 + t); 0 turns the discount off).
   */
  stalenessExponent: number;
}

export const DEFAULT_STALENESS_EXPONENT = 0.5;

/** Weight factor (dimensionless, in (0, 1]) of an update `staleness` versions old: (1 + staleness)^-exponent. */
export function stalenessWeight(staleness: number, exponent: number): number {
  if (!Number.isInteger(staleness) || staleness < 0) throw new RangeError(`staleness must be a non-negative integer, got ${staleness}`);
  return exponent === 0 ? 1 : (1 + staleness) ** -exponent;
}

/** One accepted update waiting in the buffer: a blob digest, never the tensor. */
export interface BufferedUpdate {
  agentId: string;
  /** The model version the agent trained on. */
  baseVersion: number;
  examples: number;
  /** Digest of the update's parameters in the blob store. */
  paramsDigest: string;
  trainLoss?: number;
  trainAccuracy?: number;
}

/** The model versions an update may still be based on: the current one and maxStaleness before it. */
export function admissibleBase(baseVersion: number, currentVersion: number, maxStaleness: number): 'ok' | 'stale' | 'future' {
  if (baseVersion > currentVersion) return 'future';
  return currentVersion - baseVersion > maxStaleness ? 'stale' : 'ok';
}

/** What one model version took in: the asynchronous counterpart of RoundMetrics. */
export interface AsyncVersionMetrics {
  version: number;
  /** Updates aggregated into this version (the buffer size). */
  buffered: number;
  /** Updates refused while this version's buffer filled, by reason ('stale', 'bad-proof', ...). */
  rejected: Record<string, number>;
  /** Updates refused as staler than maxStaleness while this buffer filled. */
  refusedStale: number;
  /** Mean staleness (versions) of the buffered updates. */
  meanStaleness: number;
  maxStaleness: number;
  examples: number;
  trainLoss?: number;
  trainAccuracy?: number;
  accuracy?: number;
  loss?: number;
  globalDigest: string;
  durationMs: number;
}
