// The one place where errors become HTTP responses.
import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import { DomainError, type ErrorCode } from '../core/errors';
import { RETRY_AFTER_SECONDS, temporalUnavailable } from './temporal-errors';
import { processLog } from '../adapters/logging/json-logger';
import { isMessagingError } from '../adapters/ports';

const STATUS_OF: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  BAD_SIGNATURE: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  STALE_CHALLENGE: 409,
  HANDSHAKE_TIMED_OUT: 410,
  UNAVAILABLE: 503,
};

export interface ErrorBody {
  error: { code: string; message: string; field?: string; reason?: string; details?: unknown };
}

export function errorBody(code: string, message: string, extra: Partial<ErrorBody['error']> = {}): ErrorBody {
  return { error: { code, message, ...extra } };
}

export function fromZod(error: ZodError, where: 'body' | 'query' | 'params'): DomainError {
  const issue = error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : where;
  return new DomainError('INVALID_ARGUMENT', `${field}: ${issue.message}`, { field });
}

/** A broker that did not take a message in time (an outage, a restart) is a 503 too, not an internal error. */
function messagingUnavailable(error: unknown): DomainError | undefined {
  if (!isMessagingError(error, 'UNAVAILABLE')) return undefined;
  return new DomainError('UNAVAILABLE', 'the message broker did not answer in time; try again shortly', {
    reason: 'broker-unavailable',
    retryAfterSeconds: RETRY_AFTER_SECONDS.unreachable,
  });
}

export const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  // A Temporal call that found no server, or none in time, is the same 503 from every route.
  error = temporalUnavailable(error) ?? messagingUnavailable(error) ?? error;
  if (error instanceof DomainError) {
    const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
    // A refused ballot says why in a typed reason (forged, ineligible, late, duplicate, ...).
    const reason = typeof error.details?.reason === 'string' ? error.details.reason : undefined;
    if (error.code === 'UNAVAILABLE') {
      const seconds = typeof error.details?.retryAfterSeconds === 'number' ? error.details.retryAfterSeconds : RETRY_AFTER_SECONDS.slow;
      res.set('Retry-After', String(seconds));
      // A fault inside Temporal answers 503, but stays visible in the log with its gRPC status.
      if (error.details?.reason === 'broker-unavailable') {
        processLog().warn('message broker unavailable', { method: _req.method, route: _req.route?.path ?? _req.path });
      }
      if (typeof error.details?.grpcStatus === 'number') {
        processLog().warn('Temporal call failed with a transient status', { method: _req.method, route: _req.route?.path ?? _req.path, grpcStatus: error.details.grpcStatus });
      }
    }
    res.status(STATUS_OF[error.code]).json(errorBody(error.code, error.message, { ...(field ? { field } : {}), ...(reason ? { reason } : {}) }));
    return;
  }
  // body-parser errors carry a status and a type.
  const status = typeof error?.status === 'number' ? error.status : undefined;
  if (status === 413) {
    res.status(413).json(errorBody('PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${error.limit} bytes`));
    return;
  }
  if (status === 400 && error.type === 'entity.parse.failed') {
    res.status(400).json(errorBody('INVALID_ARGUMENT', 'request body is not valid JSON (every body is read as JSON, whatever its Content-Type)', {
      field: 'body',
    }));
    return;
  }
  if (status !== undefined && status >= 400 && status < 500) {
    res.status(status).json(errorBody('BAD_REQUEST', String(error.message ?? 'bad request')));
    return;
  }
  processLog().error('unhandled error in request', { method: _req.method, route: _req.route?.path ?? _req.path, error });
  res.status(500).json(errorBody('INTERNAL', 'internal error'));
};
