// Errors of the Pulsar adapter. Each carries a code so callers (activities,
// the API) can tell "the broker is down, retry later" from "this request can
// never succeed".

export type PulsarErrorCode =
  /** The broker (or its WebSocket/admin endpoint) did not answer within the bounded wait. */
  | 'UNAVAILABLE'
  /** The broker refused the credentials (HTTP 401/403). */
  | 'UNAUTHENTICATED'
  /** The broker refused the consumer: an exclusive subscription is taken, or its type differs. */
  | 'CONFLICT'
  /** The broker refused the request itself (bad name, message too large, ...). */
  | 'REJECTED'
  /** The port or consumer was closed. */
  | 'CLOSED'
  | 'INVALID_ARGUMENT';

export class PulsarError extends Error {
  constructor(
    readonly code: PulsarErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PulsarError';
  }
}

/** True for failures that another attempt may fix (network, 5xx, timeouts). */
export function isTransient(error: unknown): boolean {
  return error instanceof PulsarError ? error.code === 'UNAVAILABLE' : true;
}

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code} ${error.message}` : error.message || String(code);
  }
  return String(error);
}
