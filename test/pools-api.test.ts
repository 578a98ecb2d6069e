// GET /api/v1/pools on the real dev server: a pool whose record workflow no
// worker answers (its worker gone) is still listed, without its record, and
// the listing answers within the API's Temporal deadline.
import { AGENT_POOL_WORKFLOW, agentPoolWorkflowId } from '../workflows/definitions';
import { newPoolRecord } from '../core/autoscaling/pool';
import type { PoolView } from '../api/pool-service';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

describe('GET /api/v1/pools', () => {
  let stack: Embedded;
  const orphan = uniqueId('orphan').toLowerCase();

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_CLUSTER: 'memory', QP_API_TEMPORAL_DEADLINE_MS: '2000' });
    const policy = { minReplicas: 0, maxReplicas: 2, fallbackReplicas: 1 };
    // A pool record on a task queue no worker polls: its queries never get an answer.
    await stack.client.workflow.start(AGENT_POOL_WORKFLOW, {
      workflowId: agentPoolWorkflowId(orphan),
      taskQueue: uniqueId('no-worker'),
      args: [{ record: newPoolRecord(orphan, policy as never, Date.now()) }],
    });
  });

  afterAll(async () => {
    await stack?.client.workflow.getHandle(agentPoolWorkflowId(orphan)).terminate('test over').catch(() => undefined);
    await stack?.stop();
  });

  it('lists a pool whose record cannot be read in time, without the record, instead of failing', async () => {
    const started = Date.now();
    const response = await fetch(`${stack.api.url}/api/v1/pools`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { pools: PoolView[] };
    expect(body.pools.find((p) => p.name === orphan)).toEqual({ name: orphan, labels: {} });
    expect(Date.now() - started).toBeLessThan(10_000);
    // The pool itself answers 503, naming Temporal.
    const one = await fetch(`${stack.api.url}/api/v1/pools/${orphan}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(one.status).toBe(503);
  });
});
