// The API's sources of qp_manager_task_power_watts and qp_manager_carbon_budget_grams,
// read at scrape time (api/metrics.ts caches them): the running tasks of this task queue
// with their agents' declared profiles, and this task queue's pools' energy budgets.
import type { AgentDirectory } from '../adapters/ports';
import type { AgentResources } from '../core/agents';
import { poolsCarbonBudgetGramsPerDay, runningTasksPowerWatts } from '../core/power-and-carbon';
import type { PoolService } from './pool-service';
import type { TaskService } from './task-service';

/** Running tasks read per scrape at most; beyond them the power is a lower bound (one page per 1,000). */
export const POWER_TASKS_MAX = 10_000;
const PAGE = 1_000;

export function powerAndCarbon(deps: { tasks: TaskService; pools: PoolService; directory: AgentDirectory }) {
  return {
    /** Watts drawn by this task queue's ASSIGNED tasks, each at its agent's busy power. */
    async runningTaskPowerWatts(): Promise<number> {
      const agentsBySwarm = new Map<string, string[]>();
      let pageToken: string | undefined;
      let read = 0;
      do {
        const page = await deps.tasks.list({ status: 'ASSIGNED', pageSize: PAGE, pageToken });
        for (const task of page.tasks) {
          if (!task.agentId) continue;
          const agents = agentsBySwarm.get(task.swarmId) ?? [];
          agents.push(task.agentId);
          agentsBySwarm.set(task.swarmId, agents);
        }
        read += page.tasks.length;
        pageToken = page.nextPageToken;
      } while (pageToken && read < POWER_TASKS_MAX);
      let watts = 0;
      for (const [swarmId, agentIds] of agentsBySwarm) {
        // An agent that is not ACTIVE (LOST while its task runs) is charged the default power.
        const profiles = new Map<string, AgentResources | undefined>((await deps.directory.listActive(swarmId)).map((a) => [a.agentId, a.resources]));
        watts += runningTasksPowerWatts(agentIds, (agentId) => profiles.get(agentId));
      }
      return watts;
    },
    /** Grams of CO2 a day this task queue's pools' energy budgets allow at their carbon intensity now. */
    async carbonBudgetGrams(): Promise<number> {
      return poolsCarbonBudgetGramsPerDay(await deps.pools.budgetedPools(), Date.now());
    },
  };
}
