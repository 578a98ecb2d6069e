// The LP/MIP solver port: the exact task allocator hands it a model in CPLEX LP format.
import type { LpSolution } from '../../core/allocation/exact';

export type { LpSolution };

export interface LpSolver {
  solve(lp: string): Promise<LpSolution>;
}
