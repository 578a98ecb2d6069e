import {
  DEFAULT_BEHAVIOR,
  EMPTY_SCALING_STATE,
  autoscalingPolicySchema,
  backlogReplicas,
  carbonBand,
  cleanestForecastWithin,
  decideReplicas,
  defersToCleaner,
  energyReplicas,
  loadReplicas,
  scaleDownLimit,
  scaleUpLimit,
  type AutoscalingPolicy,
  type ScalingState,
} from '../../core/autoscaling';

const T0 = 1_700_000_000_000;
const BANDS = [
  { maxIntensity: 200, maxReplicas: 10 },
  { maxIntensity: 400, maxReplicas: 5 },
  { maxIntensity: 600, maxReplicas: 2 },
];

function policy(overrides: Partial<AutoscalingPolicy> = {}): AutoscalingPolicy {
  return {
    minReplicas: 0,
    maxReplicas: 20,
    fallbackReplicas: 3,
    backlog: { targetPerReplica: 100, activationThreshold: 10 },
    behavior: DEFAULT_BEHAVIOR,
    ...overrides,
  };
}

const codes = (result: ReturnType<typeof decideReplicas>) => result.decision.reasons.map((r) => r.code);

describe('autoscaling signals', () => {
  it('asks ceil(backlog / target) replicas once the backlog passes the activation threshold (KEDA)', () => {
    expect(backlogReplicas(250, 100, 0)).toBe(3);
    expect(backlogReplicas(300, 100, 0)).toBe(3);
    expect(backlogReplicas(5, 100, 5)).toBe(0);
    expect(backlogReplicas(6, 100, 5)).toBe(1);
  });

  it('asks the replicas that bring the summed agent load to the target per replica', () => {
    expect(loadReplicas([0.9, 0.9, 0.6], 0.6)).toBe(4); // 2.4 / 0.6
    expect(loadReplicas([0.6, 0.6], 0.6)).toBe(2);
    expect(loadReplicas([], 0.5)).toBe(0);
  });

  it('finds the carbon band an intensity falls in; above the last band the last band caps', () => {
    expect(carbonBand(BANDS, 150).maxReplicas).toBe(10);
    expect(carbonBand(BANDS, 200).maxReplicas).toBe(10);
    expect(carbonBand(BANDS, 201).maxReplicas).toBe(5);
    expect(carbonBand(BANDS, 900).maxReplicas).toBe(2);
  });

  it('sustains floor(remaining Wh / (W per replica x remaining hours)) replicas on an energy budget', () => {
    expect(energyReplicas(1000, 400, 50, 4 * 3600)).toBe(3); // 600 / (50 * 4)
    expect(energyReplicas(1000, 1000, 50, 3600)).toBe(0);
    expect(energyReplicas(1000, 0, 50, 1800)).toBe(40); // 1000 / (50 * 0.5)
  });
});

describe('HPA rate policies', () => {
  it('scale-up: the policy allowing the most wins under Max, the least under Min', () => {
    const up = DEFAULT_BEHAVIOR.scaleUp; // 100% or 4 pods per 15 s
    expect(scaleUpLimit(2, [], T0, up)).toBe(6); // max(4, 6)
    expect(scaleUpLimit(10, [], T0, up)).toBe(20); // max(20, 14)
    expect(scaleUpLimit(2, [], T0, { ...up, selectPolicy: 'Min' })).toBe(4);
  });

  it('scale-up counts from the replicas at the start of the period', () => {
    const events = [{ at: T0, delta: 4 }]; // 2 -> 6 at T0
    expect(scaleUpLimit(6, events, T0 + 10_000, DEFAULT_BEHAVIOR.scaleUp)).toBe(6); // start 2: max(4, 6)
    expect(scaleUpLimit(6, events, T0 + 15_000, DEFAULT_BEHAVIOR.scaleUp)).toBe(12); // period over: start 6
  });

  it('scale-down: Pods and Percent policies, Max picks the biggest drop, Min the smallest', () => {
    const down = {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max' as const,
      policies: [
        { type: 'Pods' as const, value: 1, periodSeconds: 60 },
        { type: 'Percent' as const, value: 50, periodSeconds: 60 },
      ],
    };
    expect(scaleDownLimit(10, [], T0, down)).toBe(5);
    expect(scaleDownLimit(10, [], T0, { ...down, selectPolicy: 'Min' })).toBe(9);
    expect(scaleDownLimit(9, [{ at: T0 - 30_000, delta: -1 }], T0, { ...down, selectPolicy: 'Min' })).toBe(9);
    expect(scaleDownLimit(7, [], T0, { ...down, policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] })).toBe(3); // trunc(3.5)
    expect(scaleDownLimit(10, [], T0, { ...down, selectPolicy: 'Disabled' })).toBe(10);
  });
});

describe('decideReplicas', () => {
  it('scales a burst up as fast as the scale-up policies allow, then the rest after the period', () => {
    const p = policy();
    const first = decideReplicas(p, { now: T0, currentReplicas: 2, backlog: 1000 }, EMPTY_SCALING_STATE);
    expect(first.decision).toMatchObject({ recommended: 10, desiredReplicas: 6, proposals: { backlog: 10 } });
    expect(codes(first)).toEqual(['BACKLOG', 'RATE_LIMITED_UP']);

    const inPeriod = decideReplicas(p, { now: T0 + 10_000, currentReplicas: 6, backlog: 1000 }, first.state);
    expect(inPeriod.decision.desiredReplicas).toBe(6);

    const after = decideReplicas(p, { now: T0 + 16_000, currentReplicas: 6, backlog: 1000 }, inPeriod.state);
    expect(after.decision.desiredReplicas).toBe(10);
  });

  it('holds replicas during the scale-down stabilisation window, then drops to the recommendation', () => {
    const p = policy();
    const busy = decideReplicas(p, { now: T0, currentReplicas: 10, backlog: 1000 }, EMPTY_SCALING_STATE);
    const quiet = decideReplicas(p, { now: T0 + 60_000, currentReplicas: 10, backlog: 200 }, busy.state);
    expect(quiet.decision.desiredReplicas).toBe(10);
    expect(codes(quiet)).toContain('STABILIZED_DOWN');

    const later = decideReplicas(p, { now: T0 + 301_000, currentReplicas: 10, backlog: 200 }, quiet.state);
    expect(later.decision.desiredReplicas).toBe(2);
  });

  it('a scale-up stabilisation window takes the lowest recommendation in it', () => {
    const p = policy({ behavior: { ...DEFAULT_BEHAVIOR, scaleUp: { ...DEFAULT_BEHAVIOR.scaleUp, stabilizationWindowSeconds: 60 } } });
    const low = decideReplicas(p, { now: T0, currentReplicas: 2, backlog: 300 }, EMPTY_SCALING_STATE);
    expect(low.decision.desiredReplicas).toBe(3);
    const spike = decideReplicas(p, { now: T0 + 30_000, currentReplicas: 3, backlog: 900 }, low.state);
    expect(spike.decision.desiredReplicas).toBe(3);
    expect(codes(spike)).toContain('STABILIZED_UP');
  });

  it('a carbon band caps the pool at once, past the scale-down window and rate policies', () => {
    const p = policy({ carbon: { bands: BANDS } });
    const clean = decideReplicas(p, { now: T0, currentReplicas: 8, backlog: 1000, carbonIntensity: 150 }, EMPTY_SCALING_STATE);
    expect(clean.decision.desiredReplicas).toBe(10);

    const dirty = decideReplicas(p, { now: T0 + 5_000, currentReplicas: 10, backlog: 1000, carbonIntensity: 450 }, clean.state);
    expect(dirty.decision).toMatchObject({ desiredReplicas: 2, caps: { carbon: 2, effective: 2 } });
    expect(codes(dirty)).toContain('CARBON_CAP');
  });

  it('carbon-aware deferral caps the pool while a forecast at least minRatio times cleaner lies within the horizon', () => {
    const deferral = { horizonSeconds: 3 * 3600, minRatio: 1.3, maxReplicas: 1 };
    const p = policy({ carbon: { bands: BANDS, deferral } });
    // 390 now, 250 forecast: 390 >= 1.3 x 250 = 325, so the work waits at 1 replica (the band alone allows 5).
    const waits = decideReplicas(p, { now: T0, currentReplicas: 5, backlog: 1000, carbonIntensity: 390, carbonForecastMin: 250 }, EMPTY_SCALING_STATE);
    expect(waits.decision).toMatchObject({
      desiredReplicas: 1,
      inputs: { carbonIntensity: 390, carbonForecastMin: 250 },
      caps: { carbon: 5, carbonDeferral: 1, effective: 1 },
    });
    expect(codes(waits)).toContain('CARBON_DEFERRED');
    expect(codes(waits)).not.toContain('CARBON_CAP');
    // 310 forecast: 390 < 1.3 x 310 = 403, not worth waiting: the band caps as before.
    const runs = decideReplicas(p, { now: T0, currentReplicas: 5, backlog: 1000, carbonIntensity: 390, carbonForecastMin: 310 }, EMPTY_SCALING_STATE);
    expect(runs.decision).toMatchObject({ desiredReplicas: 5, caps: { carbon: 5, effective: 5 } });
    expect(runs.decision.caps.carbonDeferral).toBeUndefined();
    expect(codes(runs)).toContain('CARBON_CAP');
    // No forecast: no deferral, and the decision does not pretend to have read one.
    const blind = decideReplicas(p, { now: T0, currentReplicas: 5, backlog: 1000, carbonIntensity: 390 }, EMPTY_SCALING_STATE);
    expect(blind.decision.desiredReplicas).toBe(5);
    expect(blind.decision.inputs.carbonForecastMin).toBeUndefined();
    expect(defersToCleaner(325, 250, 1.3)).toBe(true);
    expect(defersToCleaner(324, 250, 1.3)).toBe(false);
  });

  it('the cleanest forecast within a horizon counts the point in force now and those starting inside it', () => {
    const at = T0;
    const carbon = {
      intensity: 400,
      at,
      forecast: [
        { at: at + 600_000, intensity: 380 }, // in force from +10 min
        { at: at + 3_600_000, intensity: 150 }, // +1 h
        { at: at + 7_200_000, intensity: 90 }, // +2 h
      ],
    };
    expect(cleanestForecastWithin(carbon, at, 1_800_000)).toBe(380); // only +10 min starts within 30 min
    expect(cleanestForecastWithin(carbon, at, 3_600_000)).toBe(150);
    expect(cleanestForecastWithin(carbon, at + 3_000_000, 1_000_000)).toBe(150); // 380 in force now, 150 from +1 h
    expect(cleanestForecastWithin(carbon, at + 7_300_000, 3_600_000)).toBeUndefined(); // no point after now: no forecast
    expect(cleanestForecastWithin({ intensity: 400, at, forecast: [] }, at, 3_600_000)).toBeUndefined();
    expect(cleanestForecastWithin(undefined, at, 3_600_000)).toBeUndefined();
  });

  it('the energy budget caps the pool; a cap below minReplicas leaves minReplicas', () => {
    const p = policy({ minReplicas: 1, energy: { wattsPerReplica: 50, budgetWh: 1000, windowSeconds: 86_400 } });
    const capped = decideReplicas(
      p,
      { now: T0, currentReplicas: 2, backlog: 1000, energyUsedWh: 400, energyWindowRemainingSeconds: 4 * 3600 },
      EMPTY_SCALING_STATE,
    );
    expect(capped.decision).toMatchObject({ desiredReplicas: 3, caps: { energy: 3 } });
    expect(codes(capped)).toContain('ENERGY_CAP');

    const spent = decideReplicas(
      p,
      { now: T0, currentReplicas: 3, backlog: 1000, energyUsedWh: 1000, energyWindowRemainingSeconds: 3600 },
      EMPTY_SCALING_STATE,
    );
    expect(spent.decision).toMatchObject({ desiredReplicas: 1, caps: { energy: 0, effective: 1 } });
  });

  it('a missing backlog asks for the fallback replicas, and says so', () => {
    const result = decideReplicas(policy(), { now: T0, currentReplicas: 1 }, EMPTY_SCALING_STATE);
    expect(result.decision).toMatchObject({ desiredReplicas: 3, proposals: { fallback: 3 } });
    expect(codes(result)).toEqual(['BACKLOG_MISSING_FALLBACK']);
  });

  it('a backlog at or under the activation threshold lets the pool go to minReplicas', () => {
    const p = policy({ minReplicas: 1, behavior: { ...DEFAULT_BEHAVIOR, scaleDown: { ...DEFAULT_BEHAVIOR.scaleDown, stabilizationWindowSeconds: 0 } } });
    const result = decideReplicas(p, { now: T0, currentReplicas: 4, backlog: 10 }, EMPTY_SCALING_STATE);
    expect(result.decision.desiredReplicas).toBe(1);
    expect(codes(result)).toEqual(['BACKLOG_INACTIVE', 'MIN_REPLICAS']);
  });

  it('takes the larger of the backlog and load proposals, and records both inputs', () => {
    const p = policy({ load: { targetPerReplica: 0.5 } });
    const result = decideReplicas(p, { now: T0, currentReplicas: 4, backlog: 150, loads: [0.9, 0.8, 0.7, 0.6] }, EMPTY_SCALING_STATE);
    expect(result.decision).toMatchObject({
      desiredReplicas: 6,
      proposals: { backlog: 2, load: 6 },
      inputs: { backlog: 150, averageLoad: 0.75, agents: 4 },
    });
  });

  it('never scales down when scale-down is disabled, unless a cap forces it', () => {
    const p = policy({
      carbon: { bands: BANDS },
      behavior: { ...DEFAULT_BEHAVIOR, scaleDown: { ...DEFAULT_BEHAVIOR.scaleDown, stabilizationWindowSeconds: 0, selectPolicy: 'Disabled' } },
    });
    const held = decideReplicas(p, { now: T0, currentReplicas: 4, backlog: 0, carbonIntensity: 100 }, EMPTY_SCALING_STATE);
    expect(held.decision.desiredReplicas).toBe(4);
    expect(codes(held)).toContain('SCALE_DOWN_DISABLED');
    const capped = decideReplicas(p, { now: T0, currentReplicas: 4, backlog: 0, carbonIntensity: 500 }, EMPTY_SCALING_STATE);
    expect(capped.decision.desiredReplicas).toBe(2);
  });

  it('keeps only the history its windows and periods need', () => {
    let state: ScalingState = EMPTY_SCALING_STATE;
    let current = 0;
    for (let i = 0; i < 200; i++) {
      const result = decideReplicas(policy(), { now: T0 + i * 15_000, currentReplicas: current, backlog: (i % 7) * 300 }, state);
      state = result.state;
      current = result.decision.desiredReplicas;
    }
    expect(state.recommendations.length).toBeLessThanOrEqual(21); // 300 s / 15 s + 1
    expect(state.events.length).toBeLessThanOrEqual(2);
  });
});

describe('autoscalingPolicySchema', () => {
  it('names the field of a bad policy', () => {
    const result = autoscalingPolicySchema.safeParse({ ...policy(), minReplicas: 30, carbon: { bands: [BANDS[1], BANDS[0]] } });
    expect(result.success).toBe(false);
    const paths = result.success ? [] : result.error.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['minReplicas', 'carbon.bands.1.maxIntensity']));
  });

  it('refuses a deferral that would wait for no saving (minRatio <= 1)', () => {
    const result = autoscalingPolicySchema.safeParse({
      ...policy(),
      carbon: { bands: BANDS, deferral: { horizonSeconds: 3600, minRatio: 1, maxReplicas: 1 } },
    });
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join('.'))).toEqual(['carbon.deferral.minRatio']);
  });
});
