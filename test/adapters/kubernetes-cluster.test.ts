// The ClusterPort contract on a real control plane (kube-apiserver, controllers,
// scheduler and kwok's fake node: `stack.sh up kubernetes`, started once by the
// jest global set-up), a namespace per test, plus what only this adapter must do.
import { KubernetesCluster, loadKubeConfig } from '../../adapters/kubernetes/cluster';
import { DomainError } from '../../core/errors';
import { clusterContract } from '../contracts/cluster.contract';
import { TestKubernetes } from '../support/kubernetes';
import { waitFor } from '../support/stack';

jest.setTimeout(120_000);

let kube: TestKubernetes;
beforeAll(async () => {
  kube = await TestKubernetes.connect();
});
afterAll(async () => {
  await kube?.deleteNamespaces();
});

async function clusterIn(namespace: string): Promise<KubernetesCluster> {
  return KubernetesCluster.create({ kubeConfig: kube.kubeConfig, namespace, agentImage: 'qp-manager/agent:test' });
}

clusterContract('KubernetesCluster', async () => clusterIn(await kube.namespace('contract')), { readyTimeoutMs: 90_000 });

describe('KubernetesCluster', () => {
  it('runs a pool as a labelled Deployment whose pods reach Running on the kwok node', async () => {
    const namespace = await kube.namespace();
    const cluster = await clusterIn(namespace);

    await cluster.scalePool('planners', 3, { role: 'planner' });

    await waitFor('3 running pods', async () => ((await kube.runningPods(namespace, 'planners')) === 3 ? true : undefined), 90_000);
    const apps = kube.kubeConfig.makeApiClient(kube.k8s.AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({ name: 'planners', namespace });
    expect(deployment.metadata?.labels).toMatchObject({ 'qp-manager.io/pool': 'planners', role: 'planner' });
    expect(await cluster.getPool('planners')).toMatchObject({ desired: 3, labels: { role: 'planner' } });
  });

  it('settles concurrent scale requests on one pool (resourceVersion conflicts are retried)', async () => {
    const cluster = await clusterIn(await kube.namespace());
    await cluster.scalePool('busy', 1);

    const results = await Promise.allSettled([2, 3, 4, 5, 6].map((n) => cluster.scalePool('busy', n)));

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect([2, 3, 4, 5, 6]).toContain((await cluster.getPool('busy'))?.desired);
  });

  it('refuses to scale a Deployment that is not an agent pool, with CONFLICT', async () => {
    const namespace = await kube.namespace();
    const apps = kube.kubeConfig.makeApiClient(kube.k8s.AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:fake' }] } },
        },
      },
    });
    const cluster = await clusterIn(namespace);

    await expect(cluster.scalePool('web', 3)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await cluster.getPool('web')).toBeUndefined();
    expect((await cluster.listPools()).map((p) => p.name)).not.toContain('web');
  });

  it('reports an API server that does not answer as UNAVAILABLE within its deadline and retries', async () => {
    const kc = await loadKubeConfig(process.env.QP_TEST_KUBECONFIG);
    const cluster = kc.getCurrentCluster();
    const unreachable = new kube.k8s.KubeConfig();
    unreachable.loadFromOptions({
      clusters: [{ ...cluster!, server: 'https://127.0.0.1:1' }],
      users: [{ name: 'nobody', token: 'x' }],
      contexts: [{ name: 'c', cluster: cluster!.name, user: 'nobody' }],
      currentContext: 'c',
    });
    const broken = await KubernetesCluster.create({ kubeConfig: unreachable, namespace: 'default', agentImage: 'x', timeoutMs: 1000, retries: 1 });
    const started = Date.now();

    const error = await broken.listPools().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
