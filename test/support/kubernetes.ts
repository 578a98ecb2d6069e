// The shared Kubernetes control plane of test runs (etcd, kube-apiserver,
// controller-manager, scheduler, kwok: `stack.sh up kubernetes`), started once
// per jest run by the global set-up when a selected suite needs it and none
// answers, and stopped by the teardown of the last run using it, only when a
// test run started it (lease files, as for Milvus). Suites isolate themselves
// with a namespace per test.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { loadKubeConfig, loadKubernetesClient } from '../../adapters/kubernetes/cluster';

const ROOT = join(__dirname, '..', '..');
const STACK = join(ROOT, 'infra/local/stack.sh');
const RUN_DIR = join(process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager'), 'run');
const LEASES = join(RUN_DIR, 'kubernetes.test-leases');
const STARTED_BY_TESTS = join(RUN_DIR, 'kubernetes.started-by-tests');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Does this jest run select a suite that needs the control plane (a *kubernetes*.test.ts file)? */
function runNeedsKubernetes(testPathPattern: string | undefined): boolean {
  if (process.env.QP_TEST_KUBERNETES === '0') return false;
  if (process.env.QP_TEST_KUBERNETES === '1' || !testPathPattern) return true;
  const suites: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/kubernetes.*\.test\.ts$/.test(entry.name)) suites.push(path);
    }
  };
  walk(join(ROOT, 'test'));
  try {
    const pattern = new RegExp(testPathPattern, 'i');
    return suites.some((path) => pattern.test(path));
  } catch {
    return true;
  }
}

function stack(...args: string[]): string {
  return execFileSync('bash', [STACK, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 1_800_000 }).trim();
}

/**
 * Makes sure the control plane runs and exports its kubeconfig as
 * QP_TEST_KUBECONFIG; on failure QP_TEST_KUBERNETES_ERROR says why, so only
 * the suites that need it fail. QP_TEST_KUBERNETES=0 / 1 forces the choice.
 */
export async function startTestKubernetes(testPathPattern?: string): Promise<void> {
  if (!runNeedsKubernetes(testPathPattern)) {
    process.env.QP_TEST_KUBERNETES_ERROR = 'this jest run selected no *kubernetes*.test.ts suite, so the control plane was not started';
    return;
  }
  process.env.QP_TEST_KUBERNETES_LEASED = '1';
  mkdirSync(LEASES, { recursive: true });
  writeFileSync(join(LEASES, String(process.pid)), '');
  const started = Date.now();
  try {
    const running = (() => {
      try {
        execFileSync('bash', [STACK, 'status', 'kubernetes'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    if (!running) {
      stack('up', 'kubernetes');
      writeFileSync(STARTED_BY_TESTS, String(process.pid));
      console.log(`test stack: Kubernetes control plane started (${Date.now() - started} ms)`);
    } else {
      console.log('test stack: Kubernetes control plane already running');
    }
    process.env.QP_TEST_KUBECONFIG = stack('path', 'kubernetes');
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-5).join('\n');
    process.env.QP_TEST_KUBERNETES_ERROR = `could not start Kubernetes with infra/local/stack.sh up kubernetes:\n${stderr}`;
    console.warn(`\ntest stack: ${process.env.QP_TEST_KUBERNETES_ERROR}`);
  }
}

export async function stopTestKubernetes(): Promise<void> {
  if (process.env.QP_TEST_KUBERNETES_LEASED !== '1') return;
  delete process.env.QP_TEST_KUBERNETES_LEASED;
  rmSync(join(LEASES, String(process.pid)), { force: true });
  let others = 0;
  for (const name of existsSync(LEASES) ? readdirSync(LEASES) : []) {
    const pid = Number(name);
    if (Number.isInteger(pid) && alive(pid)) others++;
    else rmSync(join(LEASES, name), { force: true });
  }
  if (others > 0 || !existsSync(STARTED_BY_TESTS)) return;
  rmSync(STARTED_BY_TESTS, { force: true });
  execFileSync('bash', [STACK, 'down', 'kubernetes'], { stdio: ['ignore', 'ignore', 'inherit'] });
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
