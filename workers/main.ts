// A standalone worker process: `npm run worker`. Serves its own metrics on
// QP_METRICS_PORT and the Temporal SDK's on QP_SDK_METRICS_PORT; SIGTERM drains it.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createServer } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, parseConfig } from '../core/config';
import { createPorts } from './ports';
import { createQpWorker } from './worker';
import { behaviorOptions } from './behaviors';

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  if (!config.QP_CREDENTIAL_SECRET) {
    throw new ConfigError([
      { variable: 'QP_CREDENTIAL_SECRET', message: 'required for a standalone worker (the API must share it)' },
    ]);
  }
  if (config.QP_MESSAGING === 'memory') {
    console.warn('QP_MESSAGING=memory: agents outside this process cannot reach this worker; use npm start for the embedded mode');
  }
  Runtime.install({
    logger: new DefaultLogger('INFO'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.QP_SDK_METRICS_PORT}` } } },
  });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qp_manager_worker_' });
  const metricsServer = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  }).listen(config.QP_METRICS_PORT, '127.0.0.1');

  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const ports = createPorts(config);
  const worker = await createQpWorker({
    connection: nativeConnection,
    client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.QP_TASK_QUEUE,
    ports,
    credentialSecret: config.QP_CREDENTIAL_SECRET,
    credentialTtlSeconds: config.QP_CREDENTIAL_TTL_S,
    heartbeatGraceMs: config.QP_HEARTBEAT_GRACE_MS,
    livenessWindowMs: config.QP_LIVENESS_WINDOW_MS,
    // A prebuilt bundle (scripts/build-workflow-bundle or the test set-up) skips bundling at start.
    workflowBundlePath: process.env.QP_WORKFLOW_BUNDLE || undefined,
    registry,
    behaviors: behaviorOptions(config),
  });
  console.log(
    `worker on ${config.TEMPORAL_ADDRESS} namespace ${config.TEMPORAL_NAMESPACE} task queue ${config.QP_TASK_QUEUE}; ` +
      `metrics :${config.QP_METRICS_PORT}/metrics, SDK metrics :${config.QP_SDK_METRICS_PORT}/metrics`,
  );
  await worker.run(); // Runtime shuts the worker down on SIGINT/SIGTERM.
  metricsServer.close();
  await ports.messaging.close();
  await ports.vectors.close();
  await connection.close();
  await nativeConnection.close();
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
