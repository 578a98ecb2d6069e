// Every route of api/openapi.yaml, taken from the document itself so that a new
// route is covered the day it is declared, called as each kind of caller: no
// token, a malformed token, a forged credential, an agent of the swarm, an agent
// of another swarm, the admin. The answers must follow the route's declared
// security, and no answer (nor /metrics) may ever carry a secret.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { issueCredential } from '../core/credentials';
import { QpAgent } from '../agents/sdk';
import { OPENAPI_PATH } from '../api/app';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  $ref?: string;
  example?: unknown;
}
interface Operation {
  operationId: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
}
interface Route {
  method: string;
  path: string;
  op: Operation;
  params: Parameter[];
}

const CREDENTIAL_SECRET = 'security-matrix-credential-secret-0123456789abcdef';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

function documentedRoutes(): Route[] {
  const doc = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as {
    paths: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>;
    components: { parameters: Record<string, Parameter> };
  };
  const resolve = (p: Parameter): Parameter =>
    p.$ref ? doc.components.parameters[p.$ref.replace('#/components/parameters/', '')] : p;
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((method) => {
      const op = item[method] as Operation;
      return { method: method.toUpperCase(), path, op, params: [...(item.parameters ?? []), ...(op.parameters ?? [])].map(resolve) };
    }),
  );
}

const schemes = (route: Route): Set<string> => new Set((route.op.security ?? []).flatMap((s) => Object.keys(s)));
const isPublic = (route: Route): boolean => route.op.security !== undefined && route.op.security.length === 0;

describe('the security matrix: every declared route x every kind of caller', () => {
  let stack: Embedded;
  let own: QpAgent;
  let stranger: QpAgent;
  const swarmId = uniqueId('matrix');
  const otherSwarm = uniqueId('matrix-other');
  const routes = documentedRoutes();

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_CREDENTIAL_SECRET: CREDENTIAL_SECRET });
    const agent = (swarm: string) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: uniqueId('agent'),
        swarmId: swarm,
        capabilities: ['train'],
        resources: { cpu: 1, memoryMb: 512 },
        heartbeatIntervalMs: 60_000,
        handshakeTimeoutMs: 10_000,
      });
    own = agent(swarmId);
    stranger = agent(otherSwarm);
    await own.register();
    await stranger.register();
  });
  afterAll(async () => {
    await own?.close();
    await stranger?.close();
    await stack?.stop();
  });

  const secrets = (): string[] => [ADMIN_TOKEN, CREDENTIAL_SECRET, own.token!, stranger.token!];

  /** Calls the route with ids that point at `own`'s agent and swarm (or at nothing, for the admin). */
  async function call(route: Route, token: string | undefined, target: 'own' | 'nothing'): Promise<{ status: number; body: string }> {
    let path = route.path;
    for (const p of route.params.filter((p) => p.in === 'path')) {
      const value = target === 'own' && p.name === 'id' && route.path.startsWith('/api/v1/swarm/agents/') ? own.agentId : uniqueId('none');
      path = path.replace(`{${p.name}}`, value);
    }
    const query = new URLSearchParams();
    for (const p of route.params.filter((p) => p.in === 'query')) {
      if (p.name === 'swarmId') query.set('swarmId', swarmId);
      else if (p.example !== undefined) query.set(p.name, String(p.example));
    }
    const res = await fetch(`${stack.api.url}${path}${query.size ? `?${query}` : ''}`, {
      method: route.method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined,
    });
    const body = await res.text();
    for (const secret of secrets()) {
      if (body.includes(secret)) throw new Error(`${route.method} ${route.path} answered with a secret in its body`);
    }
    return { status: res.status, body };
  }

  it('covers every declared operation (at least the ones that exist today)', () => {
    expect(routes.length).toBeGreaterThanOrEqual(23);
    expect(routes.filter((r) => !isPublic(r)).every((r) => schemes(r).size > 0)).toBe(true);
  });

  it('without a token, with a malformed token or a forged credential, every protected route answers 401', async () => {
    const forged = issueCredential('not-the-secret-of-this-server-0123456789', {
      sub: 'agent-x',
      swarm: swarmId,
      gen: 1,
      iat: Math.floor(Date.now() / 1000),
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    const wrong: string[] = [];
    for (const route of routes.filter((r) => !isPublic(r))) {
      for (const token of [undefined, 'not-a-token', forged]) {
        const { status } = await call(route, token, 'own');
        if (status !== 401) wrong.push(`${route.method} ${route.path} with ${token ? token.slice(0, 10) : 'no token'}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('public routes answer without a token', async () => {
    const wrong: string[] = [];
    for (const route of routes.filter(isPublic)) {
      const { status } = await call(route, undefined, 'nothing');
      if (status === 401 || status === 403) wrong.push(`${route.method} ${route.path}: ${status}`);
    }
    expect(wrong).toEqual([]);
  });

  it("an agent credential is refused (403) on admin-only routes, and on routes of another agent or another swarm", async () => {
    const wrong: string[] = [];
    for (const route of routes.filter((r) => !isPublic(r))) {
      const allowed = schemes(route);
      const scoped =
        route.path.startsWith('/api/v1/swarm/agents/{id}') ||
        route.params.some((p) => p.in === 'query' && p.name === 'swarmId');
      if (!allowed.has('agentCredential')) {
        const { status } = await call(route, own.token, 'own');
        if (status !== 403) wrong.push(`${route.method} ${route.path} (admin only) with an agent credential: ${status}`);
      } else if (scoped) {
        const { status } = await call(route, stranger.token, 'own');
        if (status !== 403) wrong.push(`${route.method} ${route.path} with another swarm's agent: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the admin token passes authentication on every route that declares it, and is refused where only agents may call', async () => {
    const wrong: string[] = [];
    for (const route of routes.filter((r) => !isPublic(r))) {
      const { status } = await call(route, ADMIN_TOKEN, 'nothing');
      const refused = status === 401 || status === 403;
      if (schemes(route).has('adminToken') === refused) wrong.push(`${route.method} ${route.path} with the admin token: ${status}`);
    }
    expect(wrong).toEqual([]);
  });

  it('no secret appears in /metrics after all of the above', async () => {
    const text = await (await fetch(`${stack.api.url}/metrics`)).text();
    expect(text).toContain('qp_manager_');
    for (const secret of secrets()) expect(text.includes(secret)).toBe(false);
  });
});
