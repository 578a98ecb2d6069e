// Contract Net (announce, bid, award): what an agent bids from its own profile,
// which bids are admissible, and which one the manager awards. Pure.
import { DEFAULT_LATENESS_PENALTY_PER_S, carbonG, durationS, energyWh, incapability, lowestCarbonStart } from './model';
import type { AllocationAgent, AllocationTask } from './types';

/** Agents invited to bid on one announcement at most (the best by the manager's own estimate); bounds the bids one attempt holds. */
export const CONTRACT_NET_INVITED = 16;

/** An agent's offer for one task: when it expects to finish and what the run costs. */
export interface TaskBid {
  agentId: string;
  /** Ms since the epoch. */
  finishAtMs: number;
  /** Expected energy, Wh. */
  energyWh: number;
  /** Expected carbon, g CO2. */
  carbonG: number;
}

/** Bids that carry numbers a run could have: finite, non-negative, at most a year out. */
export function bidProblem(bid: Omit<TaskBid, 'agentId'>, nowMs: number): string | undefined {
  if (!Number.isFinite(bid.energyWh) || bid.energyWh < 0) return 'energyWh';
  if (!Number.isFinite(bid.carbonG) || bid.carbonG < 0) return 'carbonG';
  if (!Number.isFinite(bid.finishAtMs) || bid.finishAtMs > nowMs + 365 * 86_400_000) return 'finishAtMs';
  return undefined;
}

/** The bid that costs least: carbon (g) plus the lateness penalty per second past the deadline; then less energy, then agent id. */
export function awardBid(bids: readonly TaskBid[], deadlineMs: number, latenessPenaltyPerS = DEFAULT_LATENESS_PENALTY_PER_S): TaskBid | undefined {
  const cost = (bid: TaskBid) => bid.carbonG + (Math.max(0, bid.finishAtMs - deadlineMs) / 1000) * latenessPenaltyPerS;
  let best: TaskBid | undefined;
  for (const bid of bids) {
    if (!best) {
      best = bid;
      continue;
    }
    const delta = cost(bid) - cost(best);
    if (delta < -1e-9 || (Math.abs(delta) <= 1e-9 && (bid.energyWh < best.energyWh || (bid.energyWh === best.energyWh && bid.agentId < best.agentId)))) best = bid;
  }
  return best;
}

/**
 * The bid an agent makes from its declared profile: it starts once its own queue
 * drains (busyUntilMs), a deferrable task in its lowest-carbon window that still
 * meets the deadline; undefined when it cannot run the task at all.
 */
export function profileBid(task: AllocationTask, agent: AllocationAgent, nowMs: number, busyUntilMs = nowMs): TaskBid | undefined {
  if (incapability(task, agent)) return undefined;
  const runMs = durationS(task, agent) * 1000;
  const earliest = Math.max(nowMs, busyUntilMs);
  const start = task.deferrable ? lowestCarbonStart(agent.energy, earliest, Math.max(earliest, task.deadlineMs - runMs), runMs) : earliest;
  const energy = energyWh(task, agent);
  if (agent.energy.budgetWh !== undefined && energy > agent.energy.budgetWh) return undefined;
  return { agentId: agent.agentId, finishAtMs: start + runMs, energyWh: energy, carbonG: carbonG(task, agent, start) };
}
