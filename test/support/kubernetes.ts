// The shared Kubernetes control plane of test runs (etcd, kube-apiserver,
// controller-manager, scheduler, kwok: `stack.sh up kubernetes`), started once
// per jest run by the global set-up when a selected suite needs it and none
// answers, and stopped by the teardown of the last run using it, only when a
// test run started it (lease files: test/support/shared-service.ts). Suites
// isolate themselves with a namespace per test.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { loadKubeConfig, loadKubernetesClient } from '../../adapters/kubernetes/cluster';
import { SharedTestService, STACK, stackError } from './shared-service';

const kubernetes = new SharedTestService('kubernetes');

function stack(...args: string[]): string {
  return execFileSync('bash', [STACK, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 1_800_000 }).trim();
}

/**
 * Makes sure the control plane runs and exports its kubeconfig as
 * QP_TEST_KUBECONFIG; on failure QP_TEST_KUBERNETES_ERROR says why, so only
 * the suites that need it fail. QP_TEST_KUBERNETES=0 / 1 forces the choice.
 */
export async function startTestKubernetes(testPathPattern?: string): Promise<void> {
  if (!kubernetes.neededBy(testPathPattern)) {
    process.env.QP_TEST_KUBERNETES_ERROR = 'this jest run selected no *kubernetes*.test.ts suite, so the control plane was not started';
    return;
  }
  kubernetes.lease();
  const started = Date.now();
  try {
    const running = () => {
      try {
        execFileSync('bash', [STACK, 'status', 'kubernetes'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    if (await kubernetes.startUnlessRunning(running, 1_800_000)) {
      console.log(`test stack: Kubernetes control plane started (${Date.now() - started} ms)`);
    } else {
      console.log('test stack: Kubernetes control plane already running');
    }
    process.env.QP_TEST_KUBECONFIG = stack('path', 'kubernetes');
  } catch (error) {
    process.env.QP_TEST_KUBERNETES_ERROR = `could not start Kubernetes with infra/local/stack.sh up kubernetes:\n${stackError(error)}`;
    console.warn(`\ntest stack: ${process.env.QP_TEST_KUBERNETES_ERROR}`);
  }
}

export async function stopTestKubernetes(): Promise<void> {
  kubernetes.release();
}

/** For suites that need the control plane: its kubeconfig path, or a failure that says why there is none. */
export function requireTestKubeconfig(): string {
  const path = process.env.QP_TEST_KUBECONFIG;
  if (!path) throw new Error(process.env.QP_TEST_KUBERNETES_ERROR ?? 'the jest global set-up did not start Kubernetes');
  return path;
}

/** Admin access to the test control plane, and namespaces made for one test and deleted after it. */
export class TestKubernetes {
  private readonly namespaces: string[] = [];

  private constructor(
    readonly k8s: typeof K8s,
    readonly kubeConfig: K8s.KubeConfig,
  ) {}

  static async connect(): Promise<TestKubernetes> {
    return new TestKubernetes(await loadKubernetesClient(), await loadKubeConfig(requireTestKubeconfig()));
  }

  get core(): K8s.CoreV1Api {
    return this.kubeConfig.makeApiClient(this.k8s.CoreV1Api);
  }

  async namespace(prefix = 'qp-test'): Promise<string> {
    const name = `${prefix}-${randomBytes(4).toString('hex')}`;
    await this.core.createNamespace({ body: { metadata: { name } } });
    this.namespaces.push(name);
    return name;
  }

  async deleteNamespaces(): Promise<void> {
    const names = this.namespaces.splice(0);
    await Promise.all(names.map((name) => this.core.deleteNamespace({ name }).catch(() => undefined)));
  }

  /** Pods of a pool that are Running and not being deleted. */
  async runningPods(namespace: string, pool: string): Promise<number> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: `qp-manager.io/pool=${pool}` });
    return pods.items.filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.phase === 'Running').length;
  }

  /** A kubeconfig that authenticates as a service account (a TokenRequest token), for RBAC tests. */
  async asServiceAccount(namespace: string, serviceAccount: string): Promise<K8s.KubeConfig> {
    const token = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { expirationSeconds: 3600, audiences: [] } },
    });
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the test kubeconfig has no cluster');
    const kc = new this.k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: serviceAccount, token: token.status?.token }],
      contexts: [{ name: 'sa', cluster: cluster.name, user: serviceAccount, namespace }],
      currentContext: 'sa',
    });
    return kc;
  }
}
