// The autoscaling decision: signals + policy + remembered history -> desired replicas, explained.
// Pure and deterministic: the autoscaling workflow runs it, and so does the benchmark.
import type {
  AutoscalingPolicy,
  CarbonBand,
  IntensitySegment,
  ScalingDecision,
  ScalingDirection,
  ScalingReason,
  ScalingSignals,
  ScalingState,
} from './policy';

/** Replicas KEDA's Pulsar scaler asks for: 0 while backlog <= activation threshold, else ceil(backlog / target). */
export function backlogReplicas(backlog: number, targetPerReplica: number, activationThreshold: number): number {
  if (backlog <= activationThreshold) return 0;
  return Math.ceil(backlog / targetPerReplica);
}

/** Replicas that bring the mean agent load (0..1) to the target: ceil(sum of loads / target). */
export function loadReplicas(loads: number[], targetPerReplica: number): number {
  const total = loads.reduce((sum, load) => sum + Math.max(0, load), 0);
  // 1e-9 absorbs float error so that exactly-on-target loads do not add a replica.
  return Math.max(0, Math.ceil(total / targetPerReplica - 1e-9));
}

/** The band an intensity (gCO2e/kWh) falls in: the first whose maxIntensity it does not exceed, else the last. */
export function carbonBand(bands: CarbonBand[], intensity: number): CarbonBand {
  return bands.find((band) => intensity <= band.maxIntensity) ?? bands[bands.length - 1];
}

/** Whether waiting pays: the intensity now (gCO2e/kWh) is at least minRatio times the cleanest one forecast. */
export function defersToCleaner(intensityNow: number, cleanestForecast: number, minRatio: number): boolean {
  return intensityNow >= minRatio * cleanestForecast;
}

export interface DeadlinePlan {
  /** Replicas to run in the segment in force now (the first). */
  replicasNow: number;
  /** Replica-seconds given to each segment, in the segments' order. */
  assigned: number[];
  /** The cleanest segment that was given work; undefined when there was no work. */
  cleanest?: IntensitySegment;
  /** False when the segments' capacity cannot hold the work: every segment runs at its capacity. */
  feasible: boolean;
}

/**
 * Places `workReplicaSeconds` of work on the segments (consecutive, the first starting now, the last ending at
 * the deadline), cleanest intensity first (unknown counts as dirtiest), each segment holding at most
 * capacity(intensity) replicas; segments of equal intensity share their part at one rate. Returns the replicas
 * the first segment needs: ceil(its replica-seconds / its seconds).
 */
export function deadlinePlan(
  segments: IntensitySegment[],
  workReplicaSeconds: number,
  capacity: (intensity: number | undefined) => number,
): DeadlinePlan {
  const assigned = segments.map(() => 0);
  const seconds = segments.map((segment) => Math.max(0, (segment.to - segment.from) / 1000));
  const holds = segments.map((segment, i) => capacity(segment.intensity) * seconds[i]);
  const rank = (segment: IntensitySegment) => segment.intensity ?? Infinity;
  const levels = [...new Set(segments.map(rank))].sort((a, b) => a - b);
  let remaining = workReplicaSeconds;
  let cleanest: IntensitySegment | undefined;
  for (const level of levels) {
    if (remaining <= 0) break;
    const group = segments.map((_, i) => i).filter((i) => rank(segments[i]) === level && holds[i] > 0);
    const groupHolds = group.reduce((sum, i) => sum + holds[i], 0);
    if (groupHolds <= 0) continue;
    const share = Math.min(1, remaining / groupHolds);
    for (const i of group) assigned[i] = share * holds[i];
    cleanest ??= segments[group[0]];
    remaining -= share * groupHolds;
  }
  const replicasNow = segments.length && seconds[0] > 0 ? Math.max(0, Math.ceil(assigned[0] / seconds[0] - 1e-9)) : 0;
  return { replicasNow, assigned, cleanest, feasible: remaining <= 1e-9 };
}

/**
 * Replicas the rest of an energy budget sustains until its window ends:
 * floor(remaining Wh / (W per replica × remaining hours)); 0 once the budget is spent.
 */
export function energyReplicas(budgetWh: number, usedWh: number, wattsPerReplica: number, remainingSeconds: number): number {
  const remainingWh = budgetWh - usedWh;
  if (remainingWh <= 0) return 0;
  const hours = Math.max(remainingSeconds, 1) / 3600;
  return Math.floor(remainingWh / (wattsPerReplica * hours) + 1e-9);
}

/** HPA stabilisation: up only to the lowest, down only to the highest recommendation within each window. */
export function stabilize(
  recommendation: number,
  currentReplicas: number,
  history: ScalingState['recommendations'],
  now: number,
  behavior: AutoscalingPolicy['behavior'],
): number {
  let up = recommendation;
  let down = recommendation;
  for (const past of history) {
    const age = now - past.at;
    if (age <= behavior.scaleUp.stabilizationWindowSeconds * 1000) up = Math.min(up, past.replicas);
    if (age <= behavior.scaleDown.stabilizationWindowSeconds * 1000) down = Math.max(down, past.replicas);
  }
  if (up > currentReplicas) return up;
  if (down < currentReplicas) return down;
  return currentReplicas;
}

function changedInPeriod(events: ScalingState['events'], now: number, periodSeconds: number): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const event of events) {
    if (now - event.at >= periodSeconds * 1000) continue;
    if (event.delta > 0) added += event.delta;
    else removed -= event.delta;
  }
  return { added, removed };
}

/** The highest count the scale-up policies allow now (HPA: replicas at each period's start plus the policy's step). */
export function scaleUpLimit(current: number, events: ScalingState['events'], now: number, rules: ScalingDirection): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const limits = rules.policies.map((policy) => {
    const { added, removed } = changedInPeriod(events, now, policy.periodSeconds);
    const start = current - added + removed;
    return policy.type === 'Pods' ? start + policy.value : Math.ceil(start * (1 + policy.value / 100));
  });
  const limit = rules.selectPolicy === 'Max' ? Math.max(...limits) : Math.min(...limits);
  return Math.max(limit, current);
}

/** The lowest count the scale-down policies allow now. */
export function scaleDownLimit(current: number, events: ScalingState['events'], now: number, rules: ScalingDirection): number {
  if (rules.selectPolicy === 'Disabled') return current;
  const limits = rules.policies.map((policy) => {
    const { added, removed } = changedInPeriod(events, now, policy.periodSeconds);
    const start = current + removed - added;
    return policy.type === 'Pods' ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
  });
  const limit = rules.selectPolicy === 'Max' ? Math.min(...limits) : Math.max(...limits);
  return Math.max(0, Math.min(limit, current));
}

/**
 * Decides a pool's desired replicas. Demand is the largest of what the backlog
 * and the load ask for (a missing signal asks for the fallback replicas); the
 * stabilisation windows and rate policies shape the change; min, max and the
 * carbon and energy caps bound it, and a lowered cap applies at once.
 */
export function decideReplicas(
  policy: AutoscalingPolicy,
  signals: ScalingSignals,
  state: ScalingState,
): { decision: ScalingDecision; state: ScalingState } {
  const { now, currentReplicas: current } = signals;
  const reasons: ScalingReason[] = [];
  const proposals: ScalingDecision['proposals'] = {};
  const inputs: ScalingDecision['inputs'] = {};

  if (policy.backlog) {
    if (signals.backlog === undefined) {
      proposals.fallback = policy.fallbackReplicas;
      reasons.push({ code: 'BACKLOG_MISSING_FALLBACK', message: `backlog unknown: fallback ${policy.fallbackReplicas} replicas` });
    } else {
      inputs.backlog = signals.backlog;
      const { targetPerReplica, activationThreshold } = policy.backlog;
      proposals.backlog = backlogReplicas(signals.backlog, targetPerReplica, activationThreshold);
      reasons.push(
        signals.backlog <= activationThreshold
          ? { code: 'BACKLOG_INACTIVE', message: `backlog ${signals.backlog} <= activation threshold ${activationThreshold}` }
          : { code: 'BACKLOG', message: `backlog ${signals.backlog} / ${targetPerReplica} per replica -> ${proposals.backlog}` },
      );
    }
  }
  let deadlinePlanned = false;
  if (policy.deadline && policy.backlog && signals.backlog !== undefined) {
    const { sloSeconds, messagesPerReplicaSecond } = policy.deadline;
    const backlog = signals.backlog;
    const age = signals.oldestMessageAgeSeconds;
    const capacity = (intensity: number | undefined) =>
      Math.min(policy.maxReplicas, policy.carbon && intensity !== undefined ? carbonBand(policy.carbon.bands, intensity).maxReplicas : Infinity);
    if (backlog <= 0) {
      deadlinePlanned = true;
      proposals.deadline = 0;
      reasons.push({ code: 'DEADLINE', message: 'no message waiting: nothing to finish' });
    } else if (age === undefined) {
      reasons.push({ code: 'DEADLINE_UNKNOWN', message: `age of the oldest waiting message unknown: the backlog's target per replica decides` });
    } else {
      deadlinePlanned = true;
      inputs.oldestMessageAgeSeconds = round3(age);
      const slackSeconds = sloSeconds - age;
      inputs.deadlineInSeconds = round3(slackSeconds);
      const work = backlog / messagesPerReplicaSecond;
      if (slackSeconds <= 0) {
        proposals.deadline = capacity(signals.carbonIntensity);
        reasons.push({
          code: 'DEADLINE',
          message: `oldest message ${round3(age)}s old, past its ${sloSeconds}s SLO: run the ${proposals.deadline} replicas allowed`,
        });
      } else {
        const deadlineAt = now + slackSeconds * 1000;
        const segments = clipSegments(signals.carbonSegments, now, deadlineAt, signals.carbonIntensity);
        const plan = deadlinePlan(segments, work, capacity);
        proposals.deadline = plan.replicasNow;
        if (plan.cleanest?.intensity !== undefined) inputs.plannedCleanestIntensity = plan.cleanest.intensity;
        const where = plan.cleanest
          ? `cleanest ${plan.cleanest.intensity ?? 'unknown'} g/kWh from +${round3((plan.cleanest.from - now) / 1000)}s`
          : 'no capacity';
        reasons.push({
          code: 'DEADLINE',
          message:
            `backlog ${backlog} at ${messagesPerReplicaSecond}/s per replica = ${round3(work)} replica-s before the oldest message ` +
            `(${round3(age)}s old) reaches its ${sloSeconds}s SLO in ${round3(slackSeconds)}s; ${where}` +
            `${plan.feasible ? '' : ' (more work than the capacity until then)'} -> ${plan.replicasNow} now`,
        });
      }
    }
  }
  if (policy.load) {
    if (signals.loads === undefined) {
      proposals.fallback = policy.fallbackReplicas;
      reasons.push({ code: 'LOAD_MISSING_FALLBACK', message: `agent load unknown: fallback ${policy.fallbackReplicas} replicas` });
    } else {
      const average = signals.loads.length ? signals.loads.reduce((a, b) => a + b, 0) / signals.loads.length : 0;
      inputs.averageLoad = round3(average);
      inputs.agents = signals.loads.length;
      proposals.load = loadReplicas(signals.loads, policy.load.targetPerReplica);
      reasons.push({
        code: 'LOAD',
        message: `${signals.loads.length} agents at mean load ${round3(average)} / target ${policy.load.targetPerReplica} -> ${proposals.load}`,
      });
    }
  }
  // A deadline plan times the backlog instead of its target per replica (still recorded, for comparison).
  const asked = Object.entries(proposals)
    .filter(([signal]) => !(deadlinePlanned && signal === 'backlog'))
    .map(([, n]) => n)
    .filter((n): n is number => n !== undefined);
  let recommended: number;
  if (asked.length) recommended = Math.max(...asked);
  else {
    recommended = current;
    reasons.push({ code: 'NO_DEMAND_SIGNAL', message: `no demand signal configured: keep ${current}` });
  }

  const caps: ScalingDecision['caps'] = { maxReplicas: policy.maxReplicas, effective: policy.maxReplicas };
  if (policy.carbon) {
    if (signals.carbonIntensity === undefined) {
      reasons.push({ code: 'CARBON_UNKNOWN', message: 'carbon intensity unknown: no carbon cap' });
    } else {
      inputs.carbonIntensity = signals.carbonIntensity;
      caps.carbon = carbonBand(policy.carbon.bands, signals.carbonIntensity).maxReplicas;
      const { deferral } = policy.carbon;
      // A deadline plan already times the work by the forecast: the deferral cap would only make it late.
      if (deferral && !deadlinePlanned && signals.carbonForecastMin !== undefined) {
        inputs.carbonForecastMin = signals.carbonForecastMin;
        if (defersToCleaner(signals.carbonIntensity, signals.carbonForecastMin, deferral.minRatio)) caps.carbonDeferral = deferral.maxReplicas;
      }
    }
  }
  if (policy.energy) {
    if (signals.energyUsedWh === undefined || signals.energyWindowRemainingSeconds === undefined) {
      reasons.push({ code: 'ENERGY_UNKNOWN', message: 'energy use unknown: no energy cap' });
    } else {
      inputs.energyUsedWh = round3(signals.energyUsedWh);
      inputs.energyWindowRemainingSeconds = signals.energyWindowRemainingSeconds;
      const { budgetWh, wattsPerReplica } = policy.energy;
      caps.energy = energyReplicas(budgetWh, signals.energyUsedWh, wattsPerReplica, signals.energyWindowRemainingSeconds);
    }
  }
  caps.effective = Math.max(
    policy.minReplicas,
    Math.min(policy.maxReplicas, caps.carbon ?? Infinity, caps.carbonDeferral ?? Infinity, caps.energy ?? Infinity),
  );

  const stabilized = stabilize(recommended, current, state.recommendations, now, policy.behavior);
  if (recommended < current && stabilized > recommended) {
    reasons.push({
      code: 'STABILIZED_DOWN',
      message: `hold ${stabilized}: recommendations of the last ${policy.behavior.scaleDown.stabilizationWindowSeconds}s ask for it`,
    });
  } else if (recommended > current && stabilized < recommended) {
    reasons.push({
      code: 'STABILIZED_UP',
      message: `only ${stabilized}: recommendations of the last ${policy.behavior.scaleUp.stabilizationWindowSeconds}s agree on no more`,
    });
  }

  const upLimit = scaleUpLimit(current, state.events, now, policy.behavior.scaleUp);
  const downLimit = scaleDownLimit(current, state.events, now, policy.behavior.scaleDown);
  let desired = stabilized;
  if (desired > Math.min(upLimit, caps.effective)) {
    if (upLimit < caps.effective && upLimit < desired) {
      reasons.push(
        policy.behavior.scaleUp.selectPolicy === 'Disabled'
          ? { code: 'SCALE_UP_DISABLED', message: `scale-up disabled: stay at ${current}` }
          : { code: 'RATE_LIMITED_UP', message: `scale-up policies allow at most ${upLimit} now (asked ${desired})` },
      );
    }
    desired = Math.min(upLimit, caps.effective);
  } else if (desired < Math.max(downLimit, policy.minReplicas)) {
    if (downLimit > policy.minReplicas && downLimit > desired) {
      reasons.push(
        policy.behavior.scaleDown.selectPolicy === 'Disabled'
          ? { code: 'SCALE_DOWN_DISABLED', message: `scale-down disabled: stay at ${current}` }
          : { code: 'RATE_LIMITED_DOWN', message: `scale-down policies allow at least ${downLimit} now (asked ${desired})` },
      );
    }
    desired = Math.max(downLimit, policy.minReplicas);
  }
  desired = Math.min(Math.max(desired, policy.minReplicas), caps.effective);

  // Which bound shaped the result, when one did.
  if (desired === caps.effective && (stabilized > caps.effective || recommended > caps.effective)) {
    if (caps.effective === caps.carbonDeferral && caps.carbonDeferral < (caps.carbon ?? Infinity)) {
      reasons.push({
        code: 'CARBON_DEFERRED',
        message:
          `carbon ${signals.carbonIntensity} g/kWh now, ${signals.carbonForecastMin} g/kWh forecast within ` +
          `${policy.carbon?.deferral?.horizonSeconds}s: work waits, the pool is capped at ${caps.carbonDeferral}`,
      });
    } else if (caps.effective === caps.carbon) {
      reasons.push({ code: 'CARBON_CAP', message: `carbon ${signals.carbonIntensity} g/kWh caps the pool at ${caps.carbon}` });
    } else if (caps.effective === caps.energy) {
      reasons.push({ code: 'ENERGY_CAP', message: `energy budget left sustains ${caps.energy} replicas` });
    } else if (caps.effective === policy.maxReplicas) {
      reasons.push({ code: 'MAX_REPLICAS', message: `maxReplicas ${policy.maxReplicas}` });
    } else {
      reasons.push({ code: 'MIN_REPLICAS', message: `caps below minReplicas: held at ${policy.minReplicas}` });
    }
  } else if (desired === policy.minReplicas && recommended < policy.minReplicas) {
    reasons.push({ code: 'MIN_REPLICAS', message: `minReplicas ${policy.minReplicas}` });
  }

  const keepRecsMs = Math.max(policy.behavior.scaleUp.stabilizationWindowSeconds, policy.behavior.scaleDown.stabilizationWindowSeconds) * 1000;
  const keepEventsMs =
    Math.max(...[...policy.behavior.scaleUp.policies, ...policy.behavior.scaleDown.policies].map((p) => p.periodSeconds)) * 1000;
  const nextState: ScalingState = {
    recommendations: [...state.recommendations.filter((r) => now - r.at < keepRecsMs), { at: now, replicas: recommended }],
    events: [
      ...state.events.filter((e) => now - e.at < keepEventsMs),
      ...(desired !== current ? [{ at: now, delta: desired - current }] : []),
    ],
  };
  return {
    decision: { at: now, currentReplicas: current, desiredReplicas: desired, inputs, proposals, recommended, caps, reasons },
    state: nextState,
  };
}

/**
 * The segments from now until the deadline (ms), clipped to that span; without segments, one spanning it
 * at the intensity known now.
 */
function clipSegments(segments: IntensitySegment[] | undefined, now: number, deadlineAt: number, intensityNow?: number): IntensitySegment[] {
  const clipped = (segments ?? [])
    .map((segment) => ({ ...segment, from: Math.max(segment.from, now), to: Math.min(segment.to, deadlineAt) }))
    .filter((segment) => segment.to > segment.from);
  if (clipped.length === 0 || clipped[0].from > now) {
    clipped.unshift({ from: now, to: clipped[0]?.from ?? deadlineAt, intensity: intensityNow });
  }
  return clipped;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
