// Energy- and carbon-aware task allocation: the exact MIP for small instances,
// greedy + local search for large ones, and carbon-unaware baselines.
import { EXACT_PAIR_LIMIT, ExactSolveError, allocateExact, type LpSolve } from './exact';
import { allocateHeuristic, type HeuristicOptions } from './heuristic';
import { incapability } from './model';
import type { AllocationAgent, AllocationPlan, AllocationTask } from './types';

export * from './types';
export * from './model';
export * from './baselines';
export * from './exact';
export * from './heuristic';
export * from './contract-net';
export * from './overload';

export type AllocationMethod = 'exact' | 'heuristic';

/** Which allocator a problem gets: exact when a solver is given, there are several tasks and at most EXACT_PAIR_LIMIT (task, agent) pairs are feasible. */
export function allocationMethod(tasks: AllocationTask[], agents: AllocationAgent[], hasSolver: boolean): AllocationMethod {
  // One task: the greedy scan already takes the agent of least cost plus lateness, which is the optimum.
  if (!hasSolver || tasks.length < 2) return 'heuristic';
  let pairs = 0;
  for (const task of tasks) {
    for (const agent of agents) {
      if (!incapability(task, agent) && ++pairs > EXACT_PAIR_LIMIT) return 'heuristic';
    }
  }
  return 'exact';
}

/** Allocates tasks to agents minimising carbon (or energy) plus the lateness penalty. */
export async function allocate(
  tasks: AllocationTask[],
  agents: AllocationAgent[],
  options: HeuristicOptions,
  solve?: LpSolve,
): Promise<AllocationPlan & { method: AllocationMethod }> {
  if (allocationMethod(tasks, agents, solve !== undefined) === 'exact') {
    try {
      return { ...(await allocateExact(tasks, agents, options, solve!)), method: 'exact' };
    } catch (error) {
      if (!(error instanceof ExactSolveError)) throw error;
      // No proven optimum within the solver's time limit: the heuristic's plan is as good an answer.
    }
  }
  return { ...allocateHeuristic(tasks, agents, options), method: 'heuristic' };
}
