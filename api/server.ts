// Composition root of the API: one Temporal client, the chosen ports, the app.
import type { Client } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Config } from '../core/config';
import type { BlobStore, MessagingPort } from '../adapters/ports';
import { createApp } from './app';
import { createApiMetrics } from './metrics';
import { SwarmService } from './swarm-service';
import { TuningService } from './tuning-service';

export interface ApiServer {
  port: number;
  url: string;
  swarm: SwarmService;
  tuning: TuningService;
  close(): Promise<void>;
}

export async function startApiServer(deps: {
  config: Config;
  client: Client;
  messaging: MessagingPort;
  blobs: BlobStore;
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
  const app = createApp({ swarm, tuning, metrics, adminToken: config.QP_ADMIN_TOKEN, bodyLimit: config.QP_BODY_LIMIT });
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
