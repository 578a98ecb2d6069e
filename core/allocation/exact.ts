// The exact allocator for small instances: a mixed-integer program in CPLEX LP
// format, solved by whatever LpSolve the caller injects (HiGHS in production).
//   x_t_a  binary   task t runs on agent a
//   u_t    binary   task t is left unassigned (only when budgets force it)
//   s_t_a  >= 0     lateness of t on a, seconds
// min  sum cost(t,a) x_t_a + penalty * sum s_t_a + U * sum u_t
// s.t. sum_a x_t_a + u_t = 1                                   (each task once)
//      sum_{k <= t in EDF} dur(k,a) x_k_a + M x_t_a - s_t_a <= d_t - free_a + M
//                                                              (finish of t on a's EDF queue, minus lateness, meets d_t)
//      sum_t energy(t,a) x_t_a <= budget_a                      (energy budgets)
// With EDF on every agent, s_t_a is exactly the lateness of t when it runs on a,
// so the optimum minimises the same objective the heuristic does.
import {
  DEFAULT_LATENESS_PENALTY_PER_S,
  assignmentCost,
  durationS,
  edfCompare,
  energyWh,
  incapability,
  planFromAssignment,
} from './model';
import type { AllocationAgent, AllocationOptions, AllocationPlan, AllocationTask, UnassignableReason } from './types';

/** The solution a solver returns for an LP text. */
export interface LpSolution {
  status: 'optimal' | 'infeasible' | 'other';
  /** Primal value per column name. */
  values: Record<string, number>;
  objective: number;
}

/** Solves a CPLEX-LP-format model (the LpSolver port). */
export type LpSolve = (lp: string) => Promise<LpSolution>;

/** Above this many (task, agent) pairs the heuristic is used. */
export const EXACT_PAIR_LIMIT = 100;

export interface ExactModel {
  lp: string;
  /** Column name -> [task index, agent index] of each x column. */
  columns: Map<string, [number, number]>;
  unassignable: { taskId: string; reason: UnassignableReason }[];
  pairs: number;
}

const num = (value: number): string => {
  const fixed = Number(value.toPrecision(12));
  return Object.is(fixed, -0) ? '0' : String(fixed);
};

/** Builds the MIP for tasks on agents; tasks no agent can run are listed, not modelled. */
export function buildExactModel(tasks: AllocationTask[], agents: AllocationAgent[], options: AllocationOptions): ExactModel {
  const penalty = options.latenessPenaltyPerS ?? DEFAULT_LATENESS_PENALTY_PER_S;
  const ordered = [...tasks].sort(edfCompare);
  const capable: number[][] = ordered.map(() => []);
  const unassignable: ExactModel['unassignable'] = [];
  ordered.forEach((task, t) => {
    let reason: UnassignableReason = 'no-capable-agent';
    agents.forEach((agent, a) => {
      const why = incapability(task, agent);
      if (!why) capable[t].push(a);
      else if (why === 'no-capacity') reason = why;
    });
    if (capable[t].length === 0) unassignable.push({ taskId: task.taskId, reason });
  });
  const columns = new Map<string, [number, number]>();
  const objective: string[] = [];
  const constraints: string[] = [];
  const binaries: string[] = [];
  const x = (t: number, a: number): string => `x_${t}_${a}`;
  let maxCost = 0;
  let pairs = 0;
  ordered.forEach((task, t) => {
    for (const a of capable[t]) {
      const cost = assignmentCost(task, agents[a], options);
      maxCost = Math.max(maxCost, cost);
      objective.push(`${num(cost)} ${x(t, a)}`);
      columns.set(x(t, a), [t, a]);
      binaries.push(x(t, a));
      pairs++;
    }
  });
  // Leaving a task out must cost more than any lateness it could avoid.
  const horizonS = agents.reduce((sum, agent) => sum + ordered.reduce((s, task) => s + durationS(task, agent), 0), 0);
  const unassignedCost = (maxCost + 1) * ordered.length + penalty * (horizonS + 1) * ordered.length;
  ordered.forEach((_task, t) => {
    if (capable[t].length === 0) return;
    objective.push(`${num(unassignedCost)} u_${t}`);
    binaries.push(`u_${t}`);
    constraints.push(` once_${t}: ${capable[t].map((a) => x(t, a)).join(' + ')} + u_${t} = 1`);
  });
  agents.forEach((agent, a) => {
    const freeMs = Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs);
    const onAgent = ordered.map((_task, t) => t).filter((t) => capable[t].includes(a));
    const bigM = onAgent.reduce((s, t) => s + durationS(ordered[t], agent), 0);
    const prefix: string[] = [];
    for (const t of onAgent) {
      prefix.push(`${num(durationS(ordered[t], agent))} ${x(t, a)}`);
      objective.push(`${num(penalty)} s_${t}_${a}`);
      // M must also cover a deadline already behind the agent's free time, or s would be charged for x = 0.
      const dueS = (ordered[t].deadlineMs - freeMs) / 1000;
      const m = bigM + Math.max(0, -dueS);
      constraints.push(` due_${t}_${a}: ${prefix.join(' + ')} + ${num(m)} ${x(t, a)} - s_${t}_${a} <= ${num(dueS + m)}`);
    }
    const budget = agent.energy.budgetWh;
    if (budget !== undefined && onAgent.length > 0) {
      constraints.push(` budget_${a}: ${onAgent.map((t) => `${num(energyWh(ordered[t], agent))} ${x(t, a)}`).join(' + ')} <= ${num(budget)}`);
    }
  });
  const lp = [
    'Minimize',
    ` obj: ${objective.length ? objective.join(' + ') : '0 u_none'}`,
    'Subject To',
    ...(constraints.length ? constraints : [' none: u_none >= 0']),
    'Binary',
    ...(binaries.length ? binaries.map((b) => ` ${b}`) : [' u_none']),
    'End',
    '',
  ].join('\n');
  return { lp, columns, unassignable, pairs };
}

/** Optimal allocation of a small instance (see EXACT_PAIR_LIMIT); throws when the solver finds no optimum. */
export async function allocateExact(
  tasks: AllocationTask[],
  agents: AllocationAgent[],
  options: AllocationOptions,
  solve: LpSolve,
): Promise<AllocationPlan> {
  const ordered = [...tasks].sort(edfCompare);
  const model = buildExactModel(tasks, agents, options);
  const assignment = new Map<string, string>();
  const unassigned = [...model.unassignable];
  if (model.pairs > 0) {
    const solution = await solve(model.lp);
    if (solution.status !== 'optimal') throw new ExactSolveError(solution.status);
    for (const [column, [t, a]] of model.columns) if ((solution.values[column] ?? 0) > 0.5) assignment.set(ordered[t].taskId, agents[a].agentId);
    const modelled = new Set(model.unassignable.map((u) => u.taskId));
    for (const task of ordered) {
      if (!assignment.has(task.taskId) && !modelled.has(task.taskId)) unassigned.push({ taskId: task.taskId, reason: 'energy-budget' });
    }
  }
  return planFromAssignment(tasks, agents, assignment, unassigned, options);
}

export class ExactSolveError extends Error {
  readonly code = 'EXACT_SOLVE_FAILED';
  constructor(readonly status: LpSolution['status']) {
    super(`the solver ended with status ${status}`);
    this.name = 'ExactSolveError';
  }
}
