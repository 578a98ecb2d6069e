// The deadline-aware policy on hand-computed cases: the backlog's work (messages / per-replica rate) is
// placed on the cleanest segments of the forecast before the oldest message reaches its SLO.
import {
  autoscalingPolicySchema,
  decideReplicas,
  deadlinePlan,
  intensitySegments,
  EMPTY_SCALING_STATE,
  type AutoscalingPolicy,
  type IntensitySegment,
} from '../../core/autoscaling';

const T0 = 1_700_000_000_000;
const HOUR = 3600_000;
const BANDS = [
  { maxIntensity: 200, maxReplicas: 10 },
  { maxIntensity: 400, maxReplicas: 5 },
  { maxIntensity: 600, maxReplicas: 2 },
];
const PERMISSIVE = {
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max' as const, policies: [{ type: 'Pods' as const, value: 100, periodSeconds: 15 }] },
  scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max' as const, policies: [{ type: 'Percent' as const, value: 100, periodSeconds: 15 }] },
};

function policy(overrides: Partial<AutoscalingPolicy> = {}): AutoscalingPolicy {
  return {
    minReplicas: 0,
    maxReplicas: 20,
    fallbackReplicas: 3,
    backlog: { targetPerReplica: 100, activationThreshold: 0 },
    // 4 h SLO; a replica serves a message every 2 s.
    deadline: { sloSeconds: 14_400, messagesPerReplicaSecond: 0.5 },
    carbon: { bands: BANDS },
    behavior: PERMISSIVE,
    ...overrides,
  };
}

const segment = (fromHour: number, toHour: number, intensity?: number): IntensitySegment => ({
  from: T0 + fromHour * HOUR,
  to: T0 + toHour * HOUR,
  intensity,
});
const tenEach = () => 10;
const codes = (result: ReturnType<typeof decideReplicas>) => result.decision.reasons.map((r) => r.code);

describe('deadlinePlan', () => {
  // Three hours at 400, 100 and 250 g/kWh, 10 replicas each: each hour holds 36 000 replica-seconds.
  const day = [segment(0, 1, 400), segment(1, 2, 100), segment(2, 3, 250)];

  it('puts work the cleanest hour holds there, and runs nothing now', () => {
    const plan = deadlinePlan(day, 18_000, tenEach);
    expect(plan).toEqual({ replicasNow: 0, assigned: [0, 18_000, 0], cleanest: day[1], feasible: true });
  });

  it('fills the hours cleanest first: the dirtiest hour, now, gets only what the others cannot hold', () => {
    expect(deadlinePlan(day, 54_000, tenEach).assigned).toEqual([0, 36_000, 18_000]);
    // 90 000 - 72 000 = 18 000 replica-s in the first hour's 3600 s: 5 replicas now.
    const plan = deadlinePlan(day, 90_000, tenEach);
    expect(plan.assigned).toEqual([18_000, 36_000, 36_000]);
    expect(plan.replicasNow).toBe(5);
    expect(plan.feasible).toBe(true);
  });

  it('runs every hour at capacity when the work does not fit before the deadline', () => {
    const plan = deadlinePlan(day, 120_000, tenEach);
    expect(plan.replicasNow).toBe(10);
    expect(plan.feasible).toBe(false);
  });

  it('spreads work at one rate over hours of equal intensity (no forecast: the least steady rate)', () => {
    // One 3 h span: 5400 replica-s / 10 800 s = 0.5 -> 1 replica; 54 000 / 10 800 = 5.
    expect(deadlinePlan([segment(0, 3, 300)], 5400, tenEach).replicasNow).toBe(1);
    expect(deadlinePlan([segment(0, 3)], 54_000, tenEach).replicasNow).toBe(5);
    // Now and hour 2 at 400 share 36 000 - 18 000 (hour 1 full) at one rate: 9000 each, 2.5 -> 3 replicas now.
    const tie = [segment(0, 1, 400), segment(1, 2, 100), segment(2, 3, 400)];
    expect(deadlinePlan(tie, 54_000, tenEach)).toMatchObject({ replicasNow: 3, assigned: [9000, 36_000, 9000] });
  });

  it('counts an unknown intensity as the dirtiest, and each segment holds what its capacity allows', () => {
    const unknownNow = [segment(0, 1), segment(1, 2, 300)];
    expect(deadlinePlan(unknownNow, 18_000, tenEach).replicasNow).toBe(0);
    // The band caps hour 1 at 5 replicas (18 000 replica-s): the rest, 3600, runs now at 1 replica.
    const byBand = (intensity: number | undefined) => (intensity !== undefined && intensity <= 400 ? 5 : 10);
    expect(deadlinePlan(unknownNow, 21_600, byBand)).toMatchObject({ replicasNow: 1, assigned: [3600, 18_000] });
  });
});

describe('intensitySegments', () => {
  it('cuts the time from now to the end into the value in force now and the forecast points after it', () => {
    const carbon = { intensity: 400, at: T0 - 60_000, forecast: [{ at: T0 + HOUR / 2, intensity: 100 }, { at: T0 + HOUR, intensity: 300 }, { at: T0 + 3 * HOUR, intensity: 50 }] };
    expect(intensitySegments(carbon, T0, T0 + 1.5 * HOUR)).toEqual([
      { from: T0, to: T0 + HOUR / 2, intensity: 400 },
      { from: T0 + HOUR / 2, to: T0 + HOUR, intensity: 100 },
      { from: T0 + HOUR, to: T0 + 1.5 * HOUR, intensity: 300 },
    ]);
    expect(intensitySegments(undefined, T0, T0 + HOUR)).toEqual([{ from: T0, to: T0 + HOUR, intensity: undefined }]);
  });
});

describe('decideReplicas with a deadline', () => {
  // Now 500 g/kWh (band cap 2), then an hour at 150 (cap 10), then 300 (cap 5).
  const forecast = [segment(0, 1, 500), segment(1, 2, 150), segment(2, 4, 300)];
  const at = (backlog: number, oldestMessageAgeSeconds: number | undefined, currentReplicas = 2) => ({
    now: T0,
    currentReplicas,
    backlog,
    oldestMessageAgeSeconds,
    carbonIntensity: 500,
    carbonSegments: forecast,
  });

  it('waits for the clean hour when it can still finish the backlog there, and records why', () => {
    // 3600 messages / 0.5 per s = 7200 replica-s; the oldest is 1 h old: 3 h to the SLO; hour 1 holds 36 000.
    const result = decideReplicas(policy(), at(3600, 3600), EMPTY_SCALING_STATE);
    expect(result.decision).toMatchObject({
      desiredReplicas: 0,
      proposals: { backlog: 36, deadline: 0 },
      recommended: 0,
      inputs: { backlog: 3600, oldestMessageAgeSeconds: 3600, deadlineInSeconds: 10_800, plannedCleanestIntensity: 150, carbonIntensity: 500 },
    });
    expect(codes(result)).toEqual(['BACKLOG', 'DEADLINE']);
    expect(result.decision.reasons[1].message).toContain('7200 replica-s');
  });

  it('runs what the hour in force allows when the deadline comes before the clean hour', () => {
    // 30 min to the SLO, all at 500 g/kWh, cap 2: 3600 replica-s < 7200 needed.
    const result = decideReplicas(policy(), at(3600, 14_400 - 1800, 0), EMPTY_SCALING_STATE);
    expect(result.decision).toMatchObject({ desiredReplicas: 2, proposals: { deadline: 2 }, inputs: { deadlineInSeconds: 1800 } });
    expect(result.decision.reasons.find((r) => r.code === 'DEADLINE')?.message).toContain('more work than the capacity');
  });

  it('runs the allowed replicas for a message already past its SLO', () => {
    const result = decideReplicas(policy(), at(100, 15_000, 0), EMPTY_SCALING_STATE);
    expect(result.decision).toMatchObject({ desiredReplicas: 2, proposals: { deadline: 2 }, inputs: { deadlineInSeconds: -600 } });
  });

  it('with nothing waiting asks for none; without the age, the backlog target per replica decides', () => {
    expect(decideReplicas(policy(), at(0, undefined), EMPTY_SCALING_STATE).decision).toMatchObject({
      desiredReplicas: 0,
      proposals: { backlog: 0, deadline: 0 },
    });
    const unknown = decideReplicas(policy({ carbon: undefined }), at(3600, undefined, 20), EMPTY_SCALING_STATE);
    expect(unknown.decision).toMatchObject({ desiredReplicas: 20, proposals: { backlog: 36 }, recommended: 36 });
    expect(unknown.decision.proposals.deadline).toBeUndefined();
    expect(codes(unknown)).toContain('DEADLINE_UNKNOWN');
  });

  it('the carbon deferral cap does not hold back work the deadline plan runs now', () => {
    const withDeferral = policy({ carbon: { bands: BANDS, deferral: { horizonSeconds: 7200, minRatio: 1.5, maxReplicas: 0 } } });
    const result = decideReplicas(withDeferral, { ...at(3600, 14_400 - 1800, 0), carbonForecastMin: 150 }, EMPTY_SCALING_STATE);
    expect(result.decision.desiredReplicas).toBe(2);
    expect(result.decision.caps.carbonDeferral).toBeUndefined();
    expect(codes(result)).not.toContain('CARBON_DEFERRED');
  });

  it('a policy with a deadline needs a backlog signal', () => {
    const parsed = autoscalingPolicySchema.safeParse({ ...policy(), backlog: undefined });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toContain('deadline');
  });
});
