// The composition roots' choices: which adapter each setting selects, the one
// mapping from config to a worker's options, and what stops start-up.
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { ConfigError, parseConfig } from '../core/config';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MilvusVectors } from '../adapters/milvus/vectors';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { loadNativeTransport } from '../adapters/pulsar/native';
import { startApiServer } from '../api/server';
import { closePorts, createPorts, describePorts } from '../workers/ports';
import { qpWorkerOptions, startQpWorker } from '../workers/worker';
import { localDevServer, temporalWebUiUrl } from '../workers/local-temporal';

const NATIVE = {
  QP_MESSAGING: 'pulsar',
  QP_PULSAR_TRANSPORT: 'native',
  PULSAR_SERVICE_URL: 'pulsar://127.0.0.1:6650',
  PULSAR_ADMIN_URL: 'http://127.0.0.1:8090',
};

async function problemsOf(promise: Promise<unknown>): Promise<{ variable: string; message: string }[]> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('createPorts', () => {
  it('the embedded default is in-process messaging and vectors', async () => {
    const ports = await createPorts(parseConfig({}));
    expect(ports.messaging).toBeInstanceOf(MemoryMessaging);
    expect(ports.vectors).toBeInstanceOf(MemoryVectors);
    await closePorts(ports);
  });

  it('describes the adapters it built, as the demo banner prints them', async () => {
    const embedded = await createPorts(parseConfig({ QP_CLUSTER: 'memory' }));
    expect(describePorts(embedded)).toEqual({
      messaging: 'in-process broker (QP_MESSAGING=memory)',
      vectors: 'in-process exact search (QP_VECTORS=memory)',
      blobs: 'in-process, gone on exit (QP_BLOB_DIR unset)',
      cluster: 'in-memory, no processes (QP_CLUSTER=memory)',
      analytics: 'embedded engine',
    });
    await closePorts(embedded);
    const remote = await createPorts(
      parseConfig({ QP_MESSAGING: 'pulsar', PULSAR_SERVICE_URL: 'ws://127.0.0.1:8090', QP_VECTORS: 'milvus', MILVUS_HOST: '127.0.0.1' }),
    );
    expect(describePorts(remote)).toMatchObject({ messaging: 'Pulsar over its WebSocket API', vectors: 'Milvus', cluster: 'local process pool (QP_CLUSTER=local)' });
    await closePorts(remote);
  });

  it('Pulsar goes over the WebSocket transport unless QP_PULSAR_TRANSPORT says native', async () => {
    const config = parseConfig({ QP_MESSAGING: 'pulsar', PULSAR_SERVICE_URL: 'ws://127.0.0.1:8090' });
    expect(config.QP_PULSAR_TRANSPORT).toBe('websocket');
    const ports = await createPorts(config);
    expect(ports.messaging).toBeInstanceOf(PulsarMessaging);
    await closePorts(ports);
  });

  it('QP_VECTORS=milvus builds the one Milvus client of the process', async () => {
    const ports = await createPorts(parseConfig({ QP_VECTORS: 'milvus', MILVUS_HOST: '127.0.0.1' }));
    expect(ports.vectors).toBeInstanceOf(MilvusVectors);
    await closePorts(ports);
  });

  const nativeInstalled = loadNativeTransport().then((t) => t.available);
  it('the native transport without the pulsar-client package stops start-up naming QP_PULSAR_TRANSPORT and how to install it', async () => {
    if (await nativeInstalled) return; // where pulsar-client is installed, the transport starts instead
    const problems = await problemsOf(createPorts(parseConfig(NATIVE)));
    expect(problems).toHaveLength(1);
    expect(problems[0].variable).toBe('QP_PULSAR_TRANSPORT');
    expect(problems[0].message).toMatch(/pulsar-client/);
    expect(problems[0].message).toContain('npm install pulsar-client');
    expect(problems[0].message).toContain('QP_PULSAR_TRANSPORT=websocket');
  });

  it('QP_CLUSTER=kubernetes with a kubeconfig that cannot be read stops start-up naming KUBECONFIG', async () => {
    const problems = await problemsOf(createPorts(parseConfig({ QP_CLUSTER: 'kubernetes', KUBECONFIG: '/nowhere' })));
    expect(problems.map((p) => p.variable)).toEqual(['KUBECONFIG']);
  });
});

describe('the worker from config', () => {
  it('takes every setting from the one config mapping', () => {
    const config = parseConfig({
      TEMPORAL_NAMESPACE: 'ns',
      QP_TASK_QUEUE: 'tq',
      QP_CREDENTIAL_TTL_S: '60',
      QP_HEARTBEAT_GRACE_MS: '7000',
      QP_LIVENESS_WINDOW_MS: '700',
      QP_SHUTDOWN_GRACE_MS: '3000',
      QP_WORKFLOW_BUNDLE: '/bundles/workflows.js',
      QP_BEHAVIOR_SWEEP_CRON: 'off',
    });
    const options = qpWorkerOptions(config, {
      connection: {} as never,
      client: {} as never,
      ports: {} as never,
      credentialSecret: 's',
      registry: new Registry(),
    });
    expect(options).toMatchObject({
      namespace: 'ns',
      taskQueue: 'tq',
      credentialTtlSeconds: 60,
      heartbeatGraceMs: 7000,
      livenessWindowMs: 700,
      shutdownGraceTime: 3000,
      workflowBundlePath: '/bundles/workflows.js',
      behaviors: { sweepCron: 'off' },
      registrationTaskQueue: 'tq-registration',
      pollTaskQueues: ['tq', 'tq-registration', 'tq-tuning'],
    });
  });

  it('a QP_WORKFLOW_BUNDLE that is not there stops start-up before anything connects', async () => {
    const config = parseConfig({ QP_WORKFLOW_BUNDLE: '/nowhere/workflow-bundle.js', TEMPORAL_ADDRESS: '127.0.0.1:1' });
    const problems = await problemsOf(
      startQpWorker(config, { client: {} as never, ports: {} as never, credentialSecret: 's' }),
    );
    expect(problems[0].variable).toBe('QP_WORKFLOW_BUNDLE');
    expect(problems[0].message).toContain('npm run build:bundle');
  });
});

describe('API readiness', () => {
  it('/readyz is 503 naming temporal when Temporal does not answer, while /healthz stays 200', async () => {
    // A port nothing listens on.
    const probe = createServer();
    const deadPort = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    const connection = Connection.lazy({ address: `127.0.0.1:${deadPort}` });
    const config = parseConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}` });
    const api = await startApiServer({
      config,
      client: new Client({ connection }),
      messaging: new MemoryMessaging(),
      blobs: { put: async () => '', get: async () => undefined } as never,
      vectors: new MemoryVectors(),
      credentialSecret: randomBytes(32).toString('hex'),
      port: 0,
    });
    try {
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      const res = await fetch(`${api.url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string }; down: string[] };
      expect(body.down).toEqual(['temporal']);
      expect(body.error.code).toBe('UNAVAILABLE');
      expect(body.error.message).toMatch(/^not ready: temporal down: /);
    } finally {
      await api.close();
      await connection.close();
    }
  });
});

describe("the demo's own Temporal dev server", () => {
  it('listens on the port of TEMPORAL_ADDRESS and on TEMPORAL_UI_PORT, and the Web UI link follows both', () => {
    const config = parseConfig({ TEMPORAL_ADDRESS: '127.0.0.1:17233', TEMPORAL_UI_PORT: '18233' });
    expect(localDevServer(config).stackEnv).toEqual({ TEMPORAL_PORT: '17233', TEMPORAL_UI_PORT: '18233' });
    expect(temporalWebUiUrl(config)).toBe('http://127.0.0.1:18233/namespaces/qp-manager/workflows');
  });

  it('is never started for a remote TEMPORAL_ADDRESS: start-up names the variable instead', () => {
    const config = parseConfig({ TEMPORAL_ADDRESS: 'temporal.example.org:7233' });
    expect(() => localDevServer(config)).toThrow(ConfigError);
    expect(() => localDevServer(config)).toThrow(/TEMPORAL_ADDRESS/);
  });

  it('refuses a UI port equal to the frontend port, naming TEMPORAL_UI_PORT', () => {
    const config = parseConfig({ TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_UI_PORT: '7233' });
    expect(() => localDevServer(config)).toThrow(/TEMPORAL_UI_PORT/);
  });
});
