// Agent pools as Deployments labelled qp-manager.io/pool=<name> in one namespace,
// scaled through the scale subresource (@kubernetes/client-node 1.x).
// The client is an ES module: it is loaded with import(), and under jest that
// needs node's --experimental-vm-modules (npm test sets it).
import type * as K8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { DomainError } from '../../core/errors';
import { checkPoolRequest } from '../../core/pools';
import { POOL_LABEL, type AgentPool, type ClusterPort, type PoolChange, type PoolWatch } from '../ports';

export interface KubernetesClusterOptions {
  kubeConfig: K8s.KubeConfig;
  namespace: string;
  /** Image of the agent container in pools this adapter creates. */
  agentImage: string;
  /** Deadline of one API call, ms. */
  timeoutMs?: number;
  /** Retries of a call that timed out or hit a 5xx. */
  retries?: number;
  /** Re-reads after losing a resourceVersion race to another writer. */
  conflictRetries?: number;
}

type KubernetesClient = typeof K8s;

/** The client module, loaded once. */
export function loadKubernetesClient(): Promise<KubernetesClient> {
  clientModule ??= import('@kubernetes/client-node').then((module) => (loadedClient = module));
  return clientModule;
}
let clientModule: Promise<KubernetesClient> | undefined;
let loadedClient: KubernetesClient | undefined;

/** Loads a kubeconfig file, or the pod's service account when path is unset and we run in a cluster. */
export async function loadKubeConfig(path?: string): Promise<K8s.KubeConfig> {
  const k8s = await loadKubernetesClient();
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

export class KubernetesCluster implements ClusterPort {
  private readonly apps: K8s.AppsV1Api;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly conflictRetries: number;

  /** Loads the client module, then builds the adapter. */
  static async create(options: KubernetesClusterOptions): Promise<KubernetesCluster> {
    return new KubernetesCluster(await loadKubernetesClient(), options);
  }

  private constructor(
    private readonly k8s: KubernetesClient,
    private readonly options: KubernetesClusterOptions,
  ) {
    this.apps = options.kubeConfig.makeApiClient(k8s.AppsV1Api);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 3;
    this.conflictRetries = options.conflictRetries ?? 10;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  async listPools(): Promise<AgentPool[]> {
    const list = await this.call('list pools', () =>
      this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: POOL_LABEL }),
    );
    return list.items
      .map(toPool)
      .filter((pool): pool is AgentPool => pool !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async getPool(name: string): Promise<AgentPool | undefined> {
    const deployment = await this.readDeployment(name);
    return deployment && toPool(deployment);
  }

  /**
   * Creates the Deployment when missing (needs `create` on deployments), merges
   * new labels (needs `patch`), then sets replicas through the scale subresource
   * with the resourceVersion it read, re-reading when another writer won.
   */
  async scalePool(name: string, replicas: number, labels: Record<string, string> = {}): Promise<AgentPool> {
    checkPoolRequest(name, replicas);
    for (let attempt = 0; ; attempt++) {
      const existing = await this.readDeployment(name);
      if (!existing) {
        try {
          const created = await this.call(`create pool ${name}`, () =>
            this.apps.createNamespacedDeployment({ namespace: this.namespace, body: this.poolDeployment(name, replicas, labels) }),
          );
          return toPool(created) as AgentPool;
        } catch (error) {
          if (isConflict(error) && attempt < this.conflictRetries) continue; // created meanwhile: scale it
          throw error;
        }
      }
      if (existing.metadata?.labels?.[POOL_LABEL] !== name) {
        throw new DomainError('CONFLICT', `deployment ${name} exists but is not an agent pool (no ${POOL_LABEL}=${name} label)`, {
          pool: name,
        });
      }
      const current = existing.metadata?.labels ?? {};
      if (Object.entries(labels).some(([key, value]) => current[key] !== value)) {
        await this.call(`label pool ${name}`, () =>
          this.apps.patchNamespacedDeployment(
            { name, namespace: this.namespace, body: { metadata: { labels } } },
            this.k8s.setHeaderOptions('Content-Type', this.k8s.PatchStrategy.MergePatch),
          ),
        );
      }
      const scale = await this.call(`read scale of ${name}`, () =>
        this.apps.readNamespacedDeploymentScale({ name, namespace: this.namespace }),
      );
      try {
        await this.call(`scale ${name}`, () =>
          this.apps.replaceNamespacedDeploymentScale({
            name,
            namespace: this.namespace,
            body: {
              metadata: { name, namespace: this.namespace, resourceVersion: scale.metadata?.resourceVersion },
              spec: { replicas },
            },
          }),
        );
      } catch (error) {
        if (isConflict(error) && attempt < this.conflictRetries) {
          // Jittered, so that writers that collided do not collide again.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * (attempt + 1)));
          continue;
        }
        if (isConflict(error)) {
          throw new DomainError('CONFLICT', `scaling pool ${name} lost ${attempt + 1} resourceVersion races`, { pool: name });
        }
        throw error;
      }
      const after = await this.readDeployment(name);
      if (!after) throw new DomainError('CONFLICT', `pool ${name} was deleted while being scaled`, { pool: name });
      return toPool(after) as AgentPool;
    }
  }

  async deletePool(name: string): Promise<void> {
    const existing = await this.readDeployment(name);
    if (!existing || existing.metadata?.labels?.[POOL_LABEL] !== name) return;
    try {
      await this.call(`delete pool ${name}`, () =>
        this.apps.deleteNamespacedDeployment({ name, namespace: this.namespace, propagationPolicy: 'Background' }),
      );
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'NOT_FOUND')) throw error;
    }
  }

  /** A watch on the pool Deployments; it relists and resumes after the server closes it or history expires (410). */
  async watchPools(onChange: (change: PoolChange) => void): Promise<PoolWatch> {
    const watcher = new this.k8s.Watch(this.options.kubeConfig);
    let closed = false;
    let abort: AbortController | undefined;
    let resourceVersion: string | undefined;
    const path = `/apis/apps/v1/namespaces/${this.namespace}/deployments`;
    const start = async (): Promise<void> => {
      if (closed) return;
      if (!resourceVersion) {
        const list = await this.call('list pools', () =>
          this.apps.listNamespacedDeployment({ namespace: this.namespace, labelSelector: POOL_LABEL }),
        );
        resourceVersion = list.metadata?.resourceVersion;
      }
      abort = await watcher.watch(
        path,
        { labelSelector: POOL_LABEL, resourceVersion, allowWatchBookmarks: true },
        (phase, object: K8s.V1Deployment) => {
          if (object?.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
          if (phase === 'ERROR') {
            resourceVersion = undefined; // 410 Gone: relist
            return;
          }
          const pool = toPool(object);
          if (!pool || phase === 'BOOKMARK') return;
          onChange({ type: phase === 'DELETED' ? 'DELETE' : 'UPSERT', pool });
        },
        () => {
          if (closed) return;
          setTimeout(() => void start().catch(() => setTimeout(() => void start(), 1000)), 200);
        },
      );
    };
    await start();
    return {
      close: async () => {
        closed = true;
        abort?.abort();
      },
    };
  }

  private async readDeployment(name: string): Promise<K8s.V1Deployment | undefined> {
    try {
      return await this.call(`read pool ${name}`, () => this.apps.readNamespacedDeployment({ name, namespace: this.namespace }));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  private poolDeployment(name: string, replicas: number, labels: Record<string, string>): K8s.V1Deployment {
    const podLabels = { [POOL_LABEL]: name };
    return {
      metadata: { name, namespace: this.namespace, labels: { ...labels, [POOL_LABEL]: name, 'app.kubernetes.io/managed-by': 'qp-manager' } },
      spec: {
        replicas,
        selector: { matchLabels: podLabels },
        template: {
          metadata: { labels: podLabels },
          spec: {
            terminationGracePeriodSeconds: 30,
            containers: [
              {
                name: 'agent',
                image: this.options.agentImage,
                env: [{ name: 'QP_POOL', value: name }],
                resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
              },
            ],
          },
        },
      },
    };
  }

  /** One API call with a deadline; 5xx, 429 and timeouts are retried with backoff, the rest mapped to DomainErrors. */
  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await withDeadline(request(), this.timeoutMs, what);
      } catch (error) {
        const mapped = toDomainError(error, what, this.namespace);
        const retryable = mapped.code === 'UNAVAILABLE';
        // A 409 goes up as is: scalePool re-reads and retries it.
        if (!retryable || attempt >= this.retries) throw isConflict(error) ? error : mapped;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }
}

function toPool(deployment: K8s.V1Deployment): AgentPool | undefined {
  const name = deployment.metadata?.name;
  const labels = { ...(deployment.metadata?.labels ?? {}) };
  if (!name || labels[POOL_LABEL] !== name) return undefined;
  delete labels[POOL_LABEL];
  delete labels['app.kubernetes.io/managed-by'];
  return { name, desired: deployment.spec?.replicas ?? 0, ready: deployment.status?.readyReplicas ?? 0, labels };
}

/** The HTTP status and body of the client's ApiException (every call runs after the module loaded). */
function apiStatus(error: unknown): { code: number; body: unknown } | undefined {
  return loadedClient && error instanceof loadedClient.ApiException ? error : undefined;
}

function isConflict(error: unknown): boolean {
  return apiStatus(error)?.code === 409;
}

class DeadlineExceeded extends Error {}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** HTTP status -> error code; the API server's own message is kept for people, never matched. */
export function toDomainError(error: unknown, what: string, namespace: string): DomainError {
  if (error instanceof DomainError) return error;
  const api = apiStatus(error);
  if (api) {
    const status = api.code;
    const reason = (parseBody(api.body) as { message?: string })?.message ?? `HTTP ${status}`;
    const details = { status, namespace };
    if (status === 401) return new DomainError('UNAUTHENTICATED', `kubernetes ${what}: ${reason}`, details);
    if (status === 403) return new DomainError('FORBIDDEN', `kubernetes ${what}: forbidden by RBAC: ${reason}`, details);
    if (status === 404) return new DomainError('NOT_FOUND', `kubernetes ${what}: ${reason}`, details);
    if (status === 409) return new DomainError('CONFLICT', `kubernetes ${what}: ${reason}`, details);
    if (status === 400 || status === 422) return new DomainError('INVALID_ARGUMENT', `kubernetes ${what}: ${reason}`, details);
    return new DomainError('UNAVAILABLE', `kubernetes ${what}: ${reason}`, details);
  }
  return new DomainError('UNAVAILABLE', `kubernetes ${what}: ${error instanceof Error ? error.message : String(error)}`, { namespace });
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
