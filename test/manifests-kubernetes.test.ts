// QP-Manager's own manifests (k8s/) on a real API server: every object passes
// a server-side dry run, and the RBAC Role really lets the service account
// scale an agent pool and nothing more.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { KubernetesCluster } from '../adapters/kubernetes/cluster';
import { TestKubernetes } from './support/kubernetes';
import { waitFor } from './support/stack';

jest.setTimeout(120_000);

const DIR = join(__dirname, '..', 'k8s');

let kube: TestKubernetes;
beforeAll(async () => {
  kube = await TestKubernetes.connect();
});
afterAll(async () => {
  await kube?.deleteNamespaces();
});

function manifests(file: string): K8s.KubernetesObject[] {
  return kube.k8s.loadAllYaml(readFileSync(join(DIR, file), 'utf8')) as K8s.KubernetesObject[];
}

describe('k8s/ manifests', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

  it('has the Deployment, Service, ConfigMap, Secret template, RBAC and PodDisruptionBudget', () => {
    const kinds = files.flatMap((file) => manifests(file).map((o) => o.kind)).sort();
    expect(kinds).toEqual(
      expect.arrayContaining(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount']),
    );
    const deployments = manifests('qp-manager-deployment.yaml');
    for (const deployment of deployments as K8s.V1Deployment[]) {
      for (const container of deployment.spec?.template.spec?.containers ?? []) {
        expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
        expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
        expect(container.resources?.requests).toBeDefined();
        expect(container.resources?.limits).toBeDefined();
      }
      expect(deployment.spec?.template.spec?.terminationGracePeriodSeconds).toBeGreaterThan(10);
    }
  });

  it.each(readdirSync(DIR).filter((f) => f.endsWith('.yaml')))('%s passes a server-side dry run', async (file) => {
    const namespace = await kube.namespace('manifests');
    const objects = kube.kubeConfig.makeApiClient(kube.k8s.KubernetesObjectApi);
    for (const manifest of manifests(file)) {
      const created = await objects.create({ ...manifest, metadata: { ...manifest.metadata, namespace } }, undefined, 'All');
      expect(created.metadata?.uid).toBeDefined();
    }
    // Dry run: nothing was stored.
    const apps = kube.kubeConfig.makeApiClient(kube.k8s.AppsV1Api);
    expect((await apps.listNamespacedDeployment({ namespace })).items).toHaveLength(0);
  });

  it('the Role lets the service account read and scale an agent pool, and not create or delete one', async () => {
    const namespace = await kube.namespace('rbac');
    const objects = kube.kubeConfig.makeApiClient(kube.k8s.KubernetesObjectApi);
    for (const manifest of [...manifests('qp-manager-rbac.yaml'), ...manifests('agent-pool.example.yaml')]) {
      await objects.create({ ...manifest, metadata: { ...manifest.metadata, namespace } });
    }
    const asManager = await KubernetesCluster.create({
      kubeConfig: await kube.asServiceAccount(namespace, 'qp-manager'),
      namespace,
      agentImage: 'qp-manager-agent:latest',
    });

    expect((await asManager.listPools()).map((p) => p.name)).toEqual(['trainers']);
    expect(await asManager.scalePool('trainers', 3)).toMatchObject({ name: 'trainers', desired: 3 });
    await waitFor('3 running pods', async () => ((await kube.runningPods(namespace, 'trainers')) === 3 ? true : undefined), 90_000, 500);

    await expect(asManager.deletePool('trainers')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(asManager.scalePool('intruders', 1)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await asManager.getPool('trainers')).toMatchObject({ desired: 3 });
  });
});
