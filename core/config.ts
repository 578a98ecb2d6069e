// The one configuration schema. Parsed once at start-up from the environment;
// a bad value stops start-up with a message naming the variable.
import { z } from 'zod';
import { ID_PATTERN } from './agents';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();
/** A number, or the keyword that lets the code choose. */
const numberOr = <K extends string>(keyword: K, pattern: RegExp, what: string) =>
  z
    .string()
    .regex(pattern, `expected "${keyword}" or ${what}`)
    .transform((value): K | number => (value === keyword ? keyword : Number(value)));

export const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('qp-manager'),
  /** Port of the Temporal Web UI, for the links printed and served; the demo's own dev server listens there. */
  TEMPORAL_UI_PORT: port.default(8233),
  QP_TASK_QUEUE: z.string().min(1).default('qp-manager'),
  PULSAR_SERVICE_URL: z.string().url().optional(),
  PULSAR_ADMIN_URL: z.string().url().optional(),
  /** JWT for the Pulsar broker (token authentication); unset: no authentication. */
  PULSAR_AUTH_TOKEN: z.string().min(1).optional(),
  /**
   * File with the broker's token secret key (Pulsar's tokenSecretKey). Set: each agent session gets
   * a Pulsar role and token of its own, with topic permissions granted and revoked by the manager.
   */
  PULSAR_AGENT_TOKEN_SECRET_KEY_FILE: z.string().min(1).optional(),
  PULSAR_TENANT: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.=:-]*$/, 'expected a Pulsar tenant name').default('qp-manager'),
  /** Comma-separated clusters each swarm namespace replicates to (geo-replication); unset: the local cluster. */
  PULSAR_REPLICATION_CLUSTERS: z.string().regex(/^[\w.-]+(,[\w.-]+)*$/, 'expected cluster names separated by commas').optional(),
  MILVUS_ADDRESS: z.string().optional(),
  MILVUS_HOST: z.string().optional(),
  KUBECONFIG: z.string().optional(),
  /** Interface the API and the worker's HTTP server listen on; 0.0.0.0 in a container. */
  QP_LISTEN_HOST: z.string().regex(/^\S+$/, 'expected a host name or IP address').default('127.0.0.1'),
  QP_API_PORT: port.default(8080),
  /** The standalone worker's HTTP server: /healthz, /readyz and its /metrics. */
  QP_METRICS_PORT: port.default(9464),
  QP_SDK_METRICS_PORT: port.default(9465),
  /** How long a stopping process lets in-flight requests and activities finish. */
  QP_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** A workflow bundle built by `npm run build:bundle`; unset: the worker bundles at start-up. */
  QP_WORKFLOW_BUNDLE: z.string().optional(),
  QP_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  QP_CREDENTIAL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  QP_CREDENTIAL_TTL_S: z.coerce.number().int().positive().default(86_400),
  QP_HANDSHAKE_TIMEOUT_MS: positiveMs.default(30_000),
  QP_HEARTBEAT_GRACE_MS: positiveMs.default(30_000),
  QP_LIVENESS_WINDOW_MS: positiveMs.default(5_000),
  QP_MESSAGING: z.enum(['memory', 'pulsar']).default('memory'),
  /** How QP_MESSAGING=pulsar reaches the broker: its WebSocket API, or the optional npm pulsar-client. */
  QP_PULSAR_TRANSPORT: z.enum(['websocket', 'native']).default('websocket'),
  QP_VECTORS: z.enum(['memory', 'milvus']).default('memory'),
  /** local: pools of simulator agent processes on this machine; memory: a map; kubernetes: Deployments. */
  QP_CLUSTER: z.enum(['local', 'memory', 'kubernetes']).default('local'),
  QP_BLOB_DIR: z.string().optional(),
  /** The swarm `POST /api/v1/tuning/start` uses when the request names none; unset: the only swarm with live agents. */
  QP_DEFAULT_SWARM: z
    .string()
    .regex(ID_PATTERN, 'expected a swarm id (1-64 letters, digits, ".", "_" or "-")')
    .optional(),
  /** Budget of one API request's Temporal calls together; past it the request is answered 503. */
  QP_API_TEMPORAL_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(4_000),
  QP_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'expected a size such as 256kb').default('256kb'),
  /** Structured (JSON) log level of the worker and API processes. */
  QP_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Base URL of the Temporal Web UI the status page links to; unset: port 8233 of TEMPORAL_ADDRESS's host. */
  QP_TEMPORAL_UI_URL: z.string().url().optional(),
  /**
   * Per-agent analytics series on /metrics, labelled with the agent id: one series per agent and
   * signal, so off by default (the swarm's aggregates are exported either way).
   */
  QP_METRICS_AGENT_LABELS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  // Behavior discovery (README "Behavior discovery").
  /** Vector index of new Milvus collections. */
  MILVUS_INDEX: z.enum(['HNSW', 'IVF_FLAT', 'FLAT']).default('HNSW'),
  /** Descriptor length of every swarm's behavior reports. */
  QP_BEHAVIOR_DIMENSION: z.coerce.number().int().min(1).max(4096).default(16),
  QP_BEHAVIOR_METRIC: z.enum(['L2', 'COSINE']).default('L2'),
  /** Cron (UTC) of the sweep Schedule, or "off". */
  QP_BEHAVIOR_SWEEP_CRON: z
    .string()
    .regex(/^(off|@every \S+|(\S+\s+){4}\S+)$/, 'expected a 5-field cron expression, "@every <duration>" or "off"')
    .default('*/5 * * * *'),
  QP_BEHAVIOR_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(256),
  QP_BEHAVIOR_SWEEP_MAX_REPORTS: z.coerce.number().int().positive().default(20_000),
  QP_BEHAVIOR_DRAIN_IDLE_MS: positiveMs.default(1_000),
  QP_BEHAVIOR_K: z.coerce.number().int().min(1).max(1000).default(15),
  QP_BEHAVIOR_NOVELTY_THRESHOLD: numberOr('auto', /^(auto|\d+(\.\d+)?)$/, 'a non-negative number').default('auto'),
  QP_BEHAVIOR_FITNESS_FLOOR: numberOr('mean', /^(mean|-?\d+(\.\d+)?)$/, 'a number').default('mean'),
  QP_BEHAVIOR_EPS: numberOr('auto', /^(auto|\d+(\.\d+)?)$/, 'a positive number').default('auto'),
  QP_BEHAVIOR_MIN_PTS: z.coerce.number().int().min(1).default(3),
  QP_BEHAVIOR_BROADCAST_TOP: z.coerce.number().int().min(0).max(100).default(3),
  // Analytics (README "Analytics").
  /** The Flink JobManager's REST endpoint; unset: the analytics run embedded, in process. */
  FLINK_JOB_MANAGER_URL: z.string().url().optional(),
  /** The analytics job's shaded jar (`npm run build:analytics`). */
  QP_ANALYTICS_JAR: z.string().min(1).default('analytics/target/qp-analytics.jar'),
  /** pulsar:// URL the Flink job connects to; default PULSAR_SERVICE_URL when that is pulsar://. */
  QP_ANALYTICS_PULSAR_URL: z.string().regex(/^pulsar(\+ssl)?:\/\/\S+$/, 'expected pulsar:// or pulsar+ssl://').optional(),
  QP_ANALYTICS_WINDOW_MS: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
  QP_ANALYTICS_LATENESS_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  QP_ANALYTICS_FLAP_THRESHOLD: z.coerce.number().int().min(0).default(4),
  QP_ANALYTICS_BURST_THRESHOLD: z.coerce.number().int().min(1).default(5),
  /** Event time after which an open decision without events drops its turnout state, ms (core/analytics/engine.ts DECISION_IDLE_MS). */
  QP_ANALYTICS_DECISION_IDLE_MS: z.coerce.number().int().min(1000).default(604_800_000),
  QP_ANALYTICS_MEASURED_MAX_AGE_MS: z.coerce.number().int().min(0).max(86_400_000).default(900_000),
  QP_TASK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(3),
  QP_TASK_ATTEMPT_TIMEOUT_MS: positiveMs.default(300_000),
  QP_TASK_BID_WINDOW_MS: positiveMs.default(2_000),
  QP_TASK_REBALANCE_INTERVAL_S: z.coerce.number().int().min(0).max(86_400).default(60),
  /** Reputation (tasks completed in the swarm + accepted round updates) an agent needs to open a decision; 0: any agent of the swarm. */
  QP_DECISION_PROPOSAL_THRESHOLD: z.coerce.number().min(0).max(1e9).default(0),
  /** Reputation half-life, ms: a completed task or accepted round update counts 1, halving every half-life since; 0: no decay. */
  QP_REPUTATION_HALF_LIFE_MS: z.coerce.number().int().min(0).max(3_153_600_000_000).default(0),
  /** Task queue of agent sessions (registerAgent) and liveness monitors; unset: QP_TASK_QUEUE with -registration. */
  QP_REGISTRATION_TASK_QUEUE: z.string().min(1).optional(),
  /** Task queue of tuning jobs (federatedTuning, asyncTuning); unset: QP_TASK_QUEUE with -tuning. */
  QP_TUNING_TASK_QUEUE: z.string().min(1).optional(),
  /** The task queues a worker process polls, by role: general (QP_TASK_QUEUE), registration, tuning. */
  QP_WORKER_ROLES: z
    .string()
    .regex(/^(general|registration|tuning)(,(general|registration|tuning))*$/, 'expected general, registration and/or tuning separated by commas')
    .default('general,registration,tuning')
    .transform((roles) => [...new Set(roles.split(','))] as WorkerRole[]),
  // Agent pools and autoscaling (README "Agent pools and autoscaling").
  /** Namespace of the agent pool Deployments with QP_CLUSTER=kubernetes. */
  QP_KUBE_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a Kubernetes namespace name').default('default'),
  /** Container image of agent pools QP-Manager creates on Kubernetes. */
  QP_AGENT_IMAGE: z.string().min(1).default('qp-manager/agent:latest'),
  /** Deadline of one Kubernetes API call; slow calls are retried up to 3 times. */
  QP_KUBE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** How often each pool's autoscaling Schedule decides. */
  QP_AUTOSCALE_INTERVAL_S: z.coerce.number().int().min(1).max(3600).default(15),
});

export type Config = z.infer<typeof configSchema>;

/** What a worker's task queue carries: registration (agent sessions, liveness), tuning (jobs), general (everything else). */
export type WorkerRole = 'general' | 'registration' | 'tuning';

/**
 * The task queue of each role. Workflows keep the queue they started on (continue-as-new
 * included), so sessions and jobs started before the roles had queues of their own stay on
 * QP_TASK_QUEUE, where every general worker still runs them.
 */
export function taskQueues(config: Pick<Config, 'QP_TASK_QUEUE' | 'QP_REGISTRATION_TASK_QUEUE' | 'QP_TUNING_TASK_QUEUE'>): Record<WorkerRole, string> {
  return {
    general: config.QP_TASK_QUEUE,
    registration: config.QP_REGISTRATION_TASK_QUEUE ?? `${config.QP_TASK_QUEUE}-registration`,
    tuning: config.QP_TUNING_TASK_QUEUE ?? `${config.QP_TASK_QUEUE}-tuning`,
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(blanksRemoved);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message })),
    );
  }
  const config = parsed.data;
  if (config.QP_MESSAGING === 'pulsar' && !config.PULSAR_SERVICE_URL) {
    throw new ConfigError([{ variable: 'PULSAR_SERVICE_URL', message: 'required when QP_MESSAGING=pulsar' }]);
  }
  if (config.PULSAR_AGENT_TOKEN_SECRET_KEY_FILE && config.QP_MESSAGING !== 'pulsar') {
    throw new ConfigError([{ variable: 'PULSAR_AGENT_TOKEN_SECRET_KEY_FILE', message: 'only with QP_MESSAGING=pulsar' }]);
  }
  if (config.QP_MESSAGING === 'pulsar' && config.QP_PULSAR_TRANSPORT === 'native') {
    const problems: { variable: string; message: string }[] = [];
    if (!/^pulsar(\+ssl)?:\/\//.test(config.PULSAR_SERVICE_URL ?? '')) {
      problems.push({ variable: 'PULSAR_SERVICE_URL', message: 'expected pulsar:// or pulsar+ssl:// with QP_PULSAR_TRANSPORT=native' });
    }
    if (!config.PULSAR_ADMIN_URL) {
      problems.push({ variable: 'PULSAR_ADMIN_URL', message: 'required with QP_PULSAR_TRANSPORT=native (namespaces are managed over the admin API)' });
    }
    if (problems.length) throw new ConfigError(problems);
  }
  if (config.QP_VECTORS === 'milvus' && !config.MILVUS_ADDRESS && !config.MILVUS_HOST) {
    throw new ConfigError([{ variable: 'MILVUS_ADDRESS', message: 'required when QP_VECTORS=milvus' }]);
  }
  if (config.FLINK_JOB_MANAGER_URL) {
    const problems: { variable: string; message: string }[] = [];
    if (config.QP_MESSAGING !== 'pulsar') problems.push({ variable: 'QP_MESSAGING', message: 'must be pulsar with FLINK_JOB_MANAGER_URL (the Flink job reads the swarm topics on Pulsar)' });
    if (!config.QP_ANALYTICS_PULSAR_URL && !/^pulsar(\+ssl)?:\/\//.test(config.PULSAR_SERVICE_URL ?? '')) {
      problems.push({ variable: 'QP_ANALYTICS_PULSAR_URL', message: 'required with FLINK_JOB_MANAGER_URL unless PULSAR_SERVICE_URL is pulsar://' });
    }
    if (problems.length) throw new ConfigError(problems);
  }
  return config;
}
