// Errors of the Pulsar adapter. Each carries a code so callers (activities,
// the API) can tell "the broker is down, retry later" from "this request can
// never succeed".
import { MessagingError, type MessagingErrorCode } from '../ports/messaging';

export type PulsarErrorCode = MessagingErrorCode;

/** The port's error, named for the adapter in logs. */
export class PulsarError extends MessagingError {
  constructor(code: PulsarErrorCode, message: string, status?: number) {
    super(code, message, status);
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
