// Chooses the adapters behind each port from config: the one place a process
// builds its messaging client, its Milvus client and its blob store. The worker
// and the API roots both call createPorts, once per process.
import { ConfigError, type Config } from '../core/config';
import type { AnalyticsRuntime, AnalyticsWindowSource, BlobStore, ClusterPort, MessagingPort, VectorPort } from '../adapters/ports';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MilvusVectors } from '../adapters/milvus/vectors';
import { MemoryCluster } from '../adapters/memory/cluster';
import { ProcessPoolCluster } from '../adapters/process/cluster';
import { KubernetesCluster, loadKubeConfig } from '../adapters/kubernetes/cluster';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { FilesystemBlobStore } from '../adapters/blobs/filesystem';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { loadNativeTransport } from '../adapters/pulsar/native';
import { pulsarOptions } from '../adapters/pulsar/options';
import type { Registry } from 'prom-client';
import { instrumentMessaging } from '../adapters/prometheus/messaging';
import { instrumentVectors } from '../adapters/prometheus/vectors';
import { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { AnalyticsWindowsReader } from '../adapters/memory/analytics-windows';
import { FlinkAnalyticsRuntime } from '../adapters/flink/analytics-runtime';
import { FlinkRest } from '../adapters/flink/rest';
import { resolve } from 'node:path';
import type { AgentMessagingAccess, ModelEvaluator } from '../adapters/ports';
import { OpenAgentMessagingAccess } from '../adapters/memory/agent-messaging-access';
import { PulsarAgentAccess } from '../adapters/pulsar/agent-access';
import { PulsarAdmin } from '../adapters/pulsar/admin';
import { readFileSync } from 'node:fs';
import { EvaluatorRegistry } from '../adapters/evaluation/registry';
import { DigitsEvaluator } from '../adapters/datasets/digits-evaluator';

export interface Ports {
  messaging: MessagingPort;
  vectors: VectorPort;
  cluster: ClusterPort;
  blobs: BlobStore;
  /** Where the swarms' analytics run: a Flink cluster (FLINK_JOB_MANAGER_URL) or this process. */
  analytics?: AnalyticsRuntime;
  /** Server-side evaluators by model kind; default: createEvaluators(). */
  evaluator?: ModelEvaluator;
  /** Agents' own broker identities (PULSAR_AGENT_TOKEN_SECRET_KEY_FILE); default: none, the broker is open to the swarm. */
  agentAccess?: AgentMessagingAccess;
  /** The analytics' windows for task placement (QP_ANALYTICS_MEASURED_MAX_AGE_MS > 0); default: declared profiles only. */
  analyticsWindows?: AnalyticsWindowSource;
}

export async function createPorts(config: Config): Promise<Ports> {
  const cluster = await createCluster(config);
  const messaging = await createMessaging(config);
  return {
    messaging,
    vectors: createVectors(config),
    cluster,
    blobs: config.QP_BLOB_DIR ? new FilesystemBlobStore(config.QP_BLOB_DIR) : new MemoryBlobStore(),
    analytics: createAnalytics(config, messaging),
    evaluator: createEvaluators(),
    agentAccess: createAgentAccess(config),
    analyticsWindows: config.QP_ANALYTICS_MEASURED_MAX_AGE_MS > 0 ? new AnalyticsWindowsReader(messaging) : undefined,
  };
}

/**
 * Per-session Pulsar roles when the broker authorises each agent (PULSAR_AGENT_TOKEN_SECRET_KEY_FILE):
 * the manager's own token (PULSAR_AUTH_TOKEN) must be a superuser's to grant them.
 */
export function createAgentAccess(config: Config): AgentMessagingAccess {
  if (!config.PULSAR_AGENT_TOKEN_SECRET_KEY_FILE) return new OpenAgentMessagingAccess();
  let secretKey: Buffer;
  try {
    secretKey = readFileSync(config.PULSAR_AGENT_TOKEN_SECRET_KEY_FILE);
  } catch (error) {
    throw new ConfigError([
      { variable: 'PULSAR_AGENT_TOKEN_SECRET_KEY_FILE', message: `cannot read ${config.PULSAR_AGENT_TOKEN_SECRET_KEY_FILE}: ${(error as Error).message}` },
    ]);
  }
  const endpoints = pulsarOptions({ serviceUrl: config.PULSAR_SERVICE_URL as string, adminUrl: config.PULSAR_ADMIN_URL, tenant: config.PULSAR_TENANT });
  return new PulsarAgentAccess({
    admin: new PulsarAdmin({ url: endpoints.adminUrl, authToken: config.PULSAR_AUTH_TOKEN }),
    mapping: { tenant: config.PULSAR_TENANT, defaultNamespace: 'system' },
    secretKey,
  });
}

export type PortRole = 'messaging' | 'vectors' | 'blobs' | 'cluster' | 'analytics';

/** What each port of this process really is (from the adapters built, not the settings), for start-up banners. */
export function describePorts(ports: Ports): Record<PortRole, string> {
  const { messaging, vectors, blobs, cluster, analytics } = ports;
  return {
    messaging:
      messaging instanceof MemoryMessaging
        ? 'in-process broker (QP_MESSAGING=memory)'
        : messaging instanceof PulsarMessaging
          ? 'Pulsar over its WebSocket API'
          : 'Pulsar, native client',
    vectors: vectors instanceof MemoryVectors ? 'in-process exact search (QP_VECTORS=memory)' : vectors instanceof MilvusVectors ? 'Milvus' : 'other',
    blobs: blobs instanceof FilesystemBlobStore ? 'files (QP_BLOB_DIR)' : 'in-process, gone on exit (QP_BLOB_DIR unset)',
    cluster:
      cluster instanceof ProcessPoolCluster
        ? 'local process pool (QP_CLUSTER=local)'
        : cluster instanceof KubernetesCluster
          ? 'Kubernetes API (QP_CLUSTER=kubernetes)'
          : cluster instanceof MemoryCluster
            ? 'in-memory, no processes (QP_CLUSTER=memory)'
            : 'other',
    analytics: analytics?.kind === 'flink' ? 'Flink job per swarm (FLINK_JOB_MANAGER_URL)' : 'embedded engine',
  };
}

/**
 * The server-side evaluators this worker has held-out data for: softmax-digits
 * on the digits split. Kinds without one (vector) are not scored server-side.
 */
export function createEvaluators(): EvaluatorRegistry {
  return new EvaluatorRegistry().register('softmax-digits', new DigitsEvaluator());
}

/** The analytics job on Flink when FLINK_JOB_MANAGER_URL is set, else the embedded engine. */
export function createAnalytics(config: Config, messaging: MessagingPort): AnalyticsRuntime {
  const options = {
    windowMs: config.QP_ANALYTICS_WINDOW_MS,
    latenessMs: config.QP_ANALYTICS_LATENESS_MS,
    graceMs: config.QP_HEARTBEAT_GRACE_MS,
    flapThreshold: config.QP_ANALYTICS_FLAP_THRESHOLD,
    burstThreshold: config.QP_ANALYTICS_BURST_THRESHOLD,
    decisionIdleMs: config.QP_ANALYTICS_DECISION_IDLE_MS,
  };
  if (!config.FLINK_JOB_MANAGER_URL) return new EmbeddedAnalyticsRuntime(messaging, options);
  const pulsar = pulsarOptions({ serviceUrl: config.PULSAR_SERVICE_URL as string, adminUrl: config.PULSAR_ADMIN_URL, tenant: config.PULSAR_TENANT });
  return new FlinkAnalyticsRuntime(new FlinkRest({ url: config.FLINK_JOB_MANAGER_URL }), {
    url: config.FLINK_JOB_MANAGER_URL,
    jarPath: resolve(__dirname, '..', config.QP_ANALYTICS_JAR),
    pulsarServiceUrl: config.QP_ANALYTICS_PULSAR_URL ?? (config.PULSAR_SERVICE_URL as string),
    pulsarAdminUrl: pulsar.adminUrl,
    tenant: config.PULSAR_TENANT,
    options,
  });
}

/** Closes the ports that hold connections or processes; errors of one do not skip the others. */
export async function closePorts(ports: Ports): Promise<void> {
  const results = await Promise.allSettled([
    ports.analytics?.close(),
    ports.analyticsWindows?.close(),
    ports.messaging.close(),
    ports.vectors.close(),
    ports.cluster instanceof ProcessPoolCluster ? ports.cluster.close() : Promise.resolve(),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Agent pools: simulator agent processes on this machine (local), a map (memory), or
 * Deployments in QP_KUBE_NAMESPACE through KUBECONFIG, or the pod's service account when unset.
 */
async function createCluster(config: Config): Promise<ClusterPort> {
  if (config.QP_CLUSTER === 'memory') return new MemoryCluster();
  if (config.QP_CLUSTER === 'local') return new ProcessPoolCluster();
  let kubeConfig;
  try {
    kubeConfig = await loadKubeConfig(config.KUBECONFIG);
  } catch (error) {
    throw new ConfigError([
      {
        variable: 'KUBECONFIG',
        message: `${config.KUBECONFIG ?? 'unset, and not running in a cluster'}: ${error instanceof Error ? error.message : String(error)}`,
      },
    ]);
  }
  return KubernetesCluster.create({
    kubeConfig,
    namespace: config.QP_KUBE_NAMESPACE,
    agentImage: config.QP_AGENT_IMAGE,
    timeoutMs: config.QP_KUBE_TIMEOUT_MS,
  });
}

/** Milvus (MILVUS_ADDRESS, or MILVUS_HOST on the default port 19530), or exact search in process. */
function createVectors(config: Config): VectorPort {
  if (config.QP_VECTORS !== 'milvus') return new MemoryVectors();
  return new MilvusVectors({
    address: config.MILVUS_ADDRESS ?? `${config.MILVUS_HOST}:19530`,
    index: config.MILVUS_INDEX,
  });
}

/** Namespaces and policies are applied on first use of each swarm, by either transport. */
async function createMessaging(config: Config): Promise<MessagingPort> {
  if (config.QP_MESSAGING !== 'pulsar') return new MemoryMessaging();
  const endpoints = {
    serviceUrl: config.PULSAR_SERVICE_URL as string,
    adminUrl: config.PULSAR_ADMIN_URL,
    authToken: config.PULSAR_AUTH_TOKEN,
    tenant: config.PULSAR_TENANT,
    replicationClusters: config.PULSAR_REPLICATION_CLUSTERS?.split(','),
  };
  if (config.QP_PULSAR_TRANSPORT === 'websocket') return new PulsarMessaging(pulsarOptions(endpoints));
  const native = await loadNativeTransport();
  if (!native.available) {
    throw new ConfigError([
      {
        variable: 'QP_PULSAR_TRANSPORT',
        message:
          `native: ${native.reason}. It is an optional dependency: \`npm install pulsar-client\` installs it ` +
          'where its install script can download the prebuilt binary or build against libpulsar; ' +
          'or set QP_PULSAR_TRANSPORT=websocket',
      },
    ]);
  }
  return native.create({
    serviceUrl: endpoints.serviceUrl,
    adminUrl: endpoints.adminUrl as string, // parseConfig requires it with the native transport
    authToken: endpoints.authToken,
    tenant: endpoints.tenant,
    policies: endpoints.replicationClusters ? { replicationClusters: endpoints.replicationClusters } : undefined,
  });
}

/** The same ports with messaging and vector store metrics recorded in registry. */
export function instrumentPorts(ports: Ports, registry: Registry): Ports {
  return {
    ...ports,
    messaging: instrumentMessaging(ports.messaging, registry),
    vectors: instrumentVectors(ports.vectors, registry),
  };
}
