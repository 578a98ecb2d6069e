// Shapes of an allocation problem: tasks with requirements and deadlines,
// agents with capacity, speed and energy/carbon profiles, and the plan that
// assigns one to the other. Times are milliseconds since the epoch; durations
// seconds; power watts; energy watt-hours; carbon grams of CO2.

export const POWER_SOURCES = ['grid', 'solar', 'wind', 'battery', 'mixed', 'other'] as const;
export type PowerSource = (typeof POWER_SOURCES)[number];

/** One point of a carbon-intensity forecast: from atMs on (until the next point), gCO2/kWh. */
export interface CarbonForecastPoint {
  atMs: number;
  gPerKWh: number;
}

/** What an agent declares about its power draw and supply. */
export interface AgentEnergyProfile {
  /** Power drawn while idle, watts. */
  idleWatts: number;
  /** Power drawn while running a task, watts. */
  busyWatts: number;
  source: PowerSource;
  /** Carbon intensity of its supply now, gCO2/kWh. */
  carbonGPerKWh: number;
  /** Piecewise-constant forecast, ascending by atMs; the current intensity applies before its first point. */
  forecast?: CarbonForecastPoint[];
  /** Energy the agent may still spend on tasks, Wh; unlimited when absent. */
  budgetWh?: number;
}

export interface TaskRequirements {
  /** Cores. */
  cpu?: number;
  memoryMb?: number;
  gpu?: number;
  capabilities?: string[];
}

export interface AgentCapacity {
  cpu: number;
  memoryMb: number;
  gpu?: number;
}

export interface AllocationAgent {
  agentId: string;
  capabilities: string[];
  capacity: AgentCapacity;
  /** Work units per second (a reference agent does 1). */
  speed: number;
  energy: AgentEnergyProfile;
  /** When its queue of work already accepted drains (ms since the epoch); default: the plan's now. */
  availableAtMs?: number;
}

export interface AllocationTask {
  taskId: string;
  requirements: TaskRequirements;
  /** Work units on a reference agent (speed 1: seconds). */
  estimatedWork: number;
  /** Ms since the epoch. */
  deadlineMs: number;
  /** Higher runs first among equal deadlines; default 0. */
  priority?: number;
  /** May start later than it could, to run in a lower-carbon window, while its deadline allows. */
  deferrable?: boolean;
}

export type AllocationObjective = 'carbon' | 'energy';

export interface AllocationOptions {
  objective: AllocationObjective;
  /** Ms since the epoch: no task starts before it. */
  nowMs: number;
  /** Cost of one second of lateness, in the objective's unit (g or Wh); large makes deadlines hard where feasible. */
  latenessPenaltyPerS?: number;
  /** Plan deferrable tasks into lower-carbon windows (temporal shifting). Default true. */
  shift?: boolean;
}

/** Where and when one task runs, and what it is expected to cost. */
export interface AllocationDecision {
  taskId: string;
  agentId: string;
  startMs: number;
  finishMs: number;
  /** Expected energy, Wh. */
  energyWh: number;
  /** Expected carbon, g CO2. */
  carbonG: number;
  /** Deadline minus finish, seconds (negative: late). */
  slackS: number;
}

export type UnassignableReason = 'no-capable-agent' | 'no-capacity' | 'energy-budget';

export interface AllocationPlan {
  decisions: AllocationDecision[];
  unassigned: { taskId: string; reason: UnassignableReason }[];
  totals: PlanTotals;
}

export interface PlanTotals {
  energyWh: number;
  carbonG: number;
  deadlineMisses: number;
  /** Sum of lateness over late tasks, seconds. */
  latenessS: number;
  /** Last finish minus now, seconds. */
  makespanS: number;
}
