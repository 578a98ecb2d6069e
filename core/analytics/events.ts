// The swarm events the analytics read, as they travel on the swarm's topics (api/asyncapi.yaml),
// and their parser. The Flink job (analytics/) parses the same JSON by the same rules.

/** Which topic of the swarm an event came from. */
export type AnalyticsSource = 'heartbeats' | 'tasks' | 'task-results' | 'rounds' | 'roster' | 'control' | 'ballots';

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

/** The manager dispatched one attempt of a task to an agent (swarm/<id>/tasks, type task-dispatched). */
export interface TaskDispatchedEvent {
  kind: 'task-dispatched';
  taskId: string;
  attempt: number;
  taskKind: string;
  agentId: string;
  /** Event time: when the manager dispatched it, ms since the epoch. */
  at: number;
  deadlineAt: number;
}

/** An agent's signed answer to one attempt (swarm/<id>/task-results, type task-outcome), succeeded or failed. */
export interface TaskOutcomeEvent {
  kind: 'task-outcome';
  taskId: string;
  attempt: number;
  agentId: string;
  /** Event time: the message's sentAt property (agent clock), ms since the epoch. */
  at: number;
  outcome: 'succeeded' | 'failed';
}

/** A dispatch joined with its outcome (core/analytics/task-join.ts): what task latency is computed from. */
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
  /** The round's collection attempt: (jobId, round, attempt) names one closing (core/analytics/dedup.ts). */
  attempt: number;
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
  /** The collection attempt that refused it; with seq it names one refusal (core/analytics/dedup.ts). */
  attempt?: number;
  /** This refusal's rank among the attempt's refusals of the same agent for the same reason, from 1. */
  seq?: number;
  /** The refused update's message id on its job's updates topic (asynchronous jobs): names the refusal without attempt and seq. */
  updateId?: string;
}

/** A decision's voting opened (swarm/<id>/control, type decision-proposal): how many agents may vote. */
export interface DecisionOpenedEvent {
  kind: 'decision-opened';
  decisionId: string;
  /** Agents in the decision's power snapshot. */
  eligible: number;
  /** Event time: opensAt. */
  at: number;
}

/** A decision's voting closed or was cancelled (swarm/<id>/control, type decision-outcome): its turnout state is dropped. */
export interface DecisionClosedEvent {
  kind: 'decision-closed';
  decisionId: string;
  /** Event time: closedAt. */
  at: number;
}

/** One signed ballot (swarm/<id>/decision-<decisionId>); a later one of the same agent is a vote change. */
export interface BallotEvent {
  kind: 'ballot';
  decisionId: string;
  agentId: string;
  /** Event time: castAt (agent clock). */
  at: number;
}

export type SwarmEvent = HeartbeatEvent | TaskCompletedEvent | RoundClosedEvent | UpdateRejectedEvent | DecisionOpenedEvent | DecisionClosedEvent | BallotEvent;

/** An agent id became the swarm's (swarm/<id>/roster, type agent-registered): its events count from then on. */
export interface AgentRegisteredEvent {
  kind: 'agent-registered';
  agentId: string;
  at: number;
}

/** What the parser yields: the windowed events, the two halves of a task the join pairs, and the roster. */
export type ParsedEvent = SwarmEvent | TaskDispatchedEvent | TaskOutcomeEvent | AgentRegisteredEvent;

/** Why an event was not used: bad events are counted and skipped; ignored ones are other messages of the topic. */
export type ParseOutcome = { ok: true; event: ParsedEvent } | { ok: false; reason: 'malformed' | 'invalid' | 'ignored' };

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** core/tasks.ts TASK_ID_PATTERN. */
const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DIGITS = /^[0-9]{1,16}$/;
const MAX_TIME = 8.64e15;

type Json = Record<string, unknown>;
const isId = (v: unknown): v is string => typeof v === 'string' && ID.test(v);
const isTime = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_TIME;
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
/** 1..2^31-1, the Flink job's int. */
const isAttempt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 2_147_483_647;
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

function taskDispatched(j: Json): ParsedEvent | undefined {
  const { taskId, attempt, kind, agentId, dispatchedAt, deadlineMs } = j;
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId) || !isAttempt(attempt)) return undefined;
  if (typeof kind !== 'string' || kind.length === 0 || kind.length > 128 || !isId(agentId)) return undefined;
  if (!isTime(dispatchedAt) || !isTime(deadlineMs)) return undefined;
  return { kind: 'task-dispatched', taskId, attempt, taskKind: kind, agentId, at: dispatchedAt, deadlineAt: deadlineMs };
}

function taskOutcome(j: Json, properties: Record<string, string>): ParsedEvent | undefined {
  const { taskId, attempt, agentId, outcome } = j;
  const sentAt = properties.sentAt;
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId) || !isAttempt(attempt)) return undefined;
  if (!isId(agentId) || typeof sentAt !== 'string' || !DIGITS.test(sentAt) || !isTime(Number(sentAt))) return undefined;
  if (outcome !== 'succeeded' && outcome !== 'failed') return undefined;
  return { kind: 'task-outcome', taskId, attempt, agentId, at: Number(sentAt), outcome };
}

function roundClosed(j: Json): SwarmEvent | undefined {
  const { jobId, round, attempt, closedAt, participants, stragglers } = j;
  if (!isId(jobId) || !Number.isInteger(round) || (round as number) < 1 || !isAttempt(attempt) || !isTime(closedAt)) return undefined;
  if (!Array.isArray(participants) || !participants.every(isId)) return undefined;
  if (!Array.isArray(stragglers) || !stragglers.every(isId)) return undefined;
  return { kind: 'round-closed', jobId, round: round as number, attempt, at: closedAt, participants, stragglers };
}

function updateRejected(j: Json): SwarmEvent | undefined {
  const { jobId, round, agentId, reason, rejectedAt, attempt, seq, updateId } = j;
  if (!isId(jobId) || !Number.isInteger(round) || (round as number) < 1 || !isId(agentId)) return undefined;
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 64 || !isTime(rejectedAt)) return undefined;
  if (!optional(attempt, isAttempt) || !optional(seq, isAttempt)) return undefined;
  if (!optional(updateId, (v) => typeof v === 'string' && v.length > 0 && v.length <= 256)) return undefined;
  return {
    kind: 'update-rejected',
    jobId,
    round: round as number,
    agentId,
    reason,
    at: rejectedAt,
    ...(attempt !== undefined && { attempt: attempt as number }),
    ...(seq !== undefined && { seq: seq as number }),
    ...(updateId !== undefined && { updateId: updateId as string }),
  };
}

function decisionOpened(j: Json): SwarmEvent | undefined {
  const { decisionId, opensAt, voters } = j;
  if (!isId(decisionId) || !isTime(opensAt) || !Number.isInteger(voters) || (voters as number) < 0 || (voters as number) > 2_147_483_647) return undefined;
  return { kind: 'decision-opened', decisionId, eligible: voters as number, at: opensAt };
}

function decisionClosed(j: Json): SwarmEvent | undefined {
  const { decisionId, closedAt } = j;
  if (!isId(decisionId) || !isTime(closedAt)) return undefined;
  return { kind: 'decision-closed', decisionId, at: closedAt };
}

function ballot(j: Json): SwarmEvent | undefined {
  const { decisionId, agentId, castAt } = j;
  if (!isId(decisionId) || !isId(agentId) || !isTime(castAt)) return undefined;
  return { kind: 'ballot', decisionId, agentId, at: castAt };
}

/**
 * Parses one message of a swarm topic: its payload (UTF-8 JSON) and, for task outcomes, its
 * sentAt property (the agent's proof header). Heartbeats and ballots have no `type` field; task and round
 * events are told apart by theirs, and a message of another type is ignored (the topics carry
 * more than the analytics read: bids, declines and progress reports on task-results).
 */
export function parseSwarmEvent(source: AnalyticsSource, text: string, properties: Record<string, string> = {}): ParseOutcome {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, reason: 'malformed' };
  const j = json as Json;
  let event: ParsedEvent | undefined;
  if (source === 'heartbeats') event = heartbeat(j);
  else if (source === 'tasks') {
    if (j.type !== 'task-dispatched') return { ok: false, reason: 'ignored' };
    event = taskDispatched(j);
  } else if (source === 'roster') {
    if (j.type !== 'agent-registered') return { ok: false, reason: 'ignored' };
    event = isId(j.agentId) && isTime(j.registeredAt) ? { kind: 'agent-registered', agentId: j.agentId, at: j.registeredAt } : undefined;
  } else if (source === 'task-results') {
    if (j.type !== 'task-outcome' || j.outcome === 'declined' || j.outcome === 'progress') return { ok: false, reason: 'ignored' };
    event = taskOutcome(j, properties);
  } else if (source === 'control') {
    if (j.type === 'decision-proposal') event = decisionOpened(j);
    else if (j.type === 'decision-outcome') event = decisionClosed(j);
    else return { ok: false, reason: 'ignored' };
  } else if (source === 'ballots') {
    event = ballot(j);
  } else {
    if (j.type === 'round-closed') event = roundClosed(j);
    else if (j.type === 'update-rejected') event = updateRejected(j);
    else return { ok: false, reason: 'ignored' };
  }
  return event ? { ok: true, event } : { ok: false, reason: 'invalid' };
}

/** The ballot topic's decision id when a control message opens a decision (the embedded runtime subscribes to it). */
export function openedDecision(text: string): string | undefined {
  const parsed = parseSwarmEvent('control', text);
  return parsed.ok && parsed.event.kind === 'decision-opened' ? parsed.event.decisionId : undefined;
}

/** The decision whose voting a control message closes (the embedded runtime then releases its ballot topic). */
export function closedDecision(text: string): string | undefined {
  const parsed = parseSwarmEvent('control', text);
  return parsed.ok && parsed.event.kind === 'decision-closed' ? parsed.event.decisionId : undefined;
}
