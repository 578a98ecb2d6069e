// The embedded default: worker and API in one process sharing the in-process
// ports; only Temporal runs outside.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Config } from '../core/config';
import { startApiServer, type ApiServer } from '../api/server';
import { createPorts, type Ports } from './ports';
import { createQpWorker } from './worker';
import { behaviorOptions } from './behaviors';

export interface Embedded {
  api: ApiServer;
  client: Client;
  ports: Ports;
  worker: Worker;
  workerRegistry: Registry;
  stop(): Promise<void>;
}

export async function startEmbedded(options: {
  config: Config;
  workflowBundlePath?: string;
  apiPort?: number;
  ports?: Ports;
}): Promise<Embedded> {
  const { config } = options;
  const credentialSecret = config.QP_CREDENTIAL_SECRET ?? randomBytes(32).toString('hex');
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const ports = options.ports ?? createPorts(config);
  const workerRegistry = new Registry();
  const worker = await createQpWorker({
    connection: nativeConnection,
    client,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    ports,
    credentialSecret,
    credentialTtlSeconds: config.QP_CREDENTIAL_TTL_S,
    heartbeatGraceMs: config.QP_HEARTBEAT_GRACE_MS,
    livenessWindowMs: config.QP_LIVENESS_WINDOW_MS,
    workflowBundlePath: options.workflowBundlePath,
    registry: workerRegistry,
    behaviors: behaviorOptions(config),
  });
  const running = worker.run();
  const api = await startApiServer({
    config,
    client,
    messaging: ports.messaging,
    blobs: ports.blobs,
    vectors: ports.vectors,
    credentialSecret,
    port: options.apiPort,
  });
  return {
    api,
    client,
    ports,
    worker,
    workerRegistry,
    async stop() {
      await api.close();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await ports.messaging.close();
      await ports.vectors.close();
      await connection.close();
      await nativeConnection.close();
    },
  };
}
