// Autoscaling policies on one seeded 24-hour trace of work arrival and grid
// carbon intensity, simulated in 15 s steps (time-skipped: no clock waits):
//   ours         backlog (KEDA semantics) + carbon-intensity bands capping max replicas + deferral to a
//                forecast cleaner hour (a seeded forecast, off by up to 15 %) + HPA behaviour,
//                decided by core/autoscaling's decideReplicas, carbonIntensityAt, cleanestForecastWithin
//                and accountEnergy,
//                the functions the autoscalePool workflow runs each Schedule tick
//   keda         the same backlog scaler and behaviour, no carbon input (KEDA's Pulsar scaler alone)
//   static_peak  a fixed pool sized for the trace's peak arrival rate
// Work: messages arrive per step (diurnal curve + seeded bursts); a replica drains SERVICE_RATE
// messages a minute; messages are served oldest first. Power per replica: IDLE_W + BUSY_W × utilisation.
// Figures: carbon (g CO2e), energy (Wh), SLO violations (steps whose oldest waiting message is
// older than the backlog-age SLO), replica-minutes, all until the day's work is served; then
// ours/keda and ours/static ratios, and the lowest carbon ratio any schedule meeting the SLO could reach.
//
// Second scenario, batch: beside the same interactive work, a separate stream of deferrable batch
// work (submitted mostly in the evening and night) on a pool of its own with a longer backlog-age SLO
// (--batch-slo-minutes, 720). The grid operator publishes a day-ahead forecast (hourly points for 24 h,
// each off by up to ±15 %). Ours runs the batch pool with the deadline policy (backlog + deadline +
// carbon bands): the oldest waiting message's age and the per-replica rate place the backlog on the
// cleanest forecast hours before its SLO. keda and static_peak run it as they run the interactive pool.
// Figures prefixed batch_ are the batch pool's; total_ adds the interactive pool's on the same policy.
//   npm run bench:autoscaling -- [--seed 7] [--slo-minutes 120] [--batch-slo-minutes 720]
import { decideReplicas } from '../core/autoscaling/decide';
import {
  accountEnergy,
  carbonIntensityAt,
  cleanestForecastWithin,
  intensitySegments,
  type CarbonInput,
  type EnergyAccount,
} from '../core/autoscaling/pool';
import { DEFAULT_BEHAVIOR, EMPTY_SCALING_STATE, type AutoscalingPolicy, type ScalingState } from '../core/autoscaling/policy';
import { seededRandom } from '../core/random';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const SEED = arg('seed', 7);
const SLO_MS = arg('slo-minutes', 240) * 60_000;
const STEP_MS = 15_000;
const DAY_MS = 24 * 3600_000;
const SERVICE_RATE = 50; // messages per replica per minute
const IDLE_W = 20;
const BUSY_W = 80;
const T0 = Date.UTC(2026, 0, 1);

interface Trace {
  arrivals: number[]; // messages per step
  intensity: number[]; // gCO2e/kWh per step
  /** Per step: the grid operator's forecast published then (ms since the epoch), wrong by up to FORECAST_ERROR. */
  forecasts: CarbonInput['forecast'][];
}

/** Forecasts: one point per 30 minutes for the next 6 hours, each off by up to ±15 % (seeded). */
const FORECAST_ERROR = 0.15;
const FORECAST_POINTS = 12;
const FORECAST_EVERY_MS = 1_800_000;

function makeTrace(seed: number): Trace {
  const random = seededRandom(seed);
  const steps = DAY_MS / STEP_MS;
  const arrivals: number[] = [];
  const intensity: number[] = [];
  let burst = 0;
  for (let i = 0; i < steps; i++) {
    const hour = (i * STEP_MS) / 3600_000;
    // Work: low at night, a daytime plateau, seeded bursts of 5-20 minutes.
    const perMinute = 120 + 380 * Math.max(0, Math.sin(((hour - 6) / 16) * Math.PI));
    if (burst === 0 && random() < 0.004) burst = Math.round((5 + random() * 15) * 4);
    const burstRate = burst > 0 ? 600 : 0;
    if (burst > 0) burst--;
    arrivals.push(Math.round(((perMinute + burstRate) * (0.8 + 0.4 * random()) * STEP_MS) / 60_000));
    // Grid: solar dip around 13:00, evening peak around 19:00, windy-night noise.
    const solar = 220 * Math.exp(-(((hour - 13) / 3.5) ** 2));
    const evening = 150 * Math.exp(-(((hour - 19) / 2) ** 2));
    intensity.push(Math.round(380 - solar + evening + 40 * (random() - 0.5)));
  }
  const forecasts = intensity.map((_, i) =>
    Array.from({ length: FORECAST_POINTS }, (_, k) => {
      const at = T0 + i * STEP_MS + (k + 1) * FORECAST_EVERY_MS;
      const actual = intensity[(i + ((k + 1) * FORECAST_EVERY_MS) / STEP_MS) % steps];
      return { at, intensity: Math.round(actual * (1 + FORECAST_ERROR * (2 * random() - 1))) };
    }),
  );
  return { arrivals, intensity, forecasts };
}

const BEHAVIOR: AutoscalingPolicy['behavior'] = {
  ...DEFAULT_BEHAVIOR,
  scaleDown: { ...DEFAULT_BEHAVIOR.scaleDown, stabilizationWindowSeconds: 120 },
};
const BACKLOG_ONLY: AutoscalingPolicy = {
  minReplicas: 1,
  maxReplicas: 40,
  fallbackReplicas: 4,
  backlog: { targetPerReplica: 100, activationThreshold: 0 },
  behavior: BEHAVIOR,
};
const OURS: AutoscalingPolicy = {
  ...BACKLOG_ONLY,
  carbon: {
    bands: [
      { maxIntensity: 250, maxReplicas: 40 },
      // 12 here held the pool below the morning ramp's demand and broke the SLO 55 times for no carbon saved.
      { maxIntensity: 330, maxReplicas: 20 },
      // With deferral doing the waiting, the dirty bands hold enough replicas to keep the SLO.
      { maxIntensity: 430, maxReplicas: 12 },
      { maxIntensity: 10_000, maxReplicas: 8 },
    ],
    // Wait for a forecast at least 1.3x cleaner within 3 h (the SLO is 4 h), at 2 replicas meanwhile.
    deferral: { horizonSeconds: arg('deferral-horizon-min', 180) * 60, minRatio: arg('deferral-ratio', 1.3), maxReplicas: arg('deferral-replicas', 2) },
  },
};

interface Result {
  carbonG: number;
  energyWh: number;
  sloViolations: number;
  replicaMinutes: number;
  maxAgeMinutes: number;
  leftInBacklog: number;
  /** Minutes past the day's end until the backlog was served. */
  drainMinutes: number;
}

/** One pool's work on the trace: its arrivals, its SLO and the carbon input (with forecast) given at a step. */
interface Workload {
  arrivals: number[];
  sloMs: number;
  carbonAt: (step: number) => CarbonInput;
}

/** The interactive workload: the trace's arrivals, the 6 h forecast refreshed every 5 minutes. */
function interactive(trace: Trace): Workload {
  const steps = trace.arrivals.length;
  return {
    arrivals: trace.arrivals,
    sloMs: SLO_MS,
    carbonAt: (i) => {
      // The carbon input as the API stores it: the current value and a forecast, refreshed every 5 minutes.
      const given = i - (i % 20);
      return { intensity: trace.intensity[given % steps], at: T0 + given * STEP_MS, forecast: trace.forecasts[given % steps] };
    },
  };
}

/** Runs a policy (or a fixed size) over a workload; every decision goes through decideReplicas. */
function simulate(trace: Trace, work: Workload, policy: AutoscalingPolicy | { fixed: number }): Result {
  const queue: { at: number; count: number }[] = [];
  let backlog = 0;
  let replicas = 'fixed' in policy ? policy.fixed : policy.minReplicas;
  let state: ScalingState = EMPTY_SCALING_STATE;
  let energy: EnergyAccount = { windowStartedAt: T0, usedWh: 0 };
  const result: Result = { carbonG: 0, energyWh: 0, sloViolations: 0, replicaMinutes: 0, maxAgeMinutes: 0, leftInBacklog: 0, drainMinutes: 0 };
  // After the day, no new work: the run goes on (the grid repeating the day) until the backlog is
  // served, so that work a policy deferred is paid for, in energy, carbon and SLO violations.
  const steps = work.arrivals.length;
  for (let i = 0; i < steps || (backlog > 0.5 && i < 3 * steps); i++) {
    const now = T0 + i * STEP_MS;
    const arriving = i < steps ? work.arrivals[i] : 0;
    const intensity = trace.intensity[i % steps];
    if (arriving > 0) queue.push({ at: now, count: arriving });
    backlog += arriving;
    if (!('fixed' in policy)) {
      const carbon = work.carbonAt(i);
      energy = accountEnergy(energy, now, 100, 86_400);
      const deferral = policy.carbon?.deferral;
      // The signals as the autoscalePool workflow builds them from observePool and the pool's carbon input.
      const decided = decideReplicas(
        policy,
        {
          now,
          currentReplicas: replicas,
          backlog,
          oldestMessageAgeSeconds: queue.length ? (now - queue[0].at) / 1000 : undefined,
          carbonSegments: policy.deadline ? intensitySegments(carbon, now, now + policy.deadline.sloSeconds * 1000) : undefined,
          carbonIntensity: policy.carbon ? carbonIntensityAt(carbon, now) : undefined,
          carbonForecastMin: deferral ? cleanestForecastWithin(carbon, now, deferral.horizonSeconds * 1000) : undefined,
        },
        state,
      );
      state = decided.state;
      replicas = decided.decision.desiredReplicas;
      energy = { ...energy, lastAt: now, lastReplicas: replicas };
    }
    // Serve oldest first for one step.
    let capacity = (replicas * SERVICE_RATE * STEP_MS) / 60_000;
    const served = Math.min(capacity, backlog);
    backlog -= served;
    while (capacity > 0 && queue.length) {
      const take = Math.min(capacity, queue[0].count);
      queue[0].count -= take;
      capacity -= take;
      if (queue[0].count <= 1e-9) queue.shift();
    }
    const utilisation = replicas > 0 ? served / ((replicas * SERVICE_RATE * STEP_MS) / 60_000) : 0;
    const wh = (replicas * (IDLE_W + BUSY_W * utilisation) * STEP_MS) / 3600_000;
    result.energyWh += wh;
    result.carbonG += (wh / 1000) * intensity;
    result.replicaMinutes += (replicas * STEP_MS) / 60_000;
    const oldest = queue.length ? now + STEP_MS - queue[0].at : 0;
    result.maxAgeMinutes = Math.max(result.maxAgeMinutes, oldest / 60_000);
    if (oldest > work.sloMs) result.sloViolations++;
    if (i >= steps) result.drainMinutes += STEP_MS / 60_000;
  }
  result.leftInBacklog = Math.round(backlog);
  return result;
}

/**
 * The lowest mean carbon intensity (g/kWh) any schedule meeting the SLO could pay for the day's work:
 * each message served at the cleanest step within its SLO window, capacity unlimited.
 */
function sloCarbonBound(trace: Trace, arrivals = trace.arrivals, sloMs = SLO_MS): number {
  const steps = arrivals.length;
  const window = Math.floor(sloMs / STEP_MS);
  let weighted = 0;
  let messages = 0;
  for (let i = 0; i < steps; i++) {
    let cleanest = Infinity;
    for (let j = i; j <= i + window; j++) cleanest = Math.min(cleanest, trace.intensity[j % steps]);
    weighted += arrivals[i] * cleanest;
    messages += arrivals[i];
  }
  return weighted / messages;
}

const trace = makeTrace(SEED);
const peakPerMinute = Math.max(...trace.arrivals) * (60_000 / STEP_MS);
const staticPeak = Math.ceil(peakPerMinute / SERVICE_RATE);
const started = performance.now();
const runs = {
  ours: simulate(trace, interactive(trace), OURS),
  keda: simulate(trace, interactive(trace), BACKLOG_ONLY),
  static_peak: simulate(trace, interactive(trace), { fixed: staticPeak }),
};
const elapsedMs = performance.now() - started;

console.log(`# seeded 24 h trace (seed ${SEED}): ${trace.arrivals.reduce((a, b) => a + b, 0)} messages, peak ${peakPerMinute}/min, ` +
  `carbon ${Math.min(...trace.intensity)}-${Math.max(...trace.intensity)} g/kWh, backlog-age SLO ${SLO_MS / 60_000} min, static pool ${staticPeak}`);
for (const [name, r] of Object.entries(runs)) {
  console.log(`${name}_carbon_g ${r.carbonG.toFixed(1)}`);
  console.log(`${name}_energy_wh ${r.energyWh.toFixed(1)}`);
  console.log(`${name}_slo_violations ${r.sloViolations}`);
  console.log(`${name}_replica_minutes ${r.replicaMinutes.toFixed(0)}`);
  console.log(`${name}_max_backlog_age_min ${r.maxAgeMinutes.toFixed(1)}`);
  console.log(`${name}_left_in_backlog ${r.leftInBacklog}`);
  console.log(`${name}_drain_after_day_min ${r.drainMinutes.toFixed(0)}`);
}
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(3));
console.log(`ratio_carbon_ours_over_keda ${ratio(runs.ours.carbonG, runs.keda.carbonG)}`);
console.log(`ratio_carbon_ours_over_static_peak ${ratio(runs.ours.carbonG, runs.static_peak.carbonG)}`);
console.log(`ratio_energy_ours_over_keda ${ratio(runs.ours.energyWh, runs.keda.energyWh)}`);
console.log(`ratio_replica_minutes_ours_over_keda ${ratio(runs.ours.replicaMinutes, runs.keda.replicaMinutes)}`);
// Energy is almost all work (the same for every policy that serves it): carbon can only fall by
// moving work to cleaner hours within the SLO, so this ratio bounds ratio_carbon_ours_over_keda from below.
console.log(`ratio_carbon_bound_within_slo_over_keda ${ratio(sloCarbonBound(trace), runs.keda.carbonG / (runs.keda.energyWh / 1000))}`);
console.log(`slo_violations_ours_minus_keda ${runs.ours.sloViolations - runs.keda.sloViolations}`);
console.log(`simulated_decisions_per_s ${((3 * trace.arrivals.length) / (elapsedMs / 1000)).toFixed(0)}`);

// ---- Batch scenario: deferrable work with a longer SLO, on a pool of its own ----

const BATCH_SLO_MS = arg('batch-slo-minutes', 720) * 60_000;
/** Day-ahead forecast: one point an hour for the next 24 h, each off by up to FORECAST_ERROR (seeded). */
const DAY_AHEAD_POINTS = 24;
const DAY_AHEAD_EVERY_MS = 3600_000;

/** Batch submissions: 40/min by day, 250/min from 17:00 to 03:00 (jobs queued after business hours), ±20 % (seeded). */
function batchArrivals(seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: DAY_MS / STEP_MS }, (_, i) => {
    const hour = (i * STEP_MS) / 3600_000;
    const perMinute = hour >= 17 || hour < 3 ? 250 : 40;
    return Math.round((perMinute * (0.8 + 0.4 * random()) * STEP_MS) / 60_000);
  });
}

/** The batch pool's carbon input: the day-ahead forecast, published again every 5 minutes. */
function dayAhead(trace: Trace, arrivals: number[], seed: number): Workload {
  const steps = trace.intensity.length;
  const random = seededRandom(seed);
  const published = new Map<number, CarbonInput>();
  for (let given = 0; given < 3 * steps; given += 20) {
    const forecast = Array.from({ length: DAY_AHEAD_POINTS }, (_, k) => {
      const at = T0 + given * STEP_MS + (k + 1) * DAY_AHEAD_EVERY_MS;
      const actual = trace.intensity[(given + ((k + 1) * DAY_AHEAD_EVERY_MS) / STEP_MS) % steps];
      return { at, intensity: Math.round(actual * (1 + FORECAST_ERROR * (2 * random() - 1))) };
    });
    published.set(given, { intensity: trace.intensity[given % steps], at: T0 + given * STEP_MS, forecast });
  }
  return { arrivals, sloMs: BATCH_SLO_MS, carbonAt: (i) => published.get(i - (i % 20)) as CarbonInput };
}

const BATCH_BACKLOG_ONLY: AutoscalingPolicy = { ...BACKLOG_ONLY, minReplicas: 0 };
const BATCH_OURS: AutoscalingPolicy = {
  ...BATCH_BACKLOG_ONLY,
  // The deadline plan's capacity per hour: the dirtier the hour, the fewer replicas it may hold.
  carbon: { bands: OURS.carbon?.bands ?? [] },
  deadline: { sloSeconds: BATCH_SLO_MS / 1000, messagesPerReplicaSecond: SERVICE_RATE / 60 },
};

function batchScenario(trace: Trace, interactiveRuns: Record<'ours' | 'keda' | 'static_peak', Result>): void {
  const arrivals = batchArrivals(SEED + 1000);
  const work = dayAhead(trace, arrivals, SEED + 2000);
  const peak = Math.ceil((Math.max(...arrivals) * (60_000 / STEP_MS)) / SERVICE_RATE);
  const batch = {
    ours: simulate(trace, work, BATCH_OURS),
    keda: simulate(trace, work, BATCH_BACKLOG_ONLY),
    static_peak: simulate(trace, work, { fixed: peak }),
  };
  console.log(
    `# batch scenario: ${arrivals.reduce((a, b) => a + b, 0)} batch messages beside the interactive trace, ` +
      `backlog-age SLO ${BATCH_SLO_MS / 60_000} min, day-ahead forecast, static batch pool ${peak}`,
  );
  for (const [name, r] of Object.entries(batch)) {
    console.log(`batch_${name}_carbon_g ${r.carbonG.toFixed(1)}`);
    console.log(`batch_${name}_energy_wh ${r.energyWh.toFixed(1)}`);
    console.log(`batch_${name}_slo_violations ${r.sloViolations}`);
    console.log(`batch_${name}_max_backlog_age_min ${r.maxAgeMinutes.toFixed(1)}`);
    console.log(`batch_${name}_left_in_backlog ${r.leftInBacklog}`);
  }
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(3));
  console.log(`batch_ratio_carbon_ours_over_keda ${ratio(batch.ours.carbonG, batch.keda.carbonG)}`);
  console.log(`batch_ratio_carbon_ours_over_static_peak ${ratio(batch.ours.carbonG, batch.static_peak.carbonG)}`);
  console.log(`batch_ratio_energy_ours_over_keda ${ratio(batch.ours.energyWh, batch.keda.energyWh)}`);
  const kedaIntensity = batch.keda.carbonG / (batch.keda.energyWh / 1000);
  console.log(`batch_ratio_carbon_bound_within_slo_over_keda ${ratio(sloCarbonBound(trace, arrivals, BATCH_SLO_MS), kedaIntensity)}`);
  console.log(`batch_slo_violations_ours_minus_keda ${batch.ours.sloViolations - batch.keda.sloViolations}`);
  const total = (name: 'ours' | 'keda' | 'static_peak') => ({
    carbonG: interactiveRuns[name].carbonG + batch[name].carbonG,
    sloViolations: interactiveRuns[name].sloViolations + batch[name].sloViolations,
  });
  for (const name of ['ours', 'keda', 'static_peak'] as const) {
    console.log(`total_${name}_carbon_g ${total(name).carbonG.toFixed(1)}`);
    console.log(`total_${name}_slo_violations ${total(name).sloViolations}`);
  }
  console.log(`total_ratio_carbon_ours_over_keda ${ratio(total('ours').carbonG, total('keda').carbonG)}`);
  console.log(`total_ratio_carbon_ours_over_static_peak ${ratio(total('ours').carbonG, total('static_peak').carbonG)}`);
}

batchScenario(trace, runs);
