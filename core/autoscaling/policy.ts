// An agent pool's autoscaling policy and the signals a decision reads. Pure data.
// Semantics follow KEDA's Pulsar scaler (msgBacklog target per replica,
// activation threshold, fallback replicas), the HorizontalPodAutoscaler's
// `behavior` (stabilisation windows, per-period rate policies, min/max) and
// carbon-aware-keda-operator (max replicas capped by carbon-intensity bands).
import { z } from 'zod';

const rate = z.object({
  /** Pods: at most `value` replicas added/removed per period; Percent: `value`% of the replicas at the period's start. */
  type: z.enum(['Pods', 'Percent']),
  value: z.number().int().positive(),
  periodSeconds: z.number().int().min(1).max(1800),
});

const direction = z.object({
  /** Seconds of past recommendations a change must agree with (HPA semantics). */
  stabilizationWindowSeconds: z.number().int().min(0).max(3600),
  /** Max: the policy allowing the largest change wins; Min: the smallest; Disabled: never move this way. */
  selectPolicy: z.enum(['Max', 'Min', 'Disabled']).default('Max'),
  policies: z.array(rate).min(1).max(10),
});

export const carbonBandSchema = z.object({
  /** Upper bound of the band, gCO2e/kWh (inclusive). */
  maxIntensity: z.number().min(0),
  /** Replicas the pool may run while the grid is in this band. */
  maxReplicas: z.number().int().min(0),
});

export const autoscalingPolicySchema = z
  .object({
    minReplicas: z.number().int().min(0).max(1000),
    maxReplicas: z.number().int().min(1).max(1000),
    /** Replicas used for a demand signal (backlog, load) that could not be read (KEDA `fallback.replicas`). */
    fallbackReplicas: z.number().int().min(0).max(1000),
    /** KEDA Pulsar scaler: desired = ceil(backlog / targetPerReplica) once backlog > activationThreshold. */
    backlog: z
      .object({
        targetPerReplica: z.number().positive(),
        activationThreshold: z.number().min(0).default(0),
      })
      .optional(),
    /**
     * Deadline-aware scaling (instead of the backlog's target per replica, once the age of the oldest waiting
     * message is known): the backlog, at messagesPerReplicaSecond per replica, must be served before the oldest
     * message is sloSeconds old; the work goes to the cleanest hours of the carbon forecast before then, and the
     * pool runs just the replicas the hour in force now was given.
     */
    deadline: z
      .object({
        sloSeconds: z.number().int().min(60).max(7 * 86_400),
        messagesPerReplicaSecond: z.number().positive(),
      })
      .optional(),
    /** Agent load from heartbeats (0..1 per agent): desired = ceil(sum of loads / targetPerReplica). */
    load: z.object({ targetPerReplica: z.number().gt(0).max(1) }).optional(),
    /** Bands sorted by maxIntensity; an intensity above the last band is capped by the last band. */
    carbon: z
      .object({
        bands: z.array(carbonBandSchema).min(1).max(20),
        /**
         * Carbon-aware deferral: while the forecast shows an intensity at least minRatio times lower
         * within horizonSeconds, cap the pool at maxReplicas, so waiting work runs in the cleaner hours.
         */
        deferral: z
          .object({
            horizonSeconds: z.number().int().min(60).max(86_400),
            minRatio: z.number().gt(1).max(100),
            maxReplicas: z.number().int().min(0),
          })
          .optional(),
      })
      .optional(),
    /** Energy budget over a rolling window: replicas the remaining budget sustains until the window ends. */
    energy: z
      .object({
        wattsPerReplica: z.number().positive(),
        budgetWh: z.number().positive(),
        windowSeconds: z.number().int().min(60).max(7 * 86_400),
      })
      .optional(),
    behavior: z.object({ scaleUp: direction, scaleDown: direction }),
  })
  .superRefine((policy, ctx) => {
    if (policy.minReplicas > policy.maxReplicas) {
      ctx.addIssue({ code: 'custom', path: ['minReplicas'], message: 'must not exceed maxReplicas' });
    }
    if (policy.deadline && !policy.backlog) {
      ctx.addIssue({ code: 'custom', path: ['deadline'], message: 'needs backlog (the deadline plan times the backlog)' });
    }
    const bands = policy.carbon?.bands ?? [];
    for (let i = 1; i < bands.length; i++) {
      if (bands[i].maxIntensity <= bands[i - 1].maxIntensity) {
        ctx.addIssue({ code: 'custom', path: ['carbon', 'bands', i, 'maxIntensity'], message: 'bands must be sorted by increasing maxIntensity' });
      }
    }
  });

export type AutoscalingPolicy = z.infer<typeof autoscalingPolicySchema>;
export type ScalingRate = z.infer<typeof rate>;
export type ScalingDirection = z.infer<typeof direction>;
export type CarbonBand = z.infer<typeof carbonBandSchema>;

/** The HPA defaults: scale up at once (100% or 4 pods per 15 s), scale down after 300 s of agreement (100% per 15 s). */
export const DEFAULT_BEHAVIOR: AutoscalingPolicy['behavior'] = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  },
};

/** What a decision reads. Absent fields are signals that could not be read this time. */
export interface ScalingSignals {
  /** Decision time, ms since the epoch. */
  now: number;
  /** Replicas the pool is asked to run now (its desired count). */
  currentReplicas: number;
  /** Messages waiting in the pool's subscription(s). */
  backlog?: number;
  /** Age of the oldest message waiting in the pool's subscription(s), s; undefined when unknown or nothing waits. */
  oldestMessageAgeSeconds?: number;
  /** Carbon intensity from now on, in segments (see intensitySegments); read by the deadline plan. */
  carbonSegments?: IntensitySegment[];
  /** Per-agent load 0..1 from the latest heartbeats of the pool's agents. */
  loads?: number[];
  /** Grid carbon intensity now, gCO2e/kWh. */
  carbonIntensity?: number;
  /** The lowest forecast intensity within the deferral horizon, gCO2e/kWh; undefined without a forecast. */
  carbonForecastMin?: number;
  /** Energy the pool used in the current budget window, Wh. */
  energyUsedWh?: number;
  /** Seconds left in the current budget window. */
  energyWindowRemainingSeconds?: number;
}

/** A span of time at one carbon intensity: [from, to) in ms since the epoch, gCO2e/kWh (undefined: unknown). */
export interface IntensitySegment {
  from: number;
  to: number;
  intensity?: number;
}

/** What a policy remembers between decisions (HPA's recommendation and scale-event history). */
export interface ScalingState {
  /** Past raw recommendations, ms since the epoch, newest last. */
  recommendations: { at: number; replicas: number }[];
  /** Past changes of the desired count (+ up, - down), newest last. */
  events: { at: number; delta: number }[];
}

export const EMPTY_SCALING_STATE: ScalingState = { recommendations: [], events: [] };

export type ReasonCode =
  | 'BACKLOG'
  | 'BACKLOG_INACTIVE'
  | 'BACKLOG_MISSING_FALLBACK'
  | 'DEADLINE'
  | 'DEADLINE_UNKNOWN'
  | 'LOAD'
  | 'LOAD_MISSING_FALLBACK'
  | 'NO_DEMAND_SIGNAL'
  | 'CARBON_CAP'
  | 'CARBON_UNKNOWN'
  | 'CARBON_DEFERRED'
  | 'ENERGY_CAP'
  | 'ENERGY_UNKNOWN'
  | 'MIN_REPLICAS'
  | 'MAX_REPLICAS'
  | 'STABILIZED_UP'
  | 'STABILIZED_DOWN'
  | 'RATE_LIMITED_UP'
  | 'RATE_LIMITED_DOWN'
  | 'SCALE_UP_DISABLED'
  | 'SCALE_DOWN_DISABLED';

export interface ScalingReason {
  code: ReasonCode;
  message: string;
}

/** One decision with everything it read and why it came out as it did. */
export interface ScalingDecision {
  /** The autoscaling run that made it; a retried record of the same decision is kept once. Unset in decisions recorded before ids. */
  id?: string;
  at: number;
  currentReplicas: number;
  desiredReplicas: number;
  inputs: {
    backlog?: number;
    oldestMessageAgeSeconds?: number;
    /** Seconds until the oldest waiting message reaches the deadline SLO (negative: overdue). */
    deadlineInSeconds?: number;
    /** The intensity of the cleanest segment the deadline plan gave work to, gCO2e/kWh. */
    plannedCleanestIntensity?: number;
    averageLoad?: number;
    agents?: number;
    carbonIntensity?: number;
    carbonForecastMin?: number;
    energyUsedWh?: number;
    energyWindowRemainingSeconds?: number;
  };
  /** Replicas each demand signal asks for. */
  proposals: { backlog?: number; deadline?: number; load?: number; fallback?: number };
  /** Max of the proposals, before caps and behaviour. */
  recommended: number;
  /** Upper bounds in force: the policy's max and the carbon and energy caps. */
  caps: { maxReplicas: number; carbon?: number; carbonDeferral?: number; energy?: number; effective: number };
  reasons: ScalingReason[];
}

/** POST /api/v1/pools/:name/carbon. */
export const carbonInputSchema = z.object({
  /** Grid carbon intensity now, gCO2e/kWh. */
  intensity: z.number().min(0).max(5000),
  /** Later intensities: each point holds from its time (ms since the epoch or ISO) until the next. */
  forecast: z
    .array(z.object({ at: z.union([z.number().int().positive(), z.string().datetime({ offset: true })]), intensity: z.number().min(0).max(5000) }))
    .max(500)
    .default([]),
});
export type CarbonInputRequest = z.infer<typeof carbonInputSchema>;

