// The one configuration schema. Parsed once at start-up from the environment;
// a bad value stops start-up with a message naming the variable.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

export const configSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('qp-manager'),
  QP_TASK_QUEUE: z.string().min(1).default('qp-manager'),
  PULSAR_SERVICE_URL: z.string().url().optional(),
  PULSAR_ADMIN_URL: z.string().url().optional(),
  MILVUS_ADDRESS: z.string().optional(),
  MILVUS_HOST: z.string().optional(),
  KUBECONFIG: z.string().optional(),
  QP_API_PORT: port.default(8080),
  QP_METRICS_PORT: port.default(9464),
  QP_SDK_METRICS_PORT: port.default(9465),
  QP_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  QP_CREDENTIAL_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  QP_CREDENTIAL_TTL_S: z.coerce.number().int().positive().default(86_400),
  QP_HANDSHAKE_TIMEOUT_MS: positiveMs.default(30_000),
  QP_HEARTBEAT_GRACE_MS: positiveMs.default(30_000),
  QP_LIVENESS_WINDOW_MS: positiveMs.default(5_000),
  QP_MESSAGING: z.enum(['memory', 'pulsar']).default('memory'),
  QP_VECTORS: z.enum(['memory', 'milvus']).default('memory'),
  QP_CLUSTER: z.enum(['local', 'kubernetes']).default('local'),
  QP_BLOB_DIR: z.string().optional(),
  QP_BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'expected a size such as 256kb').default('256kb'),
});

export type Config = z.infer<typeof configSchema>;

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
  if (config.QP_VECTORS === 'milvus' && !config.MILVUS_ADDRESS && !config.MILVUS_HOST) {
    throw new ConfigError([{ variable: 'MILVUS_ADDRESS', message: 'required when QP_VECTORS=milvus' }]);
  }
  if (config.QP_CLUSTER === 'kubernetes' && !config.KUBECONFIG) {
    throw new ConfigError([{ variable: 'KUBECONFIG', message: 'required when QP_CLUSTER=kubernetes' }]);
  }
  return config;
}
