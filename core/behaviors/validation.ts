// Validation of behavior reports from the topic (any producer) and the API.
import { ID_PATTERN } from '../agents';
import type { BehaviorReport, RejectionReason } from './types';

/** Episode ids: safe in vector-store ids and filter expressions. */
export const EPISODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Largest accepted context, in bytes of JSON. */
export const MAX_CONTEXT_BYTES = 2048;

/** A refusal names the report's field at fault, when one is (`undefined` for the report as a whole). */
export type Validated<T> = { ok: true; value: T } | { ok: false; reason: RejectionReason; message: string; field?: string };

const reject = (
  reason: RejectionReason,
  message: string,
  field?: string,
): { ok: false; reason: RejectionReason; message: string; field?: string } => ({ ok: false, reason, message, ...(field ? { field } : {}) });

/** The stored id of a behavior: one per agent and episode, so a re-sent report replaces itself. */
export function behaviorId(agentId: string, episodeId: string): string {
  return `${agentId}:${episodeId}`;
}

/** Checks shape, dimension and finiteness of a report; says why it is refused. */
export function validateBehaviorReport(raw: unknown, dimension: number): Validated<BehaviorReport> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return reject('malformed', 'a report is a JSON object');
  const r = raw as Record<string, unknown>;
  if (typeof r.agentId !== 'string' || !ID_PATTERN.test(r.agentId)) return reject('malformed', 'agentId is not a valid id', 'agentId');
  if (typeof r.episodeId !== 'string' || !EPISODE_ID_PATTERN.test(r.episodeId)) {
    return reject('malformed', 'episodeId must be 1-128 characters of letters, digits, ".", "_", ":" or "-"', 'episodeId');
  }
  if (!Array.isArray(r.descriptor)) return reject('malformed', 'descriptor must be an array of numbers', 'descriptor');
  if (r.descriptor.length !== dimension) {
    return reject('wrong_dimension', `descriptor has dimension ${r.descriptor.length}, the swarm's is ${dimension}`, 'descriptor');
  }
  if (!r.descriptor.every((x) => typeof x === 'number')) return reject('malformed', 'descriptor must be an array of numbers', 'descriptor');
  if (!r.descriptor.every((x) => Number.isFinite(x))) return reject('not_finite', 'descriptor has a NaN or infinite component', 'descriptor');
  if (typeof r.fitness !== 'number') return reject('malformed', 'fitness must be a number', 'fitness');
  if (!Number.isFinite(r.fitness)) return reject('not_finite', 'fitness is NaN or infinite', 'fitness');
  const timestamp = typeof r.timestamp === 'string' ? Date.parse(r.timestamp) : r.timestamp;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
    return reject('malformed', 'timestamp must be milliseconds since the epoch or an ISO-8601 instant', 'timestamp');
  }
  let context: Record<string, unknown> | undefined;
  if (r.context !== undefined) {
    if (!r.context || typeof r.context !== 'object' || Array.isArray(r.context)) return reject('malformed', 'context must be an object', 'context');
    if (JSON.stringify(r.context).length > MAX_CONTEXT_BYTES) {
      return reject('malformed', `context is larger than ${MAX_CONTEXT_BYTES} bytes of JSON`, 'context');
    }
    context = r.context as Record<string, unknown>;
  }
  return {
    ok: true,
    value: {
      agentId: r.agentId,
      episodeId: r.episodeId,
      descriptor: r.descriptor as number[],
      fitness: r.fitness,
      timestamp,
      ...(context ? { context } : {}),
    },
  };
}
