// The autoscaling Schedule end to end on a real control plane: PUT a policy,
// the Schedule's runs scale the pool's Deployment on its topic's backlog (kwok pods reach Running),
// a carbon input caps it, and every decision is recorded with its reasons.
import { ScheduleNotFoundError } from '@temporalio/client';
import { KubernetesCluster } from '../adapters/kubernetes/cluster';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import type { PoolView } from '../api/pool-service';
import { agentPoolWorkflowId, autoscaleScheduleId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { TestKubernetes } from './support/kubernetes';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

jest.setTimeout(180_000);

const policy = {
  minReplicas: 0,
  maxReplicas: 6,
  fallbackReplicas: 3,
  backlog: { targetPerReplica: 10, activationThreshold: 0 },
  carbon: { bands: [{ maxIntensity: 300, maxReplicas: 6 }, { maxIntensity: 10_000, maxReplicas: 1 }] },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};

describe('autoscaling Schedule on Kubernetes', () => {
  let kube: TestKubernetes;
  let embedded: Embedded;
  let namespace: string;
  const pool = uniqueId('agents').toLowerCase();

  beforeAll(async () => {
    kube = await TestKubernetes.connect();
    namespace = await kube.namespace('autoscale');
    const cluster = await KubernetesCluster.create({ kubeConfig: kube.kubeConfig, namespace, agentImage: 'qp-manager/agent:test' });
    embedded = await startTestEmbedded(
      { QP_AUTOSCALE_INTERVAL_S: '1' },
      { messaging: new MemoryMessaging(), vectors: new MemoryVectors(), cluster, blobs: new MemoryBlobStore() },
    );
  });

  afterAll(async () => {
    await embedded?.client.schedule
      .getHandle(autoscaleScheduleId(pool))
      .delete()
      .catch((error) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
    await embedded?.client.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('test finished').catch(() => undefined);
    await embedded?.stop();
    await kube?.deleteNamespaces();
  });

  async function call(method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; json: any }> {
    const response = await fetch(`${embedded.api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json().catch(() => undefined) };
  }

  const lastDecision = async () => ((await call('GET', `/api/v1/pools/${pool}`)).json as PoolView).autoscaling?.decisions.at(-1);

  it("scales the pool on its topic's backlog, then a carbon band caps it", async () => {
    // 30 tasks waiting on the pool's subscription, 10 per replica: 3 replicas.
    const backlogTopic = `swarm/${pool}/tasks`;
    const work = await embedded.ports.messaging.subscribe(backlogTopic, 'workers', { type: 'shared' });
    for (let i = 0; i < 30; i++) await embedded.ports.messaging.publish(backlogTopic, Buffer.from(`task ${i}`));
    const put = await call('PUT', `/api/v1/pools/${pool}`, { policy, backlogTopic });
    expect(put.status).toBe(200);
    expect(put.json.autoscaling.policy).toMatchObject({ maxReplicas: 6 });

    await waitFor('3 running pods', async () => ((await kube.runningPods(namespace, pool)) === 3 ? true : undefined), 120_000, 500);
    // The decision is recorded right after the scale call returns.
    const scaledUp = await waitFor('a recorded decision for 3', async () => {
      const decision = await lastDecision();
      return decision?.desiredReplicas === 3 ? decision : undefined;
    });
    expect(scaledUp.reasons.map((r) => r.code)).toContain('BACKLOG');
    expect(scaledUp.inputs).toMatchObject({ backlog: 30 });

    const carbon = await call('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 450 });
    expect(carbon.status).toBe(200);

    await waitFor('1 running pod', async () => ((await kube.runningPods(namespace, pool)) === 1 ? true : undefined), 120_000, 500);
    const capped = await waitFor('a recorded decision for 1', async () => {
      const decision = await lastDecision();
      return decision?.desiredReplicas === 1 ? decision : undefined;
    });
    expect(capped).toMatchObject({ desiredReplicas: 1, inputs: { carbonIntensity: 450 }, caps: { carbon: 1 } });
    expect(capped.reasons.map((r) => r.code)).toContain('CARBON_CAP');

    const listed = await call('GET', '/api/v1/pools');
    expect(listed.json.pools.find((p: PoolView) => p.name === pool)).toMatchObject({ replicas: { desired: 1 } });
    await work.close();
  });

  it('is admin-only and names the bad field of a policy', async () => {
    expect((await call('GET', '/api/v1/pools', undefined, 'not-the-admin-token-at-all')).status).toBe(401);
    const bad = await call('PUT', `/api/v1/pools/${pool}`, { policy: { ...policy, minReplicas: 9 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('minReplicas');
    expect((await call('POST', '/api/v1/pools/no-such-pool/carbon', { intensity: 100 })).status).toBe(404);
    expect((await call('GET', '/api/v1/pools/Not_A_Name')).status).toBe(400);
  });
});
