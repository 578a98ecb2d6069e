// With Temporal unreachable, every route that needs it answers fast and
// honestly: 503 naming Temporal within a few seconds, not a bare 500 after the
// client's retries run out (20-30 s).
import { Client, Connection } from '@temporalio/client';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import { parseConfig } from '../core/config';
import { startApiServer, type ApiServer } from '../api/server';
import { temporalConnectionOptions } from '../api/temporal-connection';

const ADMIN = 'admin-token-for-temporal-down-tests';

describe('the API when Temporal is unreachable', () => {
  let api: ApiServer;
  let connection: Connection;
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    // A port nothing listens on.
    const probe = createServer();
    const deadPort = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    connection = Connection.lazy(temporalConnectionOptions(`127.0.0.1:${deadPort}`));
    api = await startApiServer({
      config: parseConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}`, QP_ADMIN_TOKEN: ADMIN, QP_DEFAULT_SWARM: 'some-swarm' }),
      client: new Client({ connection }),
      messaging: new MemoryMessaging(),
      blobs: { put: async () => '', get: async () => undefined, has: async () => false } as never,
      vectors: new MemoryVectors(),
      credentialSecret: randomBytes(32).toString('hex'),
      port: 0,
    });
  });
  afterAll(async () => {
    await api?.close();
    await connection?.close();
  });

  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  it.each([
    ['a listing', 'GET', '/api/v1/swarm/agents', undefined],
    ['a registration', 'POST', '/api/v1/swarm/register', { agentId: 'agent-001', publicKey: pem }],
    ['one agent', 'GET', '/api/v1/swarm/agents/agent-001', undefined],
    ['a job start', 'POST', '/api/v1/tuning/start', {}],
    ['the latest behavior report', 'GET', '/api/v1/behaviors/latest', undefined],
  ])('%s is answered 503 naming Temporal within 5 s', async (_what, method, path, body) => {
    const started = Date.now();
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { ...admin, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/^Temporal (is unreachable|did not answer in time)/);
    expect(elapsed).toBeLessThan(5_000);
    console.log(`${method} ${path}: 503 in ${elapsed} ms`);
  });

  it('/metrics, which counts agents in Temporal, still answers, within 5 s', async () => {
    const started = Date.now();
    const res = await fetch(`${api.url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('qp_manager_http_requests_total');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('/readyz says the same: 503, temporal down', async () => {
    const res = await fetch(`${api.url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { down: string[] }).down).toEqual(['temporal']);
  });
});
