// Carbon-unaware allocators to compare with: round-robin, least-loaded and
// earliest-finish. They see the same tasks (in EDF order), respect the same
// capabilities, capacity and energy budgets, and run their tasks as soon as
// the agent is free (no temporal shifting).
import { durationS, edfCompare, energyWh, incapability, planFromAssignment } from './model';
import type { AllocationAgent, AllocationOptions, AllocationPlan, AllocationTask, UnassignableReason } from './types';

export type BaselineName = 'round-robin' | 'least-loaded' | 'earliest-finish';

interface Slot {
  agent: AllocationAgent;
  freeAtMs: number;
  spentWh: number;
}

/** A carbon-unaware plan: pick(task, capable slots in agent order) chooses the agent. */
function allocateBy(
  tasks: AllocationTask[],
  agents: AllocationAgent[],
  options: AllocationOptions,
  pick: (task: AllocationTask, slots: Slot[], capable: (slot: Slot) => boolean) => Slot | undefined,
): AllocationPlan {
  const slots = agents.map((agent) => ({ agent, freeAtMs: Math.max(options.nowMs, agent.availableAtMs ?? options.nowMs), spentWh: 0 }));
  const assignment = new Map<string, string>();
  const unassigned: { taskId: string; reason: UnassignableReason }[] = [];
  for (const task of [...tasks].sort(edfCompare)) {
    let reason: UnassignableReason = 'no-capable-agent';
    const capable = (slot: Slot): boolean => {
      const why = incapability(task, slot.agent);
      if (why) {
        if (why === 'no-capacity') reason = why;
        return false;
      }
      const budget = slot.agent.energy.budgetWh;
      if (budget !== undefined && slot.spentWh + energyWh(task, slot.agent) > budget) {
        reason = 'energy-budget';
        return false;
      }
      return true;
    };
    const slot = pick(task, slots, capable);
    if (!slot) {
      unassigned.push({ taskId: task.taskId, reason });
      continue;
    }
    slot.freeAtMs += durationS(task, slot.agent) * 1000;
    slot.spentWh += energyWh(task, slot.agent);
    assignment.set(task.taskId, slot.agent.agentId);
  }
  return planFromAssignment(tasks, agents, assignment, unassigned, { nowMs: options.nowMs, shift: false });
}

/** Round-robin: the next capable agent after the last one used. */
export function allocateRoundRobin(tasks: AllocationTask[], agents: AllocationAgent[], options: AllocationOptions): AllocationPlan {
  let next = 0;
  return allocateBy(tasks, agents, options, (_task, slots, capable) => {
    for (let k = 0; k < slots.length; k++) {
      const i = (next + k) % slots.length;
      if (capable(slots[i])) {
        next = i + 1;
        return slots[i];
      }
    }
    return undefined;
  });
}

/** Least-loaded: the capable agent whose queue drains first (ignores the task's own duration there). */
export function allocateLeastLoaded(tasks: AllocationTask[], agents: AllocationAgent[], options: AllocationOptions): AllocationPlan {
  return allocateBy(tasks, agents, options, (_task, slots, capable) => {
    let best: Slot | undefined;
    for (const slot of slots) if ((!best || slot.freeAtMs < best.freeAtMs) && capable(slot)) best = slot;
    return best;
  });
}

/** Earliest-finish: the capable agent on which the task finishes first (speed-aware, carbon-unaware). */
export function allocateEarliestFinish(tasks: AllocationTask[], agents: AllocationAgent[], options: AllocationOptions): AllocationPlan {
  return allocateBy(tasks, agents, options, (task, slots, capable) => {
    let best: Slot | undefined;
    let bestFinish = Infinity;
    for (const slot of slots) {
      const finish = slot.freeAtMs + durationS(task, slot.agent) * 1000;
      if (finish < bestFinish && capable(slot)) {
        best = slot;
        bestFinish = finish;
      }
    }
    return best;
  });
}

export const BASELINES: Record<BaselineName, typeof allocateRoundRobin> = {
  'round-robin': allocateRoundRobin,
  'least-loaded': allocateLeastLoaded,
  'earliest-finish': allocateEarliestFinish,
};
