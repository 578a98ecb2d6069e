// A workflow that cannot answer a query yet (its first workflow task has not run, as
// when the workers are down or overloaded) is a 503 the client can retry, with a
// typed reason, not a 500: the real API against the real Temporal dev server.
import { TASK_DELEGATION_WORKFLOW, taskWorkflowId } from '../workflows/definitions-tasks';
import { DECISION_WORKFLOW, decisionWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

const taskQueue = uniqueId('tq');

describe('a read of a workflow that cannot answer yet', () => {
  let stack: Embedded;

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_TASK_QUEUE: taskQueue });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('GET /api/v1/tasks/{taskId} of a task whose first workflow task has not run is 503 UNAVAILABLE, reason workflow-not-ready', async () => {
    const taskId = uniqueId('not-ready');
    // A start delay keeps the server from scheduling the first workflow task: the server answers
    // queries FAILED_PRECONDITION (WorkflowNotReadyFailure), as it does while workflow tasks keep failing.
    const handle = await stack.client.workflow.start(TASK_DELEGATION_WORKFLOW, {
      workflowId: taskWorkflowId(taskId),
      taskQueue,
      args: [{}],
      startDelay: '1 hour',
    });
    try {
      const res = await fetch(`${stack.api.url}/api/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const body = (await res.json()) as { error?: { code: string; reason?: string } };
      expect({ status: res.status, code: body.error?.code, reason: body.error?.reason, retryAfter: res.headers.get('retry-after') }).toEqual({
        status: 503,
        code: 'UNAVAILABLE',
        reason: 'workflow-not-ready',
        retryAfter: '1',
      });
    } finally {
      await handle.terminate('test over');
    }
  });

  it('GET /api/v1/decisions/{id} and /ballots of a decision whose first workflow task has not run are 503 with Retry-After', async () => {
    const decisionId = uniqueId('not-ready');
    const handle = await stack.client.workflow.start(DECISION_WORKFLOW, {
      workflowId: decisionWorkflowId(decisionId),
      taskQueue,
      args: [{}],
      startDelay: '1 hour',
    });
    try {
      for (const path of [`/api/v1/decisions/${decisionId}`, `/api/v1/decisions/${decisionId}/ballots`]) {
        const res = await fetch(`${stack.api.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        const body = (await res.json()) as { error?: { code: string; reason?: string } };
        expect({ path, status: res.status, reason: body.error?.reason, retryAfter: res.headers.get('retry-after') }).toEqual({
          path,
          status: 503,
          reason: 'workflow-not-ready',
          retryAfter: '1',
        });
      }
    } finally {
      await handle.terminate('test over');
    }
  });
});
