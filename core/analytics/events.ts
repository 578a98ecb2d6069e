// The swarm events the analytics read, as they travel on the swarm's topics (api/asyncapi.yaml),
// and their parser. The Flink job (analytics/) parses the same JSON by the same rules.

/** Which topic of the swarm an event came from. */
export type AnalyticsSource = 'heartbeats' | 'tasks' | 'rounds';

export interface HeartbeatEvent {
  kind: 'heartbeat';
  agentId: string;
  /** Event time: ms since the epoch, agent clock. */
  at: number;
  load?: number;
  /** Energy the agent drew since its previous heartbeat, watt-hours. */
  energyUsedWh?: number;
  /** Carbon intensity of the agent's grid, grams CO2e per kWh. */
  carbonIntensityGPerKWh?: number;
}

export interface TaskCompletedEvent {
  kind: 'task-completed';
  taskId: string;
  taskKind: string;
  agentId: string;
  dispatchedAt: number;
  /** Event time. */
  at: number;
  deadlineAt?: number;
  outcome: 'succeeded' | 'failed';
}

export interface RoundClosedEvent {
  kind: 'round-closed';
  jobId: string;
  round: number;
  /** Event time. */
  at: number;
  participants: string[];
  stragglers: string[];
}

export interface UpdateRejectedEvent {
  kind: 'update-rejected';
  jobId: string;
  round: number;
  agentId: string;
  reason: string;
  /** Event time. */
  at: number;
}

export type SwarmEvent = HeartbeatEvent | TaskCompletedEvent | RoundClosedEvent | UpdateRejectedEvent;

/** Why an event was not used: bad events are counted and skipped; ignored ones are other messages of the topic. */
export type ParseOutcome = { ok: true; event: SwarmEvent } | { ok: false; reason: 'malformed' | 'invalid' | 'ignored' };

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_TIME = 8.64e15;

type Json = Record<string, unknown>;
const isId = (v: unknown): v is string => typeof v === 'string' && ID.test(v);
const isTime = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIME;
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);

function heartbeat(j: Json): SwarmEvent | undefined {
  const { agentId, sentAt, load, energyUsedWh, carbonIntensityGPerKWh } = j;
  if (!isId(agentId) || !isTime(sentAt)) return undefined;
  if (!optional(load, (v) => isNonNegative(v) && (v as number) <= 1)) return undefined;
  if (!optional(energyUsedWh, isNonNegative) || !optional(carbonIntensityGPerKWh, isNonNegative)) return undefined;
  return {
    kind: 'heartbeat',
    agentId,
    at: sentAt,
    ...(load !== undefined && { load: load as number }),
    ...(energyUsedWh !== undefined && { energyUsedWh: energyUsedWh as number }),
    ...(carbonIntensityGPerKWh !== undefined && { carbonIntensityGPerKWh: carbonIntensityGPerKWh as number }),
  };
}

function taskCompleted(j: Json): SwarmEvent | undefined {
  const { taskId, kind, agentId, dispatchedAt, completedAt, deadlineAt, outcome } = j;
  if (!isId(taskId) || typeof kind !== 'string' || !ID.test(kind) || !isId(agentId)) return undefined;
  if (!isTime(dispatchedAt) || !isTime(completedAt) || completedAt < dispatchedAt) return undefined;
  if (!optional(deadlineAt, isTime) || (outcome !== 'succeeded' && outcome !== 'failed')) return undefined;
  return {
    kind: 'task-completed',
    taskId,
    taskKind: kind,
    agentId,
    dispatchedAt,
    at: completedAt,
    ...(deadlineAt !== undefined && { deadlineAt: deadlineAt as number }),
    outcome,
  };
}

function roundClosed(j: Json): SwarmEvent | undefined {
  const { jobId, round, closedAt, participants, stragglers } = j;
  if (!isId(jobId) || !Number.isInteger(round) || (round as number) < 1 || !isTime(closedAt)) return undefined;
  if (!Array.isArray(participants) || !participants.every(isId)) return undefined;
  if (!Array.isArray(stragglers) || !stragglers.every(isId)) return undefined;
  return { kind: 'round-closed', jobId, round: round as number, at: closedAt, participants, stragglers };
}

function updateRejected(j: Json): SwarmEvent | undefined {
  const { jobId, round, agentId, reason, rejectedAt } = j;
  if (!isId(jobId) || !Number.isInteger(round) || (round as number) < 1 || !isId(agentId)) return undefined;
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 64 || !isTime(rejectedAt)) return undefined;
  return { kind: 'update-rejected', jobId, round: round as number, agentId, reason, at: rejectedAt };
}

/**
 * Parses one message payload (UTF-8 JSON) of a swarm topic. Heartbeats have no `type` field;
 * task and round events are told apart by theirs, and a message of another type is ignored
 * (the topics carry more than the analytics read).
 */
export function parseSwarmEvent(source: AnalyticsSource, text: string): ParseOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, reason: 'malformed' };
  const j = json as Json;
  let event: SwarmEvent | undefined;
  if (source === 'heartbeats') event = heartbeat(j);
  else if (source === 'tasks') {
    if (j.type !== 'task-completed') return { ok: false, reason: 'ignored' };
    event = taskCompleted(j);
  } else {
    if (j.type === 'round-closed') event = roundClosed(j);
    else if (j.type === 'update-rejected') event = updateRejected(j);
    else return { ok: false, reason: 'ignored' };
  }
  return event ? { ok: true, event } : { ok: false, reason: 'invalid' };
}
