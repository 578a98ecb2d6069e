// The embedded default: worker and API in one process sharing the in-process
// ports; only Temporal runs outside.
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../core/config';
import { startApiServer, type ApiServer } from '../api/server';
import { checkReadiness } from '../api/health';
import { temporalConnectionOptions } from '../api/temporal-connection';
import { closePorts, createPorts, instrumentPorts, type Ports } from './ports';
import { startWorkerHttp, type WorkerHttp } from './http';
import { startQpWorker } from './worker';

export interface Embedded {
  api: ApiServer;
  client: Client;
  ports: Ports;
  worker: Worker;
  /** One worker per polled task queue (QP_WORKER_ROLES): general, registration, tuning. */
  workers: Worker[];
  workerRegistry: Registry;
  /** The worker's /metrics (and probes) when workerMetricsPort was given. */
  workerHttp?: WorkerHttp;
  stop(): Promise<void>;
}

export async function startEmbedded(options: {
  config: Config;
  /** Overrides QP_API_PORT; 0 picks a free port. */
  apiPort?: number;
  /** Ports built by the caller (tests); default: createPorts(config). They are closed by stop(). */
  ports?: Ports;
  /** Serves the worker's /metrics, /healthz and /readyz on this port (0: a free one); default: not served. */
  workerMetricsPort?: number;
}): Promise<Embedded> {
  const { config } = options;
  const credentialSecret = config.QP_CREDENTIAL_SECRET ?? randomBytes(32).toString('hex');
  const connection = await Connection.connect(temporalConnectionOptions(config.TEMPORAL_ADDRESS));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const ports = options.ports ?? (await createPorts(config));
  const workerRegistry = new Registry();
  if (options.workerMetricsPort !== undefined) collectDefaultMetrics({ register: workerRegistry, prefix: 'qp_manager_worker_' });
  // What the manager sends and stores is measured; `ports` stays the raw adapters for callers.
  const measured = instrumentPorts(ports, workerRegistry);
  const worker = await startQpWorker(config, { client, ports: measured, credentialSecret, registry: workerRegistry });
  const workerHttp =
    options.workerMetricsPort === undefined
      ? undefined
      : await startWorkerHttp({
          host: config.QP_LISTEN_HOST,
          port: options.workerMetricsPort,
          variable: 'QP_METRICS_PORT',
          registry: workerRegistry,
          readiness: () => checkReadiness(worker.checks),
        });
  const api = await startApiServer({
    config,
    client,
    messaging: measured.messaging,
    blobs: ports.blobs,
    vectors: measured.vectors,
    analytics: ports.analytics,
    cluster: ports.cluster,
    agentAccess: ports.agentAccess,
    credentialSecret,
    port: options.apiPort,
  });
  return {
    api,
    client,
    ports,
    worker: worker.worker,
    workers: worker.workers,
    workerRegistry,
    workerHttp,
    async stop() {
      await workerHttp?.close();
      await api.close();
      await worker.stop();
      await closePorts(ports);
      await connection.close();
    },
  };
}
