// Load-based autoscaling end to end on the real Temporal dev server: agents
// send heartbeats naming their pool and load (over HTTP and signed over
// messaging), the worker's liveness activity verifies them, and the pool's
// Schedule scales a policy with `load` on their mean; a pool whose agents
// report nothing falls back, and its decision says why.
import { ScheduleNotFoundError } from '@temporalio/client';
import { ApiError, QpAgent } from '../agents/sdk';
import type { PoolView } from '../api/pool-service';
import type { ScalingDecision } from '../core/autoscaling';
import { agentPoolWorkflowId, autoscaleScheduleId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

jest.setTimeout(120_000);

const policy = {
  minReplicas: 0,
  maxReplicas: 8,
  fallbackReplicas: 1,
  load: { targetPerReplica: 0.5 },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 8, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};

describe('load-based autoscaling from heartbeats', () => {
  let stack: Embedded;
  const swarmId = uniqueId('swarm');
  const busy = uniqueId('busy').toLowerCase();
  const silent = uniqueId('silent').toLowerCase();
  const agents: QpAgent[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_CLUSTER: 'memory',
      QP_AUTOSCALE_INTERVAL_S: '1',
      QP_HEARTBEAT_GRACE_MS: '5000',
      QP_LIVENESS_WINDOW_MS: '250',
    });
  });

  afterAll(async () => {
    for (const agent of agents) agent.stopHeartbeats();
    for (const pool of [busy, silent]) {
      await stack?.client.schedule
        .getHandle(autoscaleScheduleId(pool))
        .delete()
        .catch((error) => {
          if (!(error instanceof ScheduleNotFoundError)) throw error;
        });
      await stack?.client.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('test finished').catch(() => undefined);
    }
    await stack?.stop();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const response = await fetch(`${stack.api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json().catch(() => undefined) };
  }

  const decisions = async (pool: string): Promise<ScalingDecision[]> =>
    ((await call('GET', `/api/v1/pools/${pool}`)).json as PoolView).autoscaling?.decisions ?? [];

  function newAgent(heartbeatVia: 'http' | 'messaging', pool?: string): QpAgent {
    const agent = new QpAgent({
      heartbeatVia,
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId: uniqueId('agent'),
      swarmId,
      capabilities: ['train'],
      resources: { cpu: 1, memoryMb: 1024 },
      heartbeatIntervalMs: 200,
      handshakeTimeoutMs: 10_000,
      pool,
    });
    agents.push(agent);
    return agent;
  }

  it("scales a load policy up on the mean load of the pool's agents, with the load reason", async () => {
    const viaHttp = newAgent('http');
    // This one names its pool once, as an agent in a pool's pod does with QP_POOL.
    const viaMessaging = newAgent('messaging', busy);
    await Promise.all([viaHttp.register(), viaMessaging.register()]);
    viaHttp.startHeartbeats(() => ({ pool: busy, load: 0.9 }));
    viaMessaging.startHeartbeats(() => ({ load: 0.8 }));

    expect((await call('PUT', `/api/v1/pools/${busy}`, { policy })).status).toBe(200);
    // 0.9 + 0.8 = 1.7 agents' worth of load at 0.5 per replica: 4 replicas.
    const decision = await waitFor(
      'a load decision for 4 replicas',
      async () => (await decisions(busy)).find((d) => d.desiredReplicas === 4),
      60_000,
      250,
    );
    expect(decision.inputs).toMatchObject({ averageLoad: 0.85, agents: 2 });
    expect(decision.proposals).toEqual({ load: 4 });
    expect(decision.reasons.map((r) => r.code)).toEqual(['LOAD']);
    const listed = await call('GET', `/api/v1/pools/${busy}`);
    expect(listed.json.replicas).toEqual({ desired: 4, ready: 4 });
  });

  it('falls back when no agent of the pool reports its load, and records why', async () => {
    expect((await call('PUT', `/api/v1/pools/${silent}`, { policy })).status).toBe(200);
    const decision = await waitFor('a fallback decision', async () => (await decisions(silent)).at(-1), 60_000, 250);
    expect(decision.desiredReplicas).toBe(policy.fallbackReplicas);
    expect(decision.proposals).toEqual({ fallback: policy.fallbackReplicas });
    const fallbacks = decision.reasons.filter((r) => r.code === 'LOAD_MISSING_FALLBACK').map((r) => r.message);
    expect(fallbacks).toEqual([
      `agent load unknown: fallback ${policy.fallbackReplicas} replicas`,
      `load not read: no agent of pool ${silent} reported its load in the last 5000 ms`,
    ]);
  });

  it('refuses a heartbeat naming a pool that is no DNS-1123 label, naming the field', async () => {
    const viaHttp = agents[0];
    const refused = await viaHttp.heartbeat({ pool: 'Not_A_Pool', load: 0.5 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 400 });
    expect(String(refused)).toContain('pool');
  });
});
