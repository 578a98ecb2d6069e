// GET /api/v1/pools on the real dev server: the listing reads each pool's
// summary from visibility (its workflow's memo), never asking a worker, so a
// pool whose worker is gone is listed with the summary it last published, and
// one that published none (no worker ever ran it) is listed without it.
import { ScheduleNotFoundError } from '@temporalio/client';
import { AGENT_POOL_WORKFLOW, agentPoolWorkflowId, autoscaleScheduleId } from '../workflows/definitions';
import { newPoolRecord } from '../core/autoscaling/pool';
import type { PoolView } from '../api/pool-service';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

jest.setTimeout(60_000);

describe('GET /api/v1/pools', () => {
  let stack: Embedded;
  const orphan = uniqueId('orphan').toLowerCase();
  const abandoned = uniqueId('abandoned').toLowerCase();

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
    await stack?.client.workflow.getHandle(agentPoolWorkflowId(abandoned)).terminate('test over').catch(() => undefined);
    await stack?.client.schedule
      .getHandle(autoscaleScheduleId(abandoned))
      .delete()
      .catch((error) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
    await stack?.stop();
  });

  it('lists a pool whose workflow no worker ever ran, without a record, instead of failing', async () => {
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

  it('lists a pool whose worker is gone with the summary its workflow last published, without asking it', async () => {
    // Another worker and API, on a task queue of their own, set the pool's policy and carbon input, then stop.
    const writer = await startTestEmbedded({ QP_CLUSTER: 'memory', QP_AUTOSCALE_INTERVAL_S: '3600' });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${writer.api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as PoolView;
    };
    let written: PoolView;
    try {
      const policy = {
        minReplicas: 0,
        maxReplicas: 4,
        fallbackReplicas: 1,
        backlog: { targetPerReplica: 5, activationThreshold: 0 },
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
          scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
        },
      };
      await call('PUT', `/api/v1/pools/${abandoned}`, { policy, backlogTopic: `swarm/${abandoned}/tasks` });
      written = await call('POST', `/api/v1/pools/${abandoned}/carbon`, { intensity: 321 });
      expect(written.autoscaling).toMatchObject({ policy: { maxReplicas: 4 }, carbon: { intensity: 321 } });
      // Visibility indexes the memo shortly after the update.
      await waitFor('the summary in the listing', async () => {
        const response = await fetch(`${stack.api.url}/api/v1/pools`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        const listed = ((await response.json()) as { pools: PoolView[] }).pools.find((p) => p.name === abandoned);
        return listed?.autoscaling?.carbon?.intensity === 321 ? true : undefined;
      });
    } finally {
      await writer.stop();
    }
    const started = Date.now();
    const response = await fetch(`${stack.api.url}/api/v1/pools`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const listed = ((await response.json()) as { pools: PoolView[] }).pools.find((p) => p.name === abandoned);
    // The memory cluster of the stopped writer ran no pods: the listing has the record only, exactly as written.
    expect(listed).toEqual({ name: abandoned, labels: {}, autoscaling: written!.autoscaling });
    expect(Date.now() - started).toBeLessThan(2_000);
    // Reading the pool itself asks its (gone) worker: 503, naming Temporal.
    const one = await fetch(`${stack.api.url}/api/v1/pools/${abandoned}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(one.status).toBe(503);
  });
});
