// An autoscaled agent pool's durable record: its policy, the carbon input,
// the policy's history, energy used in the budget window and recent decisions.
import type { AutoscalingPolicy, IntensitySegment, ScalingDecision, ScalingState } from './policy';

export interface CarbonInput {
  intensity: number;
  /** When it was given, ms since the epoch. */
  at: number;
  forecast: { at: number; intensity: number }[];
}

export interface EnergyAccount {
  windowStartedAt: number;
  usedWh: number;
  /** Time and replica count of the last decision, from which use is integrated. */
  lastAt?: number;
  lastReplicas?: number;
}

export interface PoolRecord {
  name: string;
  policy: AutoscalingPolicy;
  /** Pulsar topic whose subscriptions' backlog feeds the policy (logical name, e.g. swarm/<id>/tasks). */
  backlogTopic?: string;
  carbon?: CarbonInput;
  scaling: ScalingState;
  energy: EnergyAccount;
  /** Newest last, at most MAX_DECISIONS. */
  decisions: ScalingDecision[];
}

export const MAX_DECISIONS = 20;

/** A carbon input older than this, with no forecast point covering now, is treated as missing. */
export const CARBON_MAX_AGE_MS = 2 * 3600_000;

/** Intensity (gCO2e/kWh) at `now`: the latest forecast point at or before now, else the current value while fresh. */
export function carbonIntensityAt(input: CarbonInput | undefined, now: number): number | undefined {
  if (!input) return undefined;
  let best: { at: number; intensity: number } | undefined;
  for (const point of input.forecast) if (point.at <= now && point.at > input.at && (!best || point.at > best.at)) best = point;
  if (best) return best.intensity;
  return now - input.at <= CARBON_MAX_AGE_MS ? input.intensity : undefined;
}

/**
 * The lowest intensity (gCO2e/kWh) forecast from now until now + horizonMs: the points inside the
 * horizon and the one in force at now; undefined when the input has no forecast point after now.
 */
export function cleanestForecastWithin(input: CarbonInput | undefined, now: number, horizonMs: number): number | undefined {
  if (!input) return undefined;
  const points = input.forecast.filter((p) => p.at > input.at).sort((a, b) => a.at - b.at);
  if (!points.some((p) => p.at > now)) return undefined;
  let cleanest = Infinity;
  for (let i = 0; i < points.length; i++) {
    const endsAt = i + 1 < points.length ? points[i + 1].at : Infinity;
    if (points[i].at <= now + horizonMs && endsAt > now) cleanest = Math.min(cleanest, points[i].intensity);
  }
  return Number.isFinite(cleanest) ? cleanest : undefined;
}

/**
 * The carbon intensity from now until `until` (ms since the epoch) as consecutive segments: the value in
 * force at now (carbonIntensityAt; undefined when unknown) until the next forecast point, then each point
 * until the next one or `until`.
 */
export function intensitySegments(input: CarbonInput | undefined, now: number, until: number): IntensitySegment[] {
  if (until <= now) return [];
  const later = (input?.forecast ?? []).filter((p) => p.at > now && p.at < until && p.at > (input?.at ?? 0)).sort((a, b) => a.at - b.at);
  const segments: IntensitySegment[] = [{ from: now, to: later[0]?.at ?? until, intensity: carbonIntensityAt(input, now) }];
  later.forEach((point, i) => segments.push({ from: point.at, to: later[i + 1]?.at ?? until, intensity: point.intensity }));
  return segments;
}

/**
 * Energy (Wh) the pool used since the last decision at lastReplicas × W per replica, added to
 * the window's total; a window that has ended starts again from zero.
 */
export function accountEnergy(account: EnergyAccount, now: number, wattsPerReplica: number, windowSeconds: number): EnergyAccount {
  let { windowStartedAt, usedWh } = account;
  if (account.lastAt !== undefined && account.lastReplicas !== undefined && now > account.lastAt) {
    usedWh += (account.lastReplicas * wattsPerReplica * (now - account.lastAt)) / 3_600_000;
  }
  if (now - windowStartedAt >= windowSeconds * 1000) {
    windowStartedAt = now;
    usedWh = 0;
  }
  return { ...account, windowStartedAt, usedWh };
}

export function newPoolRecord(name: string, policy: AutoscalingPolicy, now: number, backlogTopic?: string): PoolRecord {
  return { name, policy, backlogTopic, scaling: { recommendations: [], events: [] }, energy: { windowStartedAt: now, usedWh: 0 }, decisions: [] };
}

/** What the pool listing shows of a record (and its workflow keeps in its memo): all but the policy's history. */
export interface PoolSummary {
  policy: AutoscalingPolicy;
  backlogTopic?: string;
  carbon?: CarbonInput;
  /** Energy used in the current budget window, Wh, to the milliwatt-hour. */
  energyUsedWh: number;
  decisions: ScalingDecision[];
}

/** The listing's view of a pool record. */
export function poolSummary(record: PoolRecord): PoolSummary {
  return {
    policy: record.policy,
    backlogTopic: record.backlogTopic,
    carbon: record.carbon,
    energyUsedWh: Math.round(record.energy.usedWh * 1000) / 1000,
    decisions: record.decisions,
  };
}
