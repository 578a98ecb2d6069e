// Delegated tasks as the workflows, the API and the SDK see them.
import type { AgentResources } from './agents';
import { swarmTopics } from './topics';
import type { AllocationAgent, AllocationDecision, TaskRequirements } from './allocation/types';

/**
 * HELD: placed on an agent but kept by the manager until its planned start (a
 * deferrable task waiting for its lower-carbon window), so that rebalancing can
 * still move it; ASSIGNED: in the agent's inbox.
 */
export const TASK_STATUSES = ['QUEUED', 'HELD', 'ASSIGNED', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type TaskAllocationMode = 'central' | 'contract-net';

export interface TaskSpec {
  taskId: string;
  swarmId: string;
  kind: string;
  /** Small JSON input, or { digest } of a blob for a large one. */
  input: unknown;
  requirements: TaskRequirements;
  /** Work units on a reference agent. */
  estimatedWork: number;
  /** Ms since the epoch. */
  deadlineMs: number;
  priority?: number;
  deferrable?: boolean;
  allocation?: TaskAllocationMode;
}

/** Why an attempt ended without a result. */
export type AttemptEnd = 'declined' | 'failed' | 'timed-out' | 'lost' | 'moved' | 'cancelled';

export interface TaskAttempt {
  attempt: number;
  agentId: string;
  /** ISO instants. */
  assignedAt: string;
  endedAt?: string;
  outcome?: 'succeeded' | AttemptEnd;
  reason?: string;
  /** Expected cost of this placement (under Contract Net: the winning bid's). */
  expected?: Pick<AllocationDecision, 'energyWh' | 'carbonG' | 'slackS'>;
  /** Contract Net: bids received for this attempt. */
  bids?: number;
}

export interface TaskState {
  taskId: string;
  swarmId: string;
  kind: string;
  status: TaskStatus;
  agentId?: string;
  attempts: TaskAttempt[];
  submittedAt: string;
  finishedAt?: string;
  deadlineMs: number;
  /** Energy and carbon charged: the expected figures of the attempt that succeeded. */
  energyWh?: number;
  carbonG?: number;
  result?: unknown;
  failureReason?: string;
  /** Outcomes refused because their (taskId, attempt) was already settled: redeliveries and late answers. */
  duplicatesDiscarded: number;
  /** Contract Net: bids dropped (late, for another attempt, from an agent not invited, or a second one). */
  bidsRefused?: number;
  /** HELD: the planned start (ISO instant) at which the task goes to its agent. */
  heldUntil?: string;
  /** Times a HELD task was placed again by rebalancing before it went to an agent. */
  replans?: number;
}

/** What the manager puts in an agent's inbox to give it a task. */
export interface TaskAssignmentMessage {
  type: 'task';
  taskId: string;
  attempt: number;
  swarmId: string;
  kind: string;
  input: unknown;
  deadlineMs: number;
  /** Where the agent answers (the swarm's task-results topic). */
  replyTopic: string;
}

/** The manager's note on the swarm's tasks topic that an attempt went to an agent (read by the analytics). */
export interface TaskDispatchedMessage {
  type: 'task-dispatched';
  taskId: string;
  attempt: number;
  kind: string;
  agentId: string;
  /** ms since the epoch, manager clock. */
  dispatchedAt: number;
  /** ms since the epoch. */
  deadlineMs: number;
}

/**
 * The manager takes back a task it put in the agent's inbox (rebalancing moved it
 * off an overloaded agent): an agent that has not started that attempt skips it.
 */
export interface TaskWithdrawalMessage {
  type: 'task-withdrawn';
  taskId: string;
  attempt: number;
  reason: string;
}

/** Contract Net: the manager's call for bids, put in the inbox of each invited agent. */
export interface TaskAnnouncementMessage {
  type: 'task-announcement';
  taskId: string;
  attempt: number;
  swarmId: string;
  kind: string;
  requirements: TaskRequirements;
  estimatedWork: number;
  deadlineMs: number;
  deferrable?: boolean;
  /** Bids that reach the manager after this instant (ms since the epoch) are not considered. */
  bidDeadlineMs: number;
  /** Where the agent bids (the swarm's task-results topic). */
  replyTopic: string;
}

/** Contract Net: an agent's bid, on the swarm's task-results topic, signed with its key. */
export interface TaskBidMessage {
  type: 'task-bid';
  taskId: string;
  attempt: number;
  agentId: string;
  /** When the agent expects to finish, ms since the epoch. */
  finishAtMs: number;
  /** Expected energy, Wh, and carbon, g CO2, of its run. */
  energyWh: number;
  carbonG: number;
}

/** What an agent publishes on the swarm's task-results topic, signed with its key. */
export interface TaskOutcomeMessage {
  type: 'task-outcome';
  taskId: string;
  attempt: number;
  agentId: string;
  outcome: 'succeeded' | 'failed' | 'declined' | 'progress';
  result?: unknown;
  reason?: string;
  /** 0..1, with outcome progress. */
  progress?: number;
}

/** Task ids are workflow ids (task-<taskId>) and message fields. */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Reference figures for an agent that declared no energy profile: 1 work unit/s, 20 W idle, 100 W busy, 400 gCO2/kWh. */
export const DEFAULT_AGENT_POWER = { speed: 1, idleWatts: 20, busyWatts: 100, carbonGPerKWh: 400 } as const;

/** The allocation view of a registered agent from its declared resources. */
export function allocationAgent(agentId: string, capabilities: string[], resources: AgentResources | undefined): AllocationAgent {
  const energy = resources?.energy;
  return {
    agentId,
    capabilities,
    capacity: { cpu: resources?.cpu ?? 1, memoryMb: resources?.memoryMb ?? 1024, gpu: resources?.gpu },
    speed: energy?.speed ?? DEFAULT_AGENT_POWER.speed,
    energy: {
      idleWatts: energy?.idleWatts ?? DEFAULT_AGENT_POWER.idleWatts,
      busyWatts: energy?.busyWatts ?? DEFAULT_AGENT_POWER.busyWatts,
      source: energy?.source ?? 'grid',
      carbonGPerKWh: energy?.carbonGPerKWh ?? DEFAULT_AGENT_POWER.carbonGPerKWh,
      forecast: energy?.forecast,
      budgetWh: energy?.budgetWh,
    },
  };
}

/** The topic a swarm's agents answer tasks on. */
export const taskResultsTopic = (swarmId: string): string => swarmTopics(swarmId).taskResults;

/**
 * Work placed on each agent and not yet settled, seconds, so that placing one
 * task at a time still sees each agent's queue (an agent's availableAtMs is
 * now plus its queued seconds). Kept per worker process.
 */
export class AssignedWork {
  private readonly queued = new Map<string, Map<string, number>>();

  assign(swarmId: string, agentId: string, taskId: string, seconds: number): void {
    const key = `${swarmId}\n${agentId}`;
    let tasks = this.queued.get(key);
    if (!tasks) this.queued.set(key, (tasks = new Map()));
    tasks.set(taskId, seconds);
  }

  release(swarmId: string, agentId: string, taskId: string): void {
    const key = `${swarmId}\n${agentId}`;
    const tasks = this.queued.get(key);
    tasks?.delete(taskId);
    if (tasks?.size === 0) this.queued.delete(key);
  }

  /** Seconds of placed, unsettled work on the agent. */
  queuedS(swarmId: string, agentId: string): number {
    let total = 0;
    for (const seconds of this.queued.get(`${swarmId}\n${agentId}`)?.values() ?? []) total += seconds;
    return total;
  }
}
