// The worker process: `npm run worker`. Serves /healthz, /readyz and its own
// metrics on QP_METRICS_PORT, the Temporal SDK's metrics on QP_SDK_METRICS_PORT;
// SIGTERM drains the worker within QP_SHUTDOWN_GRACE_MS and closes its ports.
import { Client, Connection } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { createJsonLogger, setProcessLog } from '../adapters/logging/json-logger';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, parseConfig } from '../core/config';
import { checkReadiness, type ReadinessCheck } from '../api/health';
import { startWorkerHttp } from './http';
import { runMain, stopOnSignals } from './lifecycle';
import { closePorts, createPorts, instrumentPorts } from './ports';
import { startQpWorker } from './worker';

runMain(async (shutdown) => {
  const config = parseConfig(process.env);
  if (!config.QP_CREDENTIAL_SECRET) {
    throw new ConfigError([
      { variable: 'QP_CREDENTIAL_SECRET', message: 'required for a standalone worker (the API must share it)' },
    ]);
  }
  if (config.QP_MESSAGING === 'memory') {
    console.warn('QP_MESSAGING=memory: agents outside this process cannot reach this worker; use npm start for the embedded mode');
  }
  // Shutdown is ours (stopOnSignals): the worker drains, then its ports and connections close.
  stopOnSignals(shutdown, config.QP_SHUTDOWN_GRACE_MS + 15_000);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qp_manager_worker_' });
  let checks: Record<string, ReadinessCheck> = {
    worker: () => Promise.reject(new Error('starting')),
  };
  const http = await startWorkerHttp({
    host: config.QP_LISTEN_HOST,
    port: config.QP_METRICS_PORT,
    variable: 'QP_METRICS_PORT',
    registry,
    readiness: () => checkReadiness(checks),
  });
  shutdown.add('the HTTP server', () => http.close());
  const logger = createJsonLogger(config.QP_LOG_LEVEL, { extraSecrets: [config.QP_CREDENTIAL_SECRET, config.QP_ADMIN_TOKEN].filter((s): s is string => !!s) });
  setProcessLog(logger);
  installRuntime(config.QP_LISTEN_HOST, config.QP_SDK_METRICS_PORT, logger);

  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  shutdown.add('the Temporal client connection', () => connection.close());
  const ports = await createPorts(config);
  shutdown.add('the ports', () => closePorts(ports));
  const worker = await startQpWorker(config, {
    client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    ports: instrumentPorts(ports, registry),
    credentialSecret: config.QP_CREDENTIAL_SECRET,
    registry,
  });
  shutdown.add('the worker', () => worker.stop());
  checks = worker.checks;
  console.log(
    `worker on ${config.TEMPORAL_ADDRESS} namespace ${config.TEMPORAL_NAMESPACE} task queues ${worker.workers.map((w) => w.options.taskQueue).join(', ')}; ` +
      `probes and metrics on ${config.QP_LISTEN_HOST}:${http.port} (/healthz, /readyz, /metrics), ` +
      `SDK metrics on :${config.QP_SDK_METRICS_PORT}/metrics`,
  );
  // A worker that fails (rather than being shut down) takes the process with it.
  worker.running.catch(async (error: unknown) => {
    console.error('the worker failed:', error);
    await shutdown.run();
    process.exit(1);
  });
});

function installRuntime(host: string, sdkMetricsPort: number, logger: ReturnType<typeof createJsonLogger>): void {
  try {
    Runtime.install({
      logger,
      shutdownSignals: [],
      telemetryOptions: { metrics: { prometheus: { bindAddress: `${host}:${sdkMetricsPort}` } } },
    });
  } catch (error) {
    throw new ConfigError([
      {
        variable: 'QP_SDK_METRICS_PORT',
        message: `the Temporal SDK cannot serve its metrics on ${host}:${sdkMetricsPort} (${String(error)}); set QP_SDK_METRICS_PORT to a free port`,
      },
    ]);
  }
}
