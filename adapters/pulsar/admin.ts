// Pulsar admin REST client: tenants, a namespace per swarm with its policies,
// and backlog statistics for the scheduler. Every call is bounded by a timeout
// and retried with backoff while the broker is unreachable.
import { PulsarError, describeError } from './errors';
import { brokerMessage, httpError, withRetry } from './socket';
import { assertSegment } from './topics';

export interface NamespacePolicies {
  /** Keep acknowledged messages this long (minutes; -1 forever, 0 not at all). */
  retentionMinutes: number;
  /** ...and up to this size (MB; -1 unlimited). */
  retentionSizeMb: number;
  /** Unacknowledged messages expire after this (seconds; 0 never). */
  messageTtlSeconds: number;
  /**
   * Clusters the namespace replicates to (geo-replication). Unset: the
   * broker's own cluster only. See infra/pulsar-geo-replication.md.
   */
  replicationClusters?: string[];
}

export const DEFAULT_POLICIES: NamespacePolicies = {
  retentionMinutes: 24 * 60,
  retentionSizeMb: 1024,
  messageTtlSeconds: 7 * 24 * 3600,
};

export interface PulsarAdminOptions {
  /** http(s)://host:port of the broker's web service. */
  url: string;
  authToken?: string;
  /** Bound on one HTTP request. Default 10 s. */
  requestTimeoutMs?: number;
  /** Bound on all attempts of one call while the broker is unreachable. Default 30 s. */
  unavailableAfterMs?: number;
}

export type PermissionAction = 'produce' | 'consume';

export interface SubscriptionBacklogStats {
  subscription: string;
  /** Messages not yet acknowledged on the subscription. */
  msgBacklog: number;
  /** Publish time (ms since the epoch) of the subscription's oldest unacknowledged message; absent without backlog. */
  earliestMsgPublishTimeInBacklog?: number;
  type?: string;
  consumers: number;
}

export class PulsarAdmin {
  private readonly url: string;
  private readonly requestTimeoutMs: number;
  private readonly unavailableAfterMs: number;
  private clusterNames?: Promise<string[]>;

  constructor(private readonly options: PulsarAdminOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.unavailableAfterMs = options.unavailableAfterMs ?? 30_000;
  }

  /** The broker answers its health check ("ok"): it can store and deliver a message. */
  async healthy(): Promise<boolean> {
    try {
      return (await this.request('GET', '/admin/v2/brokers/health', undefined, { retry: false })) === 'ok';
    } catch {
      return false;
    }
  }

  async clusters(): Promise<string[]> {
    this.clusterNames ??= this.request('GET', '/admin/v2/clusters').then((body) => body as string[]);
    try {
      return await this.clusterNames;
    } catch (error) {
      this.clusterNames = undefined;
      throw error;
    }
  }

  /** Creates the tenant if missing, allowed on the broker's clusters plus `extraClusters`. */
  async ensureTenant(tenant: string, extraClusters: string[] = []): Promise<void> {
    assertSegment('tenant', tenant);
    const allowedClusters = [...new Set([...(await this.clusters()), ...extraClusters])];
    const created = await this.request('PUT', `/admin/v2/tenants/${tenant}`, { adminRoles: [], allowedClusters }, {
      accept: [409],
    });
    if (created === ACCEPTED_STATUS) {
      // Exists: make sure it may use the clusters the namespaces will replicate to.
      const info = (await this.request('GET', `/admin/v2/tenants/${tenant}`)) as { allowedClusters?: string[] };
      const missing = allowedClusters.filter((c) => !(info.allowedClusters ?? []).includes(c));
      if (missing.length > 0) {
        await this.request('POST', `/admin/v2/tenants/${tenant}`, {
          ...info,
          allowedClusters: [...(info.allowedClusters ?? []), ...missing],
        });
      }
    }
  }

  /** Creates tenant/namespace if missing and applies the policies (again, if it existed). Idempotent. */
  async ensureNamespace(tenant: string, namespace: string, policies: NamespacePolicies = DEFAULT_POLICIES): Promise<void> {
    assertSegment('namespace', namespace);
    await this.ensureTenant(tenant, policies.replicationClusters);
    const base = `/admin/v2/namespaces/${tenant}/${namespace}`;
    await this.request('PUT', base, {}, { accept: [409] });
    await this.request('POST', `${base}/retention`, {
      retentionTimeInMinutes: policies.retentionMinutes,
      retentionSizeInMB: policies.retentionSizeMb,
    });
    await this.request('POST', `${base}/messageTTL`, policies.messageTtlSeconds);
    if (policies.replicationClusters && policies.replicationClusters.length > 0) {
      await this.request('POST', `${base}/replication`, policies.replicationClusters);
    }
  }

  async namespacePolicies(tenant: string, namespace: string): Promise<Record<string, unknown>> {
    return (await this.request('GET', `/admin/v2/namespaces/${tenant}/${namespace}`)) as Record<string, unknown>;
  }

  /**
   * msgBacklog per subscription of a topic (tenant/namespace/local), with the publish time of each
   * subscription's oldest unacknowledged message; empty when the topic does not exist.
   */
  async backlog(topicPath: string): Promise<SubscriptionBacklogStats[]> {
    const stats = (await this.request('GET', `/admin/v2/persistent/${topicPath}/stats?getEarliestTimeInBacklog=true`, undefined, {
      accept: [404],
    })) as
      | typeof ACCEPTED_STATUS
      | {
          subscriptions?: Record<
            string,
            { msgBacklog?: number; earliestMsgPublishTimeInBacklog?: number; type?: string; consumers?: unknown[] }
          >;
        };
    if (stats === ACCEPTED_STATUS || typeof stats !== 'object' || !stats.subscriptions) return [];
    return Object.entries(stats.subscriptions).map(([subscription, s]) => ({
      subscription,
      msgBacklog: s.msgBacklog ?? 0,
      // The broker reports 0 (or -1) when the subscription has nothing waiting.
      earliestMsgPublishTimeInBacklog:
        (s.msgBacklog ?? 0) > 0 && (s.earliestMsgPublishTimeInBacklog ?? 0) > 0 ? s.earliestMsgPublishTimeInBacklog : undefined,
      type: s.type,
      consumers: s.consumers?.length ?? 0,
    }));
  }

  /** Creates a non-partitioned persistent topic (tenant/namespace/local) if missing. */
  async ensureTopic(topicPath: string): Promise<void> {
    await this.request('PUT', `/admin/v2/persistent/${topicPath}`, undefined, { accept: [409] });
  }

  /** Deletes a topic with its subscriptions and data (tenant/namespace/local). */
  async deleteTopic(topicPath: string): Promise<void> {
    await this.request('DELETE', `/admin/v2/persistent/${topicPath}?force=true`, undefined, { accept: [404] });
  }

  /** Grants a role actions on every topic of a namespace (topics created later included). */
  async grantNamespace(tenant: string, namespace: string, role: string, actions: PermissionAction[]): Promise<void> {
    assertSegment('role', role);
    await this.request('POST', `/admin/v2/namespaces/${tenant}/${namespace}/permissions/${role}`, actions);
  }

  /** Takes a role's namespace-level permissions away; nothing to take is no error. */
  async revokeNamespace(tenant: string, namespace: string, role: string): Promise<void> {
    assertSegment('role', role);
    await this.request('DELETE', `/admin/v2/namespaces/${tenant}/${namespace}/permissions/${role}`, undefined, { accept: [404] });
  }

  /** Grants a role actions on one topic (tenant/namespace/local), creating the topic if missing. */
  async grantTopic(topicPath: string, role: string, actions: PermissionAction[]): Promise<void> {
    assertSegment('role', role);
    await this.ensureTopic(topicPath);
    await this.request('POST', `/admin/v2/persistent/${topicPath}/permissions/${role}`, actions);
  }

  /** Takes a role's permissions on one topic away; a topic or grant that is not there is no error. */
  async revokeTopic(topicPath: string, role: string): Promise<void> {
    assertSegment('role', role);
    // 412: the role has no permission set on this topic.
    await this.request('DELETE', `/admin/v2/persistent/${topicPath}/permissions/${role}`, undefined, { accept: [404, 412] });
  }

  /** Topics of a namespace, as tenant/namespace/local paths. */
  async topics(tenant: string, namespace: string): Promise<string[]> {
    const names = (await this.request('GET', `/admin/v2/persistent/${tenant}/${namespace}`)) as string[];
    return names.map((name) => name.replace(/^persistent:\/\//, ''));
  }

  /** Deletes an empty namespace (brokers refuse forced deletion by default: delete its topics first). */
  async deleteNamespace(tenant: string, namespace: string): Promise<void> {
    await this.request('DELETE', `/admin/v2/namespaces/${tenant}/${namespace}`, undefined, { accept: [404] });
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    options: { accept?: number[]; retry?: boolean } = {},
  ): Promise<unknown> {
    const url = `${this.url}${path}`;
    const attempt = async (): Promise<unknown> => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (this.options.authToken) headers.authorization = `Bearer ${this.options.authToken}`;
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
      } catch (error) {
        throw new PulsarError('UNAVAILABLE', `${method} ${url}: ${describeError((error as Error).cause ?? error)}`);
      }
      const text = await response.text();
      if (options.accept?.includes(response.status)) return ACCEPTED_STATUS;
      if (!response.ok) throw httpError(response.status, brokerMessage(text), `${method} ${url}`);
      if (text.length === 0) return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    };
    if (options.retry === false) return attempt();
    return withRetry(attempt, { deadlineMs: this.unavailableAfterMs, what: `Pulsar admin ${method} ${path}` });
  }
}

/** Marker for an accepted non-2xx status (409 exists, 404 missing). */
const ACCEPTED_STATUS = Symbol('accepted-status');
