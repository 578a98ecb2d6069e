// The API process: `npm run api`. Scales apart from the workers; serves
// /healthz, /readyz and /metrics beside the REST API on QP_API_PORT. SIGTERM
// stops accepting, lets in-flight requests finish within QP_SHUTDOWN_GRACE_MS,
// then closes the ports and the Temporal connection.
import { Client, Connection } from '@temporalio/client';
import { ConfigError, parseConfig } from '../core/config';
import { startApiServer } from '../api/server';
import { temporalConnectionOptions } from '../api/temporal-connection';
import { runMain, stopOnSignals } from './lifecycle';
import { createJsonLogger, setProcessLog } from '../adapters/logging/json-logger';
import { closePorts, createPorts } from './ports';

runMain(async (shutdown) => {
  const config = parseConfig(process.env);
  if (!config.QP_CREDENTIAL_SECRET) {
    throw new ConfigError([
      { variable: 'QP_CREDENTIAL_SECRET', message: 'required for a standalone API (the workers must share it)' },
    ]);
  }
  if (config.QP_MESSAGING === 'memory') {
    console.warn('QP_MESSAGING=memory: challenges and messages do not leave this process; workers elsewhere need QP_MESSAGING=pulsar');
  }
  setProcessLog(createJsonLogger(config.QP_LOG_LEVEL, { extraSecrets: [config.QP_CREDENTIAL_SECRET, config.QP_ADMIN_TOKEN].filter((s): s is string => !!s) }));
  stopOnSignals(shutdown, config.QP_SHUTDOWN_GRACE_MS + 10_000);
  const connection = await Connection.connect(temporalConnectionOptions(config.TEMPORAL_ADDRESS));
  shutdown.add('the Temporal connection', () => connection.close());
  const ports = await createPorts(config);
  shutdown.add('the ports', () => closePorts(ports));
  const api = await startApiServer({
    config,
    client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    messaging: ports.messaging,
    blobs: ports.blobs,
    vectors: ports.vectors,
    analytics: ports.analytics,
    cluster: ports.cluster,
    agentAccess: ports.agentAccess,
    credentialSecret: config.QP_CREDENTIAL_SECRET,
  });
  shutdown.add('the API server', () => api.close());
  console.log(`API on ${api.url} (Temporal ${config.TEMPORAL_ADDRESS} namespace ${config.TEMPORAL_NAMESPACE})`);
});
