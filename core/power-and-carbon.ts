// Two figures of the energy dashboard and the carbon alert, from data QP-Manager
// already holds: the power its running tasks draw (their agents' declared profiles,
// as the allocator charges them) and the carbon budget its pools' energy budgets
// stand for. Pure.
import type { AgentResources } from './agents';
import { DEFAULT_AGENT_POWER } from './tasks';
import { carbonIntensityAt, type CarbonInput } from './autoscaling/pool';
import type { AutoscalingPolicy } from './autoscaling/policy';

const SECONDS_PER_DAY = 86_400;

/**
 * Power drawn by running tasks, watts: each task draws its agent's busy power (the figure the
 * allocator charges a task's energy at, DEFAULT_AGENT_POWER where the agent declared none or is
 * not known), so the energy counter is this power integrated over the tasks' run times.
 */
export function runningTasksPowerWatts(agentIds: readonly string[], resourcesOf: (agentId: string) => AgentResources | undefined): number {
  let watts = 0;
  for (const agentId of agentIds) watts += resourcesOf(agentId)?.energy?.busyWatts ?? DEFAULT_AGENT_POWER.busyWatts;
  return watts;
}

/**
 * Grams of CO2 a day the pools' energy budgets allow: each budgeted pool's budget (Wh per window)
 * scaled to a day, at the pool's carbon intensity now (gCO2/kWh; the reference 400 g/kWh of
 * DEFAULT_AGENT_POWER while it has no fresh carbon input). Pools without an energy budget add nothing.
 */
export function poolsCarbonBudgetGramsPerDay(pools: readonly { policy: AutoscalingPolicy; carbon?: CarbonInput }[], nowMs: number): number {
  let grams = 0;
  for (const { policy, carbon } of pools) {
    if (!policy.energy) continue;
    const whPerDay = (policy.energy.budgetWh * SECONDS_PER_DAY) / policy.energy.windowSeconds;
    const intensity = carbonIntensityAt(carbon, nowMs) ?? DEFAULT_AGENT_POWER.carbonGPerKWh;
    grams += (whPerDay / 1000) * intensity;
  }
  return grams;
}
