// The API server: one Temporal client and the process's ports (built by the
// composition root that calls it), the app, readiness and a graceful close.
import type { Client } from '@temporalio/client';
import { createServer } from 'node:http';
import type { Config } from '../core/config';
import type { BlobStore, ClusterPort, MessagingPort, VectorPort } from '../adapters/ports';
import { MemoryCluster } from '../adapters/memory/cluster';
import { createApp } from './app';
import { createApiMetrics } from './metrics';
import { SwarmService } from './swarm-service';
import { TuningService } from './tuning-service';
import { BehaviorService } from './behavior-service';
import { PoolService } from './pool-service';
import { checkReadiness, temporalCheck, type Readiness } from './health';
import { closeGracefully, listen } from './listen';

export interface ApiServer {
  port: number;
  url: string;
  swarm: SwarmService;
  tuning: TuningService;
  behaviors: BehaviorService;
  pools: PoolService;
  /** The dependencies' state, as /readyz reports it. */
  readiness(): Promise<Readiness>;
  /**
   * Stops accepting connections, lets in-flight requests finish within
   * QP_SHUTDOWN_GRACE_MS (or graceMs), then closes what is left. Connections
   * and ports belong to the caller.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startApiServer(deps: {
  config: Config;
  client: Client;
  messaging: MessagingPort;
  blobs: BlobStore;
  /** Where behaviors and skills are read. */
  vectors: VectorPort;
  /** Where agent pools run; unset: an empty in-memory cluster (pools show their policy only). */
  cluster?: ClusterPort;
  credentialSecret: string;
  /** Overrides QP_API_PORT; 0 picks a free port. */
  port?: number;
}): Promise<ApiServer> {
  const { config } = deps;
  let swarm: SwarmService | undefined;
  const metrics = createApiMetrics((status) => swarm!.countAgents(status));
  swarm = new SwarmService(
    deps.client,
    deps.messaging,
    {
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.QP_TASK_QUEUE,
      handshakeTimeoutMs: config.QP_HANDSHAKE_TIMEOUT_MS,
      credentialSecret: deps.credentialSecret,
    },
    metrics,
  );
  const tuning = new TuningService(deps.client, deps.blobs, {
    taskQueue: config.QP_TASK_QUEUE,
    defaultSwarm: config.QP_DEFAULT_SWARM,
    liveSwarms: (max) => swarm!.liveSwarms(max),
  });
  const behaviors = new BehaviorService(deps.client, deps.messaging, deps.vectors, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    dimension: config.QP_BEHAVIOR_DIMENSION,
    metric: config.QP_BEHAVIOR_METRIC,
    managerSecret: deps.credentialSecret,
  });
  const pools = new PoolService(deps.client, deps.cluster ?? new MemoryCluster(), config.QP_TASK_QUEUE, config.QP_AUTOSCALE_INTERVAL_S);
  let closing = false;
  const readiness = async (): Promise<Readiness> => {
    const report = await checkReadiness({ temporal: temporalCheck(deps.client.connection) });
    if (closing) {
      report.status = 'not ready';
      report.checks.api = 'down: shutting down';
      report.down.push('api');
    }
    return report;
  };
  const app = createApp({
    swarm,
    tuning,
    behaviors,
    pools,
    metrics,
    adminToken: config.QP_ADMIN_TOKEN,
    bodyLimit: config.QP_BODY_LIMIT,
    readiness,
    temporal: { connection: deps.client.connection, deadlineMs: config.QP_API_TEMPORAL_DEADLINE_MS },
  });
  const server = createServer(app);
  const host = config.QP_LISTEN_HOST;
  const port = await listen(server, { port: deps.port ?? config.QP_API_PORT, host, variable: 'QP_API_PORT' });
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    swarm,
    tuning,
    behaviors,
    pools,
    readiness,
    close: (graceMs = config.QP_SHUTDOWN_GRACE_MS) => {
      closing = true;
      return closeGracefully(server, graceMs);
    },
  };
}
