// The LpSolver port on HiGHS compiled to WebAssembly (npm highs): loaded once
// per process; each solve is synchronous on the calling thread and bounded by
// a time limit, so only the small instances the exact allocator sends belong here.
import loadHighs from 'highs';
import type { LpSolution, LpSolver } from '../ports';

type Highs = Awaited<ReturnType<typeof loadHighs>>;

export class HighsLpSolver implements LpSolver {
  private loading?: Promise<Highs>;

  constructor(private readonly timeLimitS = 10) {}

  async solve(lp: string): Promise<LpSolution> {
    this.loading ??= loadHighs();
    const highs = await this.loading;
    const result = highs.solve(lp, { time_limit: this.timeLimitS, output_flag: false });
    const values: Record<string, number> = {};
    for (const [name, column] of Object.entries(result.Columns ?? {})) values[name] = (column as { Primal?: number }).Primal ?? 0;
    const status = result.Status === 'Optimal' ? 'optimal' : result.Status === 'Infeasible' ? 'infeasible' : 'other';
    return { status, values, objective: result.ObjectiveValue ?? 0 };
  }
}
