import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { google } from '@temporalio/proto';
import { workflowCallError, temporalUnavailable } from '../../api/temporal-errors';
import { DomainError } from '../../core/errors';

const messages = { missing: 'no job j1', closed: { code: 'CONFLICT' as const, message: 'job j1 has finished' } };
const existing = { describe: async () => ({}) as never };
const absent = {
  describe: async (): Promise<never> => {
    throw new WorkflowNotFoundError('not found', 'tuning-j1', undefined);
  },
};
const grpcError = (code: number) => Object.assign(new Error(`${code} grpc`), { code, details: 'x', metadata: {} });
/** A gRPC error as the client receives it, with the server's status details in the grpc-status-details-bin trailer. */
const grpcErrorWithDetail = (code: number, detailType: string) => {
  const status = google.rpc.Status.encode({ code, details: [{ type_url: `type.googleapis.com/${detailType}`, value: new Uint8Array() }] }).finish();
  const metadata = { get: (key: string) => (key === 'grpc-status-details-bin' ? [Buffer.from(status)] : []) };
  return Object.assign(new Error(`${code} grpc`), { code, details: 'x', metadata });
};

describe('Temporal errors become domain errors by class and status', () => {
  it('a workflow that never existed is NOT_FOUND with the caller’s message', async () => {
    const error = await workflowCallError(new WorkflowNotFoundError('anything', 'tuning-j1', undefined), absent, messages);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: 'no job j1' });
  });

  it('a workflow that exists but has closed gets the caller’s "closed" code, whatever the server’s text', async () => {
    const error = await workflowCallError(new WorkflowNotFoundError('some other wording', 'tuning-j1', undefined), existing, messages);
    expect(error).toMatchObject({ code: 'CONFLICT', message: 'job j1 has finished' });
  });

  it('an update refused by its handler is CONFLICT, except the handshake failures that keep their own codes', async () => {
    const refused = new WorkflowUpdateFailedError('update failed', ApplicationFailure.nonRetryable('job is paused', 'PAUSED'));
    expect(await workflowCallError(refused, existing, messages)).toMatchObject({ code: 'CONFLICT', message: 'job is paused' });
    const stale = new WorkflowUpdateFailedError('update failed', ApplicationFailure.nonRetryable('old challenge', 'STALE_CHALLENGE'));
    expect(await workflowCallError(stale, existing, messages)).toMatchObject({ code: 'STALE_CHALLENGE' });
  });

  it('an unreachable Temporal service is UNAVAILABLE; other gRPC failures pass through unchanged', async () => {
    for (const code of [1, 4, 14]) {
      expect(temporalUnavailable(grpcError(code))).toMatchObject({ code: 'UNAVAILABLE' });
      expect(temporalUnavailable(new ServiceError('failed', { cause: grpcError(code) }))).toMatchObject({ code: 'UNAVAILABLE' });
    }
    // An update cancelled by the API's own deadline (gRPC CANCELLED) is a slow answer, not a 500.
    const cancelled = new WorkflowUpdateRPCTimeoutOrCancelledError('Call cancelled', { cause: grpcError(1) });
    expect(await workflowCallError(cancelled, existing, messages)).toMatchObject({ code: 'UNAVAILABLE' });
    const internal = grpcError(13);
    expect(temporalUnavailable(internal)).toBeUndefined();
    expect(await workflowCallError(internal, existing, messages)).toBe(internal);
  });

  it('a query the workflow cannot answer yet (the client\'s "Failed to query Workflow") is UNAVAILABLE with reason workflow-not-ready', async () => {
    // What the server answers while a workflow's first task has not run or its tasks keep failing: FAILED_PRECONDITION with WorkflowNotReadyFailure.
    const notReady = new ServiceError('Failed to query Workflow', { cause: grpcErrorWithDetail(9, 'temporal.api.errordetails.v1.WorkflowNotReadyFailure') });
    expect(temporalUnavailable(notReady)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'workflow-not-ready' } });
    expect(await workflowCallError(notReady, existing, messages)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'workflow-not-ready' } });
    // Another FAILED_PRECONDITION is not a matter of waiting: it passes through.
    const other = new ServiceError('Failed to start Workflow', { cause: grpcErrorWithDetail(9, 'temporal.api.errordetails.v1.NamespaceInvalidStateFailure') });
    expect(temporalUnavailable(other)).toBeUndefined();
    expect(temporalUnavailable(new ServiceError('failed', { cause: grpcError(9) }))).toBeUndefined();
  });

  it('a busy Temporal (RESOURCE_EXHAUSTED: a rate limit, a workflow with too many queries waiting) is UNAVAILABLE with reason temporal-busy', () => {
    const busy = new ServiceError('Failed to query Workflow', { cause: grpcErrorWithDetail(8, 'temporal.api.errordetails.v1.ResourceExhaustedFailure') });
    expect(temporalUnavailable(busy)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'temporal-busy' } });
    expect(temporalUnavailable(grpcError(8))).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'temporal-busy' } });
  });
});
