import {
  QueryRejectedError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { google } from '@temporalio/proto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { errorHandler } from '../../api/errors';
import { PulsarError } from '../../adapters/pulsar/errors';
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

  it('an update the server dropped before the workflow handled it (a restart, a continue-as-new) is UNAVAILABLE, unless the run has closed for good', async () => {
    const running = { describe: async () => ({ status: { name: 'RUNNING' } }) as never };
    const completed = { describe: async () => ({ status: { name: 'COMPLETED' } }) as never };
    for (const type of ['UnprocessedUpdate', 'AcceptedUpdateCompletedWorkflow']) {
      const dropped = new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable('dropped by the server', type));
      expect(temporalUnavailable(dropped)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'update-aborted', failureType: type } });
      expect(await workflowCallError(dropped, running, messages)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'update-aborted' } });
      expect(await workflowCallError(dropped, completed, messages)).toMatchObject({ code: 'CONFLICT', message: 'job j1 has finished' });
    }
    // The workflow's own refusal with any other type stays the handler's answer.
    expect(temporalUnavailable(new WorkflowUpdateFailedError('update failed', ApplicationFailure.nonRetryable('no', 'PAUSED')))).toBeUndefined();
  });

  it('an unreachable Temporal service is UNAVAILABLE; other gRPC failures pass through unchanged', async () => {
    for (const code of [1, 4, 14]) {
      expect(temporalUnavailable(grpcError(code))).toMatchObject({ code: 'UNAVAILABLE' });
      expect(temporalUnavailable(new ServiceError('failed', { cause: grpcError(code) }))).toMatchObject({ code: 'UNAVAILABLE' });
    }
    // An update cancelled by the API's own deadline (gRPC CANCELLED) is a slow answer, not a 500.
    const cancelled = new WorkflowUpdateRPCTimeoutOrCancelledError('Call cancelled', { cause: grpcError(1) });
    expect(await workflowCallError(cancelled, existing, messages)).toMatchObject({ code: 'UNAVAILABLE' });
    // A request Temporal refuses as wrong is not a matter of waiting: it passes through (and answers 500, logged).
    for (const code of [3, 7, 12]) {
      const refused = new ServiceError('Failed to query Workflow', { cause: grpcError(code) });
      expect(temporalUnavailable(refused)).toBeUndefined();
      expect(await workflowCallError(refused, existing, messages)).toBe(refused);
    }
  });

  it('a query that failed on the way or inside Temporal (gRPC UNKNOWN, ABORTED, INTERNAL) is UNAVAILABLE with reason temporal-transient, naming the status', async () => {
    for (const [code, name] of [[2, 'UNKNOWN'], [10, 'ABORTED'], [13, 'INTERNAL']] as const) {
      const failed = new ServiceError('Failed to query Workflow', { cause: grpcError(code) });
      const mapped = await workflowCallError(failed, existing, messages);
      expect(mapped).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'temporal-transient', grpcStatus: code, retryAfterSeconds: 1 } });
      expect((mapped as DomainError).message).toContain(`gRPC ${name}`);
      expect(temporalUnavailable(grpcError(code))).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'temporal-transient' } });
    }
  });

  it('a query rejected because the workflow has closed is the caller’s "closed" error', async () => {
    const rejected = new QueryRejectedError(2 as never);
    expect(await workflowCallError(rejected, existing, messages)).toMatchObject({ code: 'CONFLICT', message: 'job j1 has finished' });
  });

  it('every Temporal or broker failure mapped to 503 carries Retry-After (seconds) by its kind; a refused request stays a 500', async () => {
    const failures: Record<string, unknown> = {
      transient: new ServiceError('Failed to query Workflow', { cause: grpcError(13) }),
      notReady: new ServiceError('Failed to query Workflow', { cause: grpcErrorWithDetail(9, 'temporal.api.errordetails.v1.WorkflowNotReadyFailure') }),
      busy: new ServiceError('Failed to query Workflow', { cause: grpcError(8) }),
      slow: new ServiceError('Failed to query Workflow', { cause: grpcError(4) }),
      unreachable: new ServiceError('Failed to query Workflow', { cause: grpcError(14) }),
      aborted: new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.nonRetryable('dropped', 'UnprocessedUpdate')),
      refused: new ServiceError('Failed to query Workflow', { cause: grpcError(3) }),
      // Not Temporal's, but the same kind of answer: the broker did not take a relayed message in time.
      brokerDown: new PulsarError('UNAVAILABLE', 'publish not acknowledged within 30.0 s'),
      brokerRefused: new PulsarError('REJECTED', 'message too large'),
    };
    const app = express();
    app.get('/:kind', (req, _res, next) => next(failures[req.params.kind]));
    app.use(errorHandler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const answers: Record<string, [number, string | null, string | undefined]> = {};
      for (const kind of Object.keys(failures)) {
        const res = await fetch(`${url}/${kind}`);
        const body = (await res.json()) as { error: { reason?: string } };
        answers[kind] = [res.status, res.headers.get('retry-after'), body.error.reason];
      }
      expect(answers).toEqual({
        transient: [503, '1', 'temporal-transient'],
        notReady: [503, '1', 'workflow-not-ready'],
        busy: [503, '2', 'temporal-busy'],
        slow: [503, '2', undefined],
        unreachable: [503, '5', undefined],
        aborted: [503, '1', 'update-aborted'],
        refused: [500, null, undefined],
        brokerDown: [503, '5', 'broker-unavailable'],
        brokerRefused: [500, null, undefined],
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
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
