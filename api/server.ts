// Composition root of the API: one Temporal client, the chosen ports, the app.
import type { Client } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Config } from '../core/config';
import type { BlobStore, MessagingPort, VectorPort } from '../adapters/ports';
import { createApp } from './app';
import { createApiMetrics } from './metrics';
import { SwarmService } from './swarm-service';
import { TuningService } from './tuning-service';
import { BehaviorService } from './behavior-service';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MilvusVectors } from '../adapters/milvus/vectors';

export interface ApiServer {
  port: number;
  url: string;
  swarm: SwarmService;
  tuning: TuningService;
  behaviors: BehaviorService;
  close(): Promise<void>;
}

export async function startApiServer(deps: {
  config: Config;
  client: Client;
  messaging: MessagingPort;
  blobs: BlobStore;
  /** Where behaviors and skills are read; the embedded default passes the worker's. Default: from config. */
  vectors?: VectorPort;
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
  const tuning = new TuningService(deps.client, deps.blobs, config.QP_TASK_QUEUE);
  const ownVectors = deps.vectors ? undefined : apiVectors(config);
  const behaviors = new BehaviorService(deps.client, deps.messaging, deps.vectors ?? ownVectors!, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    dimension: config.QP_BEHAVIOR_DIMENSION,
    metric: config.QP_BEHAVIOR_METRIC,
    cursorSecret: deps.credentialSecret,
  });
  const app = createApp({ swarm, tuning, behaviors, metrics, adminToken: config.QP_ADMIN_TOKEN, bodyLimit: config.QP_BODY_LIMIT });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(deps.port ?? config.QP_API_PORT, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    swarm,
    tuning,
    behaviors,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }).then(() => ownVectors?.close()),
  };
}

/** The API's own vector port when none is shared with a worker: Milvus when configured. */
function apiVectors(config: Config): VectorPort {
  if (config.QP_VECTORS !== 'milvus') return new MemoryVectors();
  return new MilvusVectors({
    address: config.MILVUS_ADDRESS ?? `${config.MILVUS_HOST}:19530`,
    index: config.MILVUS_INDEX,
  });
}
