// The cost model every allocator shares: who can run a task, how long it
// takes, what it draws and emits, and the schedule an agent's queue makes.
// An agent runs its tasks one at a time, earliest deadline first (EDF), which
// meets every deadline whenever any order on that agent would.
import type {
  AllocationAgent,
  AllocationDecision,
  AllocationOptions,
  AllocationPlan,
  AllocationTask,
  AgentEnergyProfile,
  PlanTotals,
  UnassignableReason,
} from './types';

/** Default cost of one second late: large enough that a deadline outweighs any carbon saving. */
export const DEFAULT_LATENESS_PENALTY_PER_S = 1_000;

/** Why agent cannot run task, or undefined when it can (energy budget aside). */
export function incapability(task: AllocationTask, agent: AllocationAgent): UnassignableReason | undefined {
  const needs = task.requirements;
  for (const capability of needs.capabilities ?? []) if (!agent.capabilities.includes(capability)) return 'no-capable-agent';
  if ((needs.cpu ?? 0) > agent.capacity.cpu) return 'no-capacity';
  if ((needs.memoryMb ?? 0) > agent.capacity.memoryMb) return 'no-capacity';
  if ((needs.gpu ?? 0) > (agent.capacity.gpu ?? 0)) return 'no-capacity';
  return undefined;
}

/** Running time of task on agent, seconds. */
export function durationS(task: AllocationTask, agent: AllocationAgent): number {
  return task.estimatedWork / agent.speed;
}

/** Energy of task on agent, Wh (busy power over its running time). */
export function energyWh(task: AllocationTask, agent: AllocationAgent): number {
  return (agent.energy.busyWatts * durationS(task, agent)) / 3600;
}

/** Carbon intensity at instant t (ms), gCO2/kWh. */
export function intensityAt(profile: AgentEnergyProfile, tMs: number): number {
  let value = profile.carbonGPerKWh;
  for (const point of profile.forecast ?? []) {
    if (point.atMs > tMs) break;
    value = point.gPerKWh;
  }
  return value;
}

/** Mean carbon intensity over [startMs, endMs), gCO2/kWh (the piecewise-constant forecast integrated). */
export function meanIntensity(profile: AgentEnergyProfile, startMs: number, endMs: number): number {
  if (endMs <= startMs) return intensityAt(profile, startMs);
  let total = 0;
  let t = startMs;
  let value = intensityAt(profile, startMs);
  for (const point of profile.forecast ?? []) {
    if (point.atMs <= startMs) continue;
    if (point.atMs >= endMs) break;
    total += value * (point.atMs - t);
    t = point.atMs;
    value = point.gPerKWh;
  }
  total += value * (endMs - t);
  return total / (endMs - startMs);
}

/** Carbon of running task on agent from startMs, g CO2. */
export function carbonG(task: AllocationTask, agent: AllocationAgent, startMs: number): number {
  const finishMs = startMs + durationS(task, agent) * 1000;
  return (energyWh(task, agent) / 1000) * meanIntensity(agent.energy, startMs, finishMs);
}

/**
 * Start in [earliestMs, latestMs] with the least carbon for a run of durationMs:
 * the optimum of a piecewise-constant intensity is at the window's ends or where
 * the run starts or ends at a forecast point. Earliest wins ties.
 */
export function lowestCarbonStart(profile: AgentEnergyProfile, earliestMs: number, latestMs: number, durationMs: number): number {
  if (latestMs <= earliestMs) return earliestMs;
  const candidates = [earliestMs, latestMs];
  for (const point of profile.forecast ?? []) {
    for (const start of [point.atMs, point.atMs - durationMs]) if (start > earliestMs && start < latestMs) candidates.push(start);
  }
  candidates.sort((a, b) => a - b);
  let best = earliestMs;
  let bestValue = meanIntensity(profile, earliestMs, earliestMs + durationMs);
  for (const start of candidates) {
    const value = meanIntensity(profile, start, start + durationMs);
    if (value < bestValue - 1e-9) {
      best = start;
      bestValue = value;
    }
  }
  return best;
}

/** EDF order: earlier deadline first, then higher priority, then task id. */
export function edfCompare(a: AllocationTask, b: AllocationTask): number {
  return a.deadlineMs - b.deadlineMs || (b.priority ?? 0) - (a.priority ?? 0) || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
}

/**
 * The schedule of one agent's tasks: EDF, back to back from when the agent is
 * free. With shift, a deferrable task starts in the lowest-carbon window that
 * still lets it and every task after it meet their deadlines (latest starts
 * from a backward pass), as in temporal shifting ("Let's Wait Awhile").
 */
export function scheduleAgent(agent: AllocationAgent, tasks: AllocationTask[], options: Pick<AllocationOptions, 'nowMs' | 'shift'>): AllocationDecision[] {
  const ordered = [...tasks].sort(edfCompare);
  const durationsMs = ordered.map((task) => durationS(task, agent) * 1000);
  const latestStart = new Array<number>(ordered.length);
  let bound = Infinity;
  for (let i = ordered.length - 1; i >= 0; i--) {
    bound = Math.min(ordered[i].deadlineMs, bound) - durationsMs[i];
    latestStart[i] = bound;
  }
  const decisions: AllocationDecision[] = [];
  let t = Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs);
  for (let i = 0; i < ordered.length; i++) {
    const task = ordered[i];
    let start = t;
    if (options.shift !== false && task.deferrable) start = lowestCarbonStart(agent.energy, t, latestStart[i], durationsMs[i]);
    const finish = start + durationsMs[i];
    decisions.push({
      taskId: task.taskId,
      agentId: agent.agentId,
      startMs: start,
      finishMs: finish,
      energyWh: energyWh(task, agent),
      carbonG: carbonG(task, agent, start),
      slackS: (task.deadlineMs - finish) / 1000,
    });
    t = finish;
  }
  return decisions;
}

export function totalsOf(decisions: AllocationDecision[], nowMs: number): PlanTotals {
  const totals: PlanTotals = { energyWh: 0, carbonG: 0, deadlineMisses: 0, latenessS: 0, makespanS: 0 };
  for (const decision of decisions) {
    totals.energyWh += decision.energyWh;
    totals.carbonG += decision.carbonG;
    if (decision.slackS < 0) {
      totals.deadlineMisses += 1;
      totals.latenessS -= decision.slackS;
    }
    totals.makespanS = Math.max(totals.makespanS, (decision.finishMs - nowMs) / 1000);
  }
  return totals;
}

/** The plan an assignment (task id -> agent id) makes under the shared model. */
export function planFromAssignment(
  tasks: AllocationTask[],
  agents: AllocationAgent[],
  assignment: Map<string, string>,
  unassigned: AllocationPlan['unassigned'],
  options: Pick<AllocationOptions, 'nowMs' | 'shift'>,
): AllocationPlan {
  const byAgent = new Map<string, AllocationTask[]>();
  for (const task of tasks) {
    const agentId = assignment.get(task.taskId);
    if (agentId === undefined) continue;
    let list = byAgent.get(agentId);
    if (!list) byAgent.set(agentId, (list = []));
    list.push(task);
  }
  const decisions: AllocationDecision[] = [];
  for (const agent of agents) {
    const list = byAgent.get(agent.agentId);
    if (list) decisions.push(...scheduleAgent(agent, list, options));
  }
  return { decisions, unassigned, totals: totalsOf(decisions, options.nowMs) };
}

/**
 * Cost coefficient of running task on agent in the objective's unit (g or Wh),
 * lateness aside: a deferrable task is charged the lowest-carbon window its
 * deadline allows, any other task the intensity of starting now.
 */
export function assignmentCost(task: AllocationTask, agent: AllocationAgent, options: AllocationOptions): number {
  if (options.objective === 'energy') return energyWh(task, agent);
  const durationMs = durationS(task, agent) * 1000;
  const earliest = Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs);
  const start =
    options.shift !== false && task.deferrable
      ? lowestCarbonStart(agent.energy, earliest, task.deadlineMs - durationMs, durationMs)
      : earliest;
  return carbonG(task, agent, start);
}

/** Objective value of a plan: carbon (g) or energy (Wh) plus the lateness penalty. */
export function planObjective(plan: AllocationPlan, options: AllocationOptions): number {
  const base = options.objective === 'energy' ? plan.totals.energyWh : plan.totals.carbonG;
  return base + (options.latenessPenaltyPerS ?? DEFAULT_LATENESS_PENALTY_PER_S) * plan.totals.latenessS;
}
