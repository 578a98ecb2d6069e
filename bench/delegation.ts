// Delegation benchmark, one figure per line, side by side in one run:
//   allocation of a seeded workload (default 1,000 agents x 10,000 tasks): energy,
//   carbon, deadline misses, makespan and solve time of ours (greedy + local search,
//   carbon objective, temporal shifting) vs round-robin, least-loaded and
//   carbon-unaware earliest-finish, with ratios to earliest-finish.
// npm run bench:delegation [-- --agents 1000 --tasks 10000 --seed 12]
import {
  BASELINES,
  allocateHeuristic,
  type AllocationOptions,
  type AllocationPlan,
  type BaselineName,
} from '../core/allocation';
import { delegationWorkload } from './support/delegation-workload';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function main(): void {
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
}

main();
