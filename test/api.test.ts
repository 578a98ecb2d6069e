// The REST API's edges on a real server at port 0: validation, auth, limits.
import { generateKeyPairSync } from 'node:crypto';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

describe('REST API', () => {
  let stack: Embedded;
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const validBody = () => ({
    agentId: uniqueId('api-agent'),
    capabilities: ['train'],
    resources: { cpu: 1, memoryMb: 512 },
    publicKey: pem,
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${stack.api.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string; field?: string } }).error;

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_BODY_LIMIT: '16kb' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it.each([
    ['agentId', { agentId: undefined }],
    ['agentId', { agentId: '../etc' }],
    ['resources.cpu', { resources: { cpu: -1, memoryMb: 512 } }],
    ['resources.memoryMb', { resources: { cpu: 1 } }],
    ['resources.energy.source', { resources: { cpu: 1, memoryMb: 512, energy: { source: 'coal-magic' } } }],
    ['capabilities', { capabilities: 'train' }],
    ['publicKey', { publicKey: 'not a key' }],
  ])('a registration with a bad %s is answered 400 naming the field', async (field, patch) => {
    const res = await post('/api/v1/swarm/register', { ...validBody(), ...patch });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('an RSA key is refused: agents sign with Ed25519', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    const res = await post('/api/v1/swarm/register', { ...validBody(), publicKey: rsa });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/ed25519/);
  });

  it('unknown fields are refused rather than silently dropped', async () => {
    const res = await post('/api/v1/swarm/register', { ...validBody(), admin: true });
    expect(res.status).toBe(400);
  });

  it('a body that is not JSON is answered 400', async () => {
    const res = await post('/api/v1/swarm/register', '{"agentId":');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('body');
  });

  it('a body over the size limit is answered 413 and nothing is started', async () => {
    const body = { ...validBody(), capabilities: Array.from({ length: 2000 }, (_, i) => `capability-${i}`) };
    const res = await post('/api/v1/swarm/register', body);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
    const check = await fetch(`${stack.api.url}/api/v1/swarm/agents/${body.agentId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(check.status).toBe(404);
  });

  it('unknown routes are answered 404 with a JSON error', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/nope`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('NOT_FOUND');
  });

  it('listing agents without a token is 401, with a bad token 401, with an agent credential 403', async () => {
    const url = `${stack.api.url}/api/v1/swarm/agents`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    const forged = 'qpc1.eyJzdWIiOiJ4Iiwic3dhcm0iOiJ5IiwiZ2VuIjoxLCJpYXQiOjEsImV4cCI6OTk5OTk5OTk5OX0.AAAA';
    expect((await fetch(url, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
  });

  it('a heartbeat needs the agent credential', async () => {
    const res = await post('/api/v1/swarm/agents/someone/heartbeat', {}, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(res.status).toBe(401);
  });

  it('a query parameter out of range is answered 400 naming it', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/swarm/agents?pageSize=100000`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe('pageSize');
  });

  it('an answer to a registration that does not exist is 404', async () => {
    const res = await post(`/api/v1/swarm/agents/${uniqueId('ghost')}/challenge-response`, {
      challenge: 'abc',
      signature: 'def',
    });
    expect(res.status).toBe(404);
  });

  it('serves qp_manager_ metrics: requests by route and status, agents by status', async () => {
    await fetch(`${stack.api.url}/api/v1/nope`);
    const text = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(text).toMatch(/qp_manager_http_requests_total\{route="unmatched",method="GET",status="404"\} [1-9]/);
    expect(text).toMatch(/qp_manager_agents\{status="ACTIVE",swarm="_all"\} \d+/);
    expect(text).toContain('qp_manager_registrations_total');
  });
});
