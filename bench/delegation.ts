// Delegation benchmark, one figure per line, side by side in one run:
//   allocation of a seeded workload (default 1,000 agents x 10,000 tasks): energy,
//   carbon, deadline misses, makespan and solve time of ours (greedy + local search,
//   carbon objective, temporal shifting) vs round-robin, least-loaded and
//   carbon-unaware earliest-finish, with ratios to earliest-finish;
//   and the heuristic's distance from the exact optimum (HiGHS) on small instances both solve.
// npm run bench:delegation [-- --agents 1000 --tasks 10000 --seed 12 --small 20]
import { HighsLpSolver } from '../adapters/highs/lp-solver';
import {
  BASELINES,
  allocateExact,
  allocateHeuristic,
  planObjective,
  type AllocationOptions,
  type AllocationPlan,
  type BaselineName,
} from '../core/allocation';
import { delegationWorkload } from './support/delegation-workload';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const agents = arg('agents', 1000);
  const tasks = arg('tasks', 10000);
  const seed = arg('seed', 12);
  const workload = delegationWorkload(seed, agents, tasks);
  const options: AllocationOptions = { objective: 'carbon', nowMs: workload.nowMs };
  console.log(`workload: ${agents} agents, ${tasks} tasks, seed ${seed}`);

  const results: [string, AllocationPlan, number][] = [];
  const timed = (name: string, run: () => AllocationPlan): void => {
    const started = process.hrtime.bigint();
    const plan = run();
    results.push([name, plan, Number(process.hrtime.bigint() - started) / 1e6]);
  };
  timed('ours', () => allocateHeuristic(workload.tasks, workload.agents, options));
  for (const name of Object.keys(BASELINES) as BaselineName[]) timed(name, () => BASELINES[name](workload.tasks, workload.agents, options));

  const reference = results.find(([name]) => name === 'earliest-finish')![1].totals;
  for (const [name, plan, ms] of results) {
    const t = plan.totals;
    console.log(`${name} energy Wh: ${t.energyWh.toFixed(0)}`);
    console.log(`${name} carbon kg: ${(t.carbonG / 1000).toFixed(2)}`);
    console.log(`${name} deadline misses: ${t.deadlineMisses}`);
    console.log(`${name} unassigned: ${plan.unassigned.length}`);
    console.log(`${name} makespan h: ${(t.makespanS / 3600).toFixed(2)}`);
    console.log(`${name} solve ms: ${ms.toFixed(0)}`);
  }
  for (const [name, plan] of results) {
    if (name === 'earliest-finish') continue;
    const t = plan.totals;
    console.log(`${name} / earliest-finish carbon: ${(t.carbonG / reference.carbonG).toFixed(3)}`);
    console.log(`${name} / earliest-finish energy: ${(t.energyWh / reference.energyWh).toFixed(3)}`);
    console.log(`${name} / earliest-finish makespan: ${(t.makespanS / reference.makespanS).toFixed(3)}`);
    console.log(`${name} - earliest-finish deadline misses: ${t.deadlineMisses - reference.deadlineMisses}`);
  }

  // Small instances (10 tasks, 4 agents, as the exact path gets them): objective of ours / exact.
  const solver = new HighsLpSolver(30);
  const gaps: number[] = [];
  let exactMs = 0;
  let heuristicMs = 0;
  for (let i = 0; i < arg('small', 20); i++) {
    const small = delegationWorkload(seed * 1000 + i, 4, 10);
    const smallOptions: AllocationOptions = { objective: 'carbon', nowMs: small.nowMs };
    let started = performance.now();
    const exact = planObjective(await allocateExact(small.tasks, small.agents, smallOptions, (lp) => solver.solve(lp)), smallOptions);
    exactMs += performance.now() - started;
    started = performance.now();
    const heuristic = planObjective(allocateHeuristic(small.tasks, small.agents, smallOptions), smallOptions);
    heuristicMs += performance.now() - started;
    gaps.push(heuristic / exact - 1);
  }
  if (gaps.length) {
    console.log(`small instances (10 tasks x 4 agents): ${gaps.length}`);
    console.log(`ours / exact objective, mean: ${(1 + gaps.reduce((a, b) => a + b, 0) / gaps.length).toFixed(4)}`);
    console.log(`ours / exact objective, worst: ${(1 + Math.max(...gaps)).toFixed(4)}`);
    console.log(`ours equal to exact (within 1e-6): ${gaps.filter((g) => g < 1e-6).length} of ${gaps.length}`);
    console.log(`exact solve ms, mean: ${(exactMs / gaps.length).toFixed(1)}`);
    console.log(`ours solve ms, mean: ${(heuristicMs / gaps.length).toFixed(2)}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
