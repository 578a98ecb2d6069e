// Admission checks for agents' updates, and the cheap guards every aggregator applies.
import { DomainError } from '../errors';
import type { ModelUpdate, ServerState } from './types';

export interface UpdateLimits {
  /**
   * Largest accepted L2 norm, in parameter units: of (params − global) when the global
   * model is given, else of params.
   */
  maxUpdateNorm?: number;
}

/** Why an update is refused, as a bounded set of codes (metric labels, rejection counts). */
export type UpdateRejectionCode = 'invalid' | 'wrong-dimension' | 'bad-examples' | 'not-finite' | 'norm-exceeded';

export interface UpdateRejection {
  code: UpdateRejectionCode;
  /** The detail for people (logs); never matched by code. */
  message: string;
}

/**
 * Why `update` must be rejected, or undefined when it is acceptable. `reference` is the
 * round's global model (then dimension and norm are checked against it, the norm being
 * that of params − global) or just the expected dimension (the norm is that of params).
 * `limits` may be the bare norm bound (parameter units).
 */
export function validateUpdate(
  update: ModelUpdate,
  reference: Float32Array | number,
  limits: UpdateLimits | number = {},
): UpdateRejection | undefined {
  const global = typeof reference === 'number' ? undefined : reference;
  const dimension = typeof reference === 'number' ? reference : reference.length;
  const maxNorm = typeof limits === 'number' ? limits : limits.maxUpdateNorm;
  if (typeof update.agentId !== 'string' || update.agentId.length === 0) return { code: 'invalid', message: 'agentId is missing' };
  if (!(update.params instanceof Float32Array)) return { code: 'invalid', message: 'params must be a Float32Array' };
  if (update.params.length !== dimension) {
    return { code: 'wrong-dimension', message: `params has ${update.params.length} coordinates, the model has ${dimension}` };
  }
  const reason = examplesProblem(update.examples);
  if (reason) return { code: 'bad-examples', message: reason };
  // One pass: finiteness and the squared norm (float64).
  const params = update.params;
  let squares = 0;
  for (let i = 0; i < dimension; i++) {
    const x = params[i];
    if (x - x !== 0) return { code: 'not-finite', message: `params[${i}] is ${x} (not finite)` };
    const d = global ? x - global[i] : x;
    squares += d * d;
  }
  if (maxNorm !== undefined) {
    const norm = Math.sqrt(squares);
    if (!(norm <= maxNorm)) {
      const what = global ? 'update (params - global)' : 'params';
      return { code: 'norm-exceeded', message: `${what} L2 norm ${norm.toPrecision(6)} exceeds ${maxNorm}` };
    }
  }
  return undefined;
}

/** Why `examples` is not a positive safe integer, or undefined when it is. */
export function examplesProblem(examples: number): string | undefined {
  if (typeof examples !== 'number' || !Number.isSafeInteger(examples) || examples <= 0) {
    return `examples must be a positive integer, got ${examples}`;
  }
  return undefined;
}

/** Throws INVALID_ARGUMENT unless the update fits a model of `dimension` coordinates (the O(1) part of validateUpdate). */
export function assertFoldable(update: ModelUpdate, dimension: number): void {
  if (!(update.params instanceof Float32Array) || update.params.length !== dimension) {
    const got = update.params instanceof Float32Array ? `${update.params.length} coordinates` : 'no Float32Array';
    throw new DomainError('INVALID_ARGUMENT', `update from ${update.agentId} has ${got}, the model has ${dimension}`, {
      agentId: update.agentId,
    });
  }
  const reason = examplesProblem(update.examples);
  if (reason) throw new DomainError('INVALID_ARGUMENT', `update from ${update.agentId}: ${reason}`, { agentId: update.agentId });
}

/** Throws INVALID_ARGUMENT when a round closes with nothing to aggregate. */
export function assertNotEmpty(count: number): void {
  if (count === 0) throw new DomainError('INVALID_ARGUMENT', 'no updates to aggregate');
}

/** A server-state vector of the model's size, or undefined when the state has none yet. */
export function stateVector(state: ServerState, key: string, dimension: number): Float32Array | undefined {
  const vector = state.vectors[key];
  if (vector === undefined) return undefined;
  if (vector.length !== dimension) {
    throw new DomainError('INVALID_ARGUMENT', `server state '${key}' has ${vector.length} coordinates, the model has ${dimension}`);
  }
  return vector;
}

/** Throws INVALID_ARGUMENT unless `value` is a finite number within [min, max] (or (min, max] when `openMin`). */
export function checkOption(name: string, value: number, min: number, max = Infinity, openMin = false): number {
  const ok = Number.isFinite(value) && (openMin ? value > min : value >= min) && value <= max;
  if (!ok) {
    const range = `${openMin ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}]`}`;
    throw new DomainError('INVALID_ARGUMENT', `${name} must be in ${range}, got ${value}`, { field: name });
  }
  return value;
}

/** Throws INVALID_ARGUMENT unless `value` is an integer ≥ 0. */
export function checkCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new DomainError('INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${value}`, { field: name });
  }
  return value;
}
