// The fast allocator for large instances: greedy in EDF order (each task to the
// agent with the least cost plus lateness penalty given what it already holds),
// then local search moving single tasks to cheaper agents while the objective
// drops. Agents are scanned cheapest first per work unit, so the scan stops as
// soon as no further agent can beat the best found.
import {
  DEFAULT_LATENESS_PENALTY_PER_S,
  assignmentCost,
  durationS,
  edfCompare,
  energyWh,
  incapability,
  intensityAt,
  planFromAssignment,
} from './model';
import type { AllocationAgent, AllocationOptions, AllocationPlan, AllocationTask, UnassignableReason } from './types';

export interface HeuristicOptions extends AllocationOptions {
  /** Local-search passes over all tasks at most. Default 3. */
  localSearchPasses?: number;
  /** Cheapest capable agents tried per task in local search. Default 16. */
  moveCandidates?: number;
}

interface AgentState {
  agent: AllocationAgent;
  index: number;
  /** When the queue built so far drains, ms. */
  freeAtMs: number;
  spentWh: number;
  /** Energy per work unit, Wh. */
  whPerWork: number;
  /** Lower bound of the cost per work unit (objective's unit) of a deferrable task, which may wait for any window. */
  floorPerWork: number;
  /** Lower bound of the cost per work unit of a task that starts now (the lowest intensity within the longest run). */
  floorNowPerWork: number;
  tasks: AllocationTask[];
}

/** Greedy + local search allocation; deadlines are kept where the penalty makes them worth it. */
export function allocateHeuristic(tasks: AllocationTask[], agents: AllocationAgent[], options: HeuristicOptions): AllocationPlan {
  const penalty = options.latenessPenaltyPerS ?? DEFAULT_LATENESS_PENALTY_PER_S;
  const longestMs = agents.length ? Math.max(0, ...tasks.map((t) => t.estimatedWork)) / Math.min(...agents.map((a) => a.speed)) * 1000 : 0;
  const states = agents.map((agent, index) => agentState(agent, index, options, longestMs));
  const byFloor = [...states].sort((a, b) => a.floorPerWork - b.floorPerWork || a.index - b.index);
  const byFloorNow = [...states].sort((a, b) => a.floorNowPerWork - b.floorNowPerWork || a.index - b.index);
  const costs = new CostCache(options);
  const order = (task: AllocationTask): { list: AgentState[]; floor: (state: AgentState) => number } =>
    task.deferrable && options.shift !== false
      ? { list: byFloor, floor: (state) => state.floorPerWork }
      : { list: byFloorNow, floor: (state) => state.floorNowPerWork };
  const assignment = new Map<string, AgentState>();
  const unassigned: { taskId: string; reason: UnassignableReason }[] = [];

  for (const task of [...tasks].sort(edfCompare)) {
    let best: AgentState | undefined;
    let bestCost = Infinity;
    let reason: UnassignableReason = 'no-capable-agent';
    const { list, floor } = order(task);
    for (const state of list) {
      if (floor(state) * task.estimatedWork >= bestCost) break;
      const why = incapability(task, state.agent);
      if (why) {
        if (why === 'no-capacity') reason = why;
        continue;
      }
      const energy = energyWh(task, state.agent);
      if (state.agent.energy.budgetWh !== undefined && state.spentWh + energy > state.agent.energy.budgetWh) {
        reason = 'energy-budget';
        continue;
      }
      const finishMs = state.freeAtMs + durationS(task, state.agent) * 1000;
      // Not cached: the greedy scan sees each (task, agent) pair once, and caching every pair of a large instance costs more than it saves.
      const cost = assignmentCost(task, state.agent, options) + penalty * Math.max(0, (finishMs - task.deadlineMs) / 1000);
      if (cost < bestCost) {
        bestCost = cost;
        best = state;
      }
    }
    if (!best) {
      unassigned.push({ taskId: task.taskId, reason });
      continue;
    }
    best.freeAtMs += durationS(task, best.agent) * 1000;
    best.spentWh += energyWh(task, best.agent);
    best.tasks.push(task); // EDF order: appended in deadline order
    assignment.set(task.taskId, best);
  }

  localSearch(assignment, order, costs, options, penalty, tasks.length <= SWAP_TASK_LIMIT);
  const result = new Map<string, string>();
  for (const [taskId, state] of assignment) result.set(taskId, state.agent.agentId);
  return planFromAssignment(tasks, agents, result, unassigned, options);
}

/** Above this many tasks local search only moves tasks; pairwise swaps cost too much time there. */
export const SWAP_TASK_LIMIT = 2000;

/** assignmentCost per (task, agent), computed once: carbon of a deferrable task scans the forecast. */
class CostCache {
  private readonly cache = new Map<AllocationTask, Map<number, number>>();
  constructor(private readonly options: AllocationOptions) {}
  of(task: AllocationTask, state: AgentState): number {
    let row = this.cache.get(task);
    if (!row) this.cache.set(task, (row = new Map()));
    let value = row.get(state.index);
    if (value === undefined) row.set(state.index, (value = assignmentCost(task, state.agent, this.options)));
    return value;
  }
}

function agentState(agent: AllocationAgent, index: number, options: AllocationOptions, longestMs: number): AgentState {
  const whPerWork = agent.energy.busyWatts / agent.speed / 3600;
  const start = Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs);
  let minIntensity = agent.energy.carbonGPerKWh;
  let minNow = intensityAt(agent.energy, start);
  for (const point of agent.energy.forecast ?? []) {
    minIntensity = Math.min(minIntensity, point.gPerKWh);
    if (point.atMs > start && point.atMs < start + longestMs) minNow = Math.min(minNow, point.gPerKWh);
  }
  return {
    agent,
    index,
    freeAtMs: Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs),
    spentWh: 0,
    whPerWork,
    floorPerWork: options.objective === 'energy' ? whPerWork : (whPerWork / 1000) * minIntensity,
    floorNowPerWork: options.objective === 'energy' ? whPerWork : (whPerWork / 1000) * minNow,
    tasks: [],
  };
}

/** Total lateness (s) of an agent's EDF queue, optionally with one task left out or one added. */
function queueLatenessS(state: AgentState, options: AllocationOptions, without?: AllocationTask, withTask?: AllocationTask): number {
  let t = Math.max(options.nowMs, state.agent.availableAtMs ?? options.nowMs);
  let late = 0;
  let pending = withTask;
  const run = (task: AllocationTask): void => {
    t += durationS(task, state.agent) * 1000;
    if (t > task.deadlineMs) late += (t - task.deadlineMs) / 1000;
  };
  for (const task of state.tasks) {
    if (task === without) continue;
    if (pending && edfCompare(pending, task) < 0) {
      run(pending);
      pending = undefined;
    }
    run(task);
  }
  if (pending) run(pending);
  return late;
}

function insertEdf(list: AllocationTask[], task: AllocationTask): void {
  let i = list.length;
  while (i > 0 && edfCompare(list[i - 1], task) > 0) i--;
  list.splice(i, 0, task);
}

function localSearch(
  assignment: Map<string, AgentState>,
  order: (task: AllocationTask) => { list: AgentState[]; floor: (state: AgentState) => number },
  costs: CostCache,
  options: HeuristicOptions,
  penalty: number,
  swaps: boolean,
): void {
  const passes = options.localSearchPasses ?? 3;
  const candidates = options.moveCandidates ?? 16;
  const lateness = new Map<AgentState, number>();
  const latenessOf = (state: AgentState): number => {
    let value = lateness.get(state);
    if (value === undefined) lateness.set(state, (value = queueLatenessS(state, options)));
    return value;
  };
  for (let pass = 0; pass < passes; pass++) {
    let improved = false;
    for (const [taskId, from] of assignment) {
      const task = from.tasks.find((t) => t.taskId === taskId)!;
      const fromCost = costs.of(task, from);
      const { list, floor } = order(task);
      const fromLateAfter = queueLatenessS(from, options, task);
      const saving = fromCost + penalty * (latenessOf(from) - fromLateAfter);
      let bestGain = 1e-9;
      let bestTo: AgentState | undefined;
      let tried = 0;
      for (const to of list) {
        if (tried >= candidates || floor(to) * task.estimatedWork >= saving) break;
        if (to === from || incapability(task, to.agent)) continue;
        tried++;
        const energy = energyWh(task, to.agent);
        if (to.agent.energy.budgetWh !== undefined && to.spentWh + energy > to.agent.energy.budgetWh) continue;
        const added = costs.of(task, to) + penalty * (queueLatenessS(to, options, undefined, task) - latenessOf(to));
        const gain = saving - added;
        if (gain > bestGain) {
          bestGain = gain;
          bestTo = to;
        }
      }
      if (!bestTo) {
        if (swaps) improved = trySwap(task, from, list, candidates, costs, options, penalty, assignment, latenessOf, lateness) || improved;
        continue;
      }
      from.tasks.splice(from.tasks.indexOf(task), 1);
      from.spentWh -= energyWh(task, from.agent);
      insertEdf(bestTo.tasks, task);
      bestTo.spentWh += energyWh(task, bestTo.agent);
      lateness.delete(from);
      lateness.delete(bestTo);
      assignment.set(taskId, bestTo);
      improved = true;
    }
    if (!improved) break;
  }
}

/** Exchanges task (on from) with a task of one of the cheapest agents when that lowers the objective. */
function trySwap(
  task: AllocationTask,
  from: AgentState,
  byFloor: AgentState[],
  candidates: number,
  costs: CostCache,
  options: AllocationOptions,
  penalty: number,
  assignment: Map<string, AgentState>,
  latenessOf: (state: AgentState) => number,
  lateness: Map<AgentState, number>,
): boolean {
  const before = costs.of(task, from);
  let tried = 0;
  for (const to of byFloor) {
    if (tried >= candidates) break;
    if (to === from || incapability(task, to.agent)) continue;
    tried++;
    for (const other of to.tasks) {
      if (incapability(other, from.agent)) continue;
      const fromBudget = from.agent.energy.budgetWh;
      const toBudget = to.agent.energy.budgetWh;
      if (fromBudget !== undefined && from.spentWh - energyWh(task, from.agent) + energyWh(other, from.agent) > fromBudget) continue;
      if (toBudget !== undefined && to.spentWh - energyWh(other, to.agent) + energyWh(task, to.agent) > toBudget) continue;
      const now = before + costs.of(other, to) + penalty * (latenessOf(from) + latenessOf(to));
      const swapped =
        costs.of(task, to) +
        costs.of(other, from) +
        penalty * (queueLatenessS(from, options, task, other) + queueLatenessS(to, options, other, task));
      if (now - swapped <= 1e-9) continue;
      from.tasks.splice(from.tasks.indexOf(task), 1);
      to.tasks.splice(to.tasks.indexOf(other), 1);
      from.spentWh += energyWh(other, from.agent) - energyWh(task, from.agent);
      to.spentWh += energyWh(task, to.agent) - energyWh(other, to.agent);
      insertEdf(from.tasks, other);
      insertEdf(to.tasks, task);
      assignment.set(task.taskId, to);
      assignment.set(other.taskId, from);
      lateness.delete(from);
      lateness.delete(to);
      return true;
    }
  }
  return false;
}
