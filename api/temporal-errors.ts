// The one place where errors from the Temporal client become domain errors, by
// class and gRPC status, never by message text.
import {
  isGrpcServiceError,
  QueryRejectedError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { google } from '@temporalio/proto';
import { DomainError, type ErrorCode } from '../core/errors';

/** Application failure types that an update handler or validator raises and the API passes on with their own code. */
const PASSED_THROUGH: ReadonlySet<string> = new Set<ErrorCode>(['STALE_CHALLENGE', 'BAD_SIGNATURE']);

/**
 * Failures the Temporal server itself gives an update, not the workflow: the worker completed its
 * workflow task without processing the update (as a task replayed around a server restart can), or
 * the run closed after accepting it (a continue-as-new). Neither says anything about the request,
 * which can be sent again (to the new run).
 */
const UPDATE_ABORTED_BY_SERVER: ReadonlySet<string> = new Set(['UnprocessedUpdate', 'AcceptedUpdateCompletedWorkflow']);

/**
 * gRPC status codes (grpc/status.h) meaning the service did not answer: CANCELLED (the API cancels
 * a call only when the request's Temporal deadline passes), DEADLINE_EXCEEDED, UNAVAILABLE.
 */
const UNREACHABLE: ReadonlySet<number> = new Set([1, 4, 14]);
/** gRPC FAILED_PRECONDITION: with the detail below, the workflow cannot answer a query yet. */
const FAILED_PRECONDITION = 9;
/**
 * The server's "workflow not ready": its first workflow task has not run yet, or its workflow tasks
 * keep failing or timing out (the server fails queries fast from the third attempt), as when the
 * workers are overloaded or down. Another FAILED_PRECONDITION is a request that cannot succeed.
 */
const WORKFLOW_NOT_READY = 'temporal.api.errordetails.v1.WorkflowNotReadyFailure';
/** gRPC RESOURCE_EXHAUSTED: a rate limit, or a workflow with too many queries waiting for it. */
const RESOURCE_EXHAUSTED = 8;
/**
 * gRPC statuses of a call that failed on the way or inside the service, not because of the request:
 * UNKNOWN (a stream that ended without a status), ABORTED (a conflicting concurrent change) and
 * INTERNAL (an HTTP/2 stream reset under load, a fault of the server). The Temporal client retries
 * the first two (and resets among the third) while the API's deadline lasts; what is left when it
 * runs out is worth a retry later, not a 500 that blames the request. (A query's other failures:
 * NOT_FOUND is WorkflowNotFoundError; INVALID_ARGUMENT, a query the handler refused, is a bug.)
 */
const TRANSIENT: ReadonlyMap<number, string> = new Map([
  [2, 'UNKNOWN'],
  [10, 'ABORTED'],
  [13, 'INTERNAL'],
]);

/** Seconds a client should wait before trying again (the 503's Retry-After), by what made Temporal fail. */
export const RETRY_AFTER_SECONDS = { notReady: 1, busy: 2, transient: 1, aborted: 1, slow: 2, unreachable: 5 } as const;

export interface WorkflowErrorMessages {
  /** No execution with this workflow id exists. */
  missing: string;
  /** The execution exists but has closed, so it can no longer answer or be updated. */
  closed: { code: ErrorCode; message: string };
}

/**
 * The domain error for a failed call on `handle`, or the error unchanged when it
 * is none of the known kinds. The Temporal client reports "no such workflow" and
 * "workflow already closed" alike as WorkflowNotFoundError (gRPC NOT_FOUND); a
 * describe() tells the two apart.
 */
export async function workflowCallError(
  error: unknown,
  handle: Pick<WorkflowHandle, 'describe'>,
  messages: WorkflowErrorMessages,
): Promise<unknown> {
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause;
    if (cause instanceof ApplicationFailure && cause.type && PASSED_THROUGH.has(cause.type)) {
      return new DomainError(cause.type as ErrorCode, cause.message);
    }
    const aborted = updateAbortedByServer(error);
    if (aborted) {
      // A run that closed for good (not continued as new) cannot take the update again.
      const closed = await handle
        .describe()
        .then(({ status }) => status !== undefined && status.name !== 'RUNNING')
        .catch(() => false);
      return closed ? new DomainError(messages.closed.code, messages.closed.message) : aborted;
    }
    return new DomainError('CONFLICT', cause?.message ?? error.message);
  }
  if (error instanceof WorkflowNotFoundError) {
    try {
      await handle.describe();
    } catch (described) {
      if (described instanceof WorkflowNotFoundError) return new DomainError('NOT_FOUND', messages.missing);
      return temporalUnavailable(described) ?? described;
    }
    return new DomainError(messages.closed.code, messages.closed.message);
  }
  // Only with a query reject condition, which the API does not set: the workflow has closed.
  if (error instanceof QueryRejectedError) return new DomainError(messages.closed.code, messages.closed.message);
  return temporalUnavailable(error) ?? error;
}

/**
 * UNAVAILABLE when the error says the Temporal service could not be reached in time, is busy, or the
 * workflow cannot answer yet (all worth a retry); undefined otherwise.
 */
export function temporalUnavailable(error: unknown): DomainError | undefined {
  const aborted = updateAbortedByServer(error);
  if (aborted) return aborted;
  // An update the server did not complete before the API's deadline cancelled the call (gRPC
  // CANCELLED) or the server's own timeout: the workflow is slow to answer, not the request wrong.
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return slowAnswer();
  const grpc = isGrpcServiceError(error)
    ? error
    : (error instanceof ServiceError || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) && isGrpcServiceError(error.cause)
      ? error.cause
      : undefined;
  if (!grpc) return undefined;
  if (grpc.code === FAILED_PRECONDITION && grpcDetailTypes(grpc).includes(WORKFLOW_NOT_READY)) {
    return new DomainError(
      'UNAVAILABLE',
      'the workflow cannot answer yet: its first workflow task has not run, or its workflow tasks keep failing (no worker, or the workers are overloaded); try again shortly',
      { reason: 'workflow-not-ready', retryAfterSeconds: RETRY_AFTER_SECONDS.notReady },
    );
  }
  if (grpc.code === RESOURCE_EXHAUSTED) {
    return new DomainError('UNAVAILABLE', 'Temporal is busy (a rate limit, or too many queries waiting for one workflow); try again shortly', {
      reason: 'temporal-busy',
      retryAfterSeconds: RETRY_AFTER_SECONDS.busy,
    });
  }
  const transient = TRANSIENT.get(grpc.code);
  if (transient) {
    return new DomainError('UNAVAILABLE', `Temporal failed the call (gRPC ${transient}), not because of the request; try again shortly`, {
      reason: 'temporal-transient',
      grpcStatus: grpc.code,
      retryAfterSeconds: RETRY_AFTER_SECONDS.transient,
    });
  }
  if (!UNREACHABLE.has(grpc.code)) return undefined;
  if (grpc.code !== 14) return slowAnswer();
  return new DomainError(
    'UNAVAILABLE',
    'Temporal is unreachable: the API cannot reach the Temporal service (TEMPORAL_ADDRESS); try again once it is back (GET /readyz reports it)',
    { retryAfterSeconds: RETRY_AFTER_SECONDS.unreachable },
  );
}

/** UNAVAILABLE when the server, not the workflow, failed the update (UPDATE_ABORTED_BY_SERVER). */
function updateAbortedByServer(error: unknown): DomainError | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || !cause.type || !UPDATE_ABORTED_BY_SERVER.has(cause.type)) return undefined;
  return new DomainError('UNAVAILABLE', 'Temporal dropped the update before the workflow handled it (a server restart, or the workflow continuing as new); send it again', {
    reason: 'update-aborted',
    failureType: cause.type,
    retryAfterSeconds: RETRY_AFTER_SECONDS.aborted,
  });
}

function slowAnswer(): DomainError {
  return new DomainError(
    'UNAVAILABLE',
    'Temporal did not answer in time: the Temporal service is unreachable or slow, or no worker serves the workflow; try again shortly (GET /readyz reports the service)',
    { retryAfterSeconds: RETRY_AFTER_SECONDS.slow },
  );
}

/** The type names of a gRPC error's status details (google.rpc.Status in the grpc-status-details-bin trailer). */
function grpcDetailTypes(error: { metadata?: unknown }): string[] {
  const metadata = error.metadata as { get?: (key: string) => unknown[] } | undefined;
  const encoded = typeof metadata?.get === 'function' ? metadata.get('grpc-status-details-bin')?.[0] : undefined;
  if (!(encoded instanceof Uint8Array)) return [];
  try {
    return google.rpc.Status.decode(encoded).details.map((detail) => (detail.type_url ?? '').replace(/^type\.googleapis\.com\//, ''));
  } catch {
    return [];
  }
}
