// The embedded default: worker and API in one process sharing the in-process
// ports; only Temporal runs outside.
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Config } from '../core/config';
import { startApiServer, type ApiServer } from '../api/server';
import { temporalConnectionOptions } from '../api/temporal-connection';
import { closePorts, createPorts, type Ports } from './ports';
import { startQpWorker } from './worker';

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
  /** Overrides QP_API_PORT; 0 picks a free port. */
  apiPort?: number;
  /** Ports built by the caller (tests); default: createPorts(config). They are closed by stop(). */
  ports?: Ports;
}): Promise<Embedded> {
  const { config } = options;
  const credentialSecret = config.QP_CREDENTIAL_SECRET ?? randomBytes(32).toString('hex');
  const connection = await Connection.connect(temporalConnectionOptions(config.TEMPORAL_ADDRESS));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const ports = options.ports ?? (await createPorts(config));
  const workerRegistry = new Registry();
  const worker = await startQpWorker(config, { client, ports, credentialSecret, registry: workerRegistry });
  const api = await startApiServer({
    config,
    client,
    messaging: ports.messaging,
    blobs: ports.blobs,
    vectors: ports.vectors,
    cluster: ports.cluster,
    credentialSecret,
    port: options.apiPort,
  });
  return {
    api,
    client,
    ports,
    worker: worker.worker,
    workerRegistry,
    async stop() {
      await api.close();
      await worker.stop();
      await closePorts(ports);
      await connection.close();
    },
  };
}
