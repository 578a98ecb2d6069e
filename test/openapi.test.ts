// api/openapi.yaml against the API it documents: the routes express serves,
// the zod request schemas, the response types, and OpenAPI's own structure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { ZodArray, ZodDefault, ZodEnum, ZodNumber, ZodObject, ZodOptional, ZodString, type ZodTypeAny } from 'zod';
import { createApp, OPENAPI_PATH } from '../api/app';
import { createApiMetrics } from '../api/metrics';
import {
  agentIdParamSchema,
  challengeResponseSchema,
  heartbeatSchema,
  listAgentsQuerySchema,
  registerRequestSchema,
} from '../api/schemas';
import type { AgentPage, AgentSummary, CredentialGranted, RegistrationAccepted } from '../api/swarm-service';
import {
  AGENT_STATUSES,
  ID_PATTERN,
  type AgentRecord,
  type AgentResources,
  type ChallengeMessage,
  type EnergyProfile,
} from '../core/agents';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Mount points of routers, used only if the router library keeps no raw path on its layers. */
const KNOWN_MOUNTS = ['/api/v1/swarm', '/api/v1/tuning', '/api/v1/behaviors', '/api/v1/skills', '/api/v1/analytics', '/api/v1/tasks', '/api/v1/governance', '/api/v1'];

const doc: Json = parse(readFileSync(OPENAPI_PATH, 'utf8'));

function buildApp() {
  return createApp({
    swarm: {} as never, // no request reaches the services here
    tuning: {} as never,
    behaviors: {} as never,
    status: {} as never,
    decisions: {} as never,
    governance: {} as never,
    analytics: {} as never,
    tasks: {} as never,
    pools: {} as never,
    metrics: createApiMetrics(async () => 0),
    adminToken: 'a'.repeat(32),
    bodyLimit: '16kb',
  });
}

// ---------------------------------------------------------------- routes

function mountPath(layer: Json): string {
  if (typeof layer.rawPath === 'string') return layer.rawPath;
  const hit = KNOWN_MOUNTS.find(
    (mount) =>
      (layer.matchers ?? []).some((match: (p: string) => { path: string } | false) => {
        const m = match(`${mount}/x`);
        return m !== false && m.path === mount;
      }) || layer.regexp?.test(mount),
  );
  if (!hit) throw new Error(`cannot tell where router layer ${layer.name} is mounted`);
  return hit;
}

/** "METHOD /path" for every route in an express router stack, nested routers included. */
function servedRoutes(stack: Json[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths: unknown[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        if (typeof path !== 'string') throw new Error(`route path ${String(path)} is not a string`);
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') throw new Error(`router.all() on ${path} cannot be documented per method`);
          // A router's own root ('/') is its mount path: POST /api/v1/tasks, not /api/v1/tasks/.
          out.push(`${method.toUpperCase()} ${toOpenApiPath(path === '/' && prefix ? prefix : prefix + path)}`);
        }
      }
    } else if (Array.isArray(layer.handle?.stack)) {
      out.push(...servedRoutes(layer.handle.stack, prefix + mountPath(layer)));
    }
  }
  return out;
}

const toOpenApiPath = (expressPath: string): string => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function documentedOperations(): Array<{ key: string; path: string; method: string; op: Json; pathItem: Json }> {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, pathItem]) =>
    HTTP_METHODS.filter((m) => pathItem[m] !== undefined).map((method) => ({
      key: `${method.toUpperCase()} ${path}`,
      path,
      method,
      op: pathItem[method],
      pathItem,
    })),
  );
}

// ---------------------------------------------------------------- $refs and schemas

function resolvePointer(ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are used: ${ref}`);
  let node: Json = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(part in node)) throw new Error(`unresolved $ref ${ref}`);
    node = node[part];
  }
  return node;
}

const deref = (node: Json): Json => (node && typeof node.$ref === 'string' ? deref(resolvePointer(node.$ref)) : node);

function allRefs(node: Json, at = '#'): Array<{ ref: string; at: string }> {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === '$ref' ? [{ ref: v as string, at }] : allRefs(v, `${at}/${k}`),
  );
}

/** A doc schema with $refs resolved and allOf merged, reduced to the constraints zod can express. */
function normalizeDoc(schema: Json): Json {
  let s = deref(schema);
  if (Array.isArray(s.allOf)) {
    const { allOf, ...own } = s;
    s = Object.assign({}, ...allOf.map(deref), own);
  }
  const out: Json = { type: s.type };
  for (const k of ['pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'enum', 'default', 'minItems', 'maxItems']) {
    if (s[k] !== undefined) out[k] = s[k];
  }
  if (s.exclusiveMinimum === true) out.exclusiveMinimum = true;
  if (s.exclusiveMaximum === true) out.exclusiveMaximum = true;
  if (s.type === 'array') out.items = normalizeDoc(s.items);
  if (s.type === 'object') {
    out.properties = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, normalizeDoc(v)]));
    out.required = [...(s.required ?? [])].sort();
    out.additionalProperties = s.additionalProperties !== false;
  }
  return out;
}

/** The same reduction of a zod schema. */
function normalizeZod(schema: ZodTypeAny): Json {
  if (schema instanceof ZodOptional) return normalizeZod(schema.unwrap());
  if (schema instanceof ZodDefault) return { ...normalizeZod(schema.removeDefault()), default: schema._def.defaultValue() };
  if (schema instanceof ZodObject) {
    const shape = schema.shape as Record<string, ZodTypeAny>;
    return {
      type: 'object',
      properties: Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, normalizeZod(v)])),
      required: Object.keys(shape)
        .filter((k) => !shape[k].isOptional())
        .sort(),
      additionalProperties: schema._def.unknownKeys !== 'strict',
    };
  }
  if (schema instanceof ZodString) {
    const out: Json = { type: 'string' };
    for (const check of schema._def.checks) {
      if (check.kind === 'min') out.minLength = check.value;
      else if (check.kind === 'max') out.maxLength = check.value;
      else if (check.kind === 'regex') out.pattern = check.regex.source;
      else throw new Error(`zod string check ${check.kind} has no mapping here`);
    }
    return out;
  }
  if (schema instanceof ZodNumber) {
    const integer = schema._def.checks.some((c) => c.kind === 'int');
    const out: Json = { type: integer ? 'integer' : 'number' };
    for (const check of schema._def.checks) {
      if (check.kind === 'int') continue;
      if (check.kind === 'min') {
        // An exclusive bound on an integer is the next integer, inclusive.
        if (check.inclusive) out.minimum = check.value;
        else if (integer) out.minimum = Math.floor(check.value) + 1;
        else Object.assign(out, { minimum: check.value, exclusiveMinimum: true });
      } else if (check.kind === 'max') {
        if (check.inclusive) out.maximum = check.value;
        else if (integer) out.maximum = Math.ceil(check.value) - 1;
        else Object.assign(out, { maximum: check.value, exclusiveMaximum: true });
      } else throw new Error(`zod number check ${check.kind} has no mapping here`);
    }
    return out;
  }
  if (schema instanceof ZodArray) {
    const out: Json = { type: 'array', items: normalizeZod(schema.element) };
    if (schema._def.minLength) out.minItems = schema._def.minLength.value;
    if (schema._def.maxLength) out.maxItems = schema._def.maxLength.value;
    return out;
  }
  if (schema instanceof ZodEnum) return { type: 'string', enum: [...schema.options] };
  throw new Error(`zod type ${schema._def.typeName} has no mapping here`);
}

const requestSchema = (operationId: string): Json => {
  const found = documentedOperations().find((o) => o.op.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId}`);
  return found.op.requestBody.content['application/json'].schema;
};

function responseSchema(operationId: string, status: string): Json {
  const found = documentedOperations().find((o) => o.op.operationId === operationId);
  return deref(deref(found?.op.responses[status]).content['application/json'].schema);
}

// Exhaustive key lists of the TypeScript response types: tsc fails when a type gains or loses a key.
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Keys<T> = { all: Record<keyof T, true>; required: Record<RequiredKeys<T>, true> };
const keysOf = <T>(k: Keys<T>) => ({ all: Object.keys(k.all).sort(), required: Object.keys(k.required).sort() });

const agentRecordKeys: Keys<AgentRecord> = {
  all: {
    agentId: true, swarmId: true, capabilities: true, resources: true, region: true, publicKey: true, status: true,
    registeredAt: true, statusChangedAt: true, credentialExpiresAt: true, failureReason: true, credentialGeneration: true,
    credentialRevocation: true,
  },
  required: {
    agentId: true, swarmId: true, capabilities: true, resources: true, publicKey: true, status: true,
    registeredAt: true, statusChangedAt: true, credentialGeneration: true,
  },
};
const responseTypes: Array<[string, { all: string[]; required: string[] }]> = [
  ['AgentRecord', keysOf(agentRecordKeys)],
  [
    'AgentResources',
    keysOf<AgentResources>({
      all: { cpu: true, memoryMb: true, gpu: true, energy: true },
      required: { cpu: true, memoryMb: true },
    }),
  ],
  [
    'EnergyProfile',
    keysOf<EnergyProfile>({
      all: { source: true, budgetWh: true, carbonGPerKWh: true, idleWatts: true, busyWatts: true, speed: true, forecast: true },
      required: { source: true },
    }),
  ],
  [
    'RegistrationAccepted',
    keysOf<RegistrationAccepted>({
      all: { created: true, agent: true, inboxTopic: true, workflowId: true, challenge: true },
      required: { created: true, agent: true, inboxTopic: true, workflowId: true },
    }),
  ],
  [
    'IssuedCredential',
    keysOf<CredentialGranted>({ all: { credential: true, agent: true, broker: true }, required: { credential: true, agent: true } }),
  ],
  [
    'AgentSummary',
    keysOf<AgentSummary>({
      all: { agentId: true, swarmId: true, status: true, registeredAt: true },
      required: { agentId: true, swarmId: true, status: true, registeredAt: true },
    }),
  ],
  ['AgentPage', keysOf<AgentPage>({ all: { agents: true, nextPageToken: true }, required: { agents: true } })],
  [
    'ChallengeMessage',
    keysOf<ChallengeMessage>({
      all: { type: true, agentId: true, challenge: true, issuedAt: true },
      required: { type: true, agentId: true, challenge: true, issuedAt: true },
    }),
  ],
];
const registrationAgentKeys = keysOf<RegistrationAccepted['agent']>({
  all: { agentId: true, swarmId: true, status: true },
  required: { agentId: true, swarmId: true, status: true },
});

// ---------------------------------------------------------------- tests

describe('api/openapi.yaml', () => {
  describe('routes', () => {
    const app = buildApp();
    const served = servedRoutes((app as Json).router.stack).sort();
    const documented = documentedOperations()
      .map((o) => o.key)
      .sort();

    it('the walk of the express router finds the top-level and the mounted routes', () => {
      expect(served).toEqual(
        expect.arrayContaining(['GET /healthz', 'POST /api/v1/swarm/register', 'DELETE /api/v1/swarm/agents/{id}']),
      );
      expect(new Set(served).size).toBe(served.length);
    });

    it('documents every route express serves', () => {
      expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    });

    it('documents no route express does not serve', () => {
      expect(documented.filter((r) => !served.includes(r))).toEqual([]);
    });

    it('is the document the API serves at GET /api/v1/openapi.yaml', async () => {
      const res = await request(app).get('/api/v1/openapi.yaml');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/yaml/);
      expect(res.text).toBe(readFileSync(OPENAPI_PATH, 'utf8'));
    });
  });

  describe('structure', () => {
    it('is OpenAPI 3.0.3 with info and servers', () => {
      const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
      expect(doc.openapi).toBe('3.0.3');
      expect(doc.info.title).toBe('QP-Manager');
      expect(doc.info.version).toBe(pkg.version);
      expect(doc.servers).toEqual([expect.objectContaining({ url: 'http://127.0.0.1:8080' })]);
      expect(Object.keys(doc.paths).every((p) => p.startsWith('/'))).toBe(true);
    });

    it('declares both bearer schemes', () => {
      for (const name of ['adminToken', 'agentCredential']) {
        expect(doc.components.securitySchemes[name]).toMatchObject({ type: 'http', scheme: 'bearer' });
        expect(doc.components.securitySchemes[name].description).toEqual(expect.any(String));
      }
    });

    it('resolves every $ref', () => {
      const refs = allRefs(doc);
      expect(refs.length).toBeGreaterThan(0);
      for (const { ref, at } of refs) expect(() => resolvePointer(ref)).not.toThrow(`at ${at}`);
    });

    it('gives every operation a unique operationId, a description, a 2xx response and described responses', () => {
      const ops = documentedOperations();
      const ids = ops.map((o) => o.op.operationId);
      expect(ids.every((id) => typeof id === 'string' && /^[A-Za-z][A-Za-z0-9]*$/.test(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      for (const { key, op } of ops) {
        expect([key, typeof op.description === 'string' && op.description.trim().length > 20]).toEqual([key, true]);
        const codes = Object.keys(op.responses ?? {});
        expect([key, codes.some((c) => /^2\d\d$/.test(c))]).toEqual([key, true]);
        for (const code of codes) {
          expect([key, code, /^[1-5]\d\d$/.test(code)]).toEqual([key, code, true]);
          expect([key, code, typeof deref(op.responses[code]).description]).toEqual([key, code, 'string']);
        }
      }
    });

    it('declares each path template parameter, as a required path parameter, and no other', () => {
      for (const { key, path, op, pathItem } of documentedOperations()) {
        const params = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])].map(deref);
        const declared = params.filter((p) => p.in === 'path');
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        expect([key, declared.map((p) => p.name).sort()]).toEqual([key, templated]);
        for (const p of declared) expect([key, p.name, p.required]).toEqual([key, p.name, true]);
        for (const p of params) expect([key, p.name, p.schema !== undefined]).toEqual([key, p.name, true]);
      }
    });

    it('names only declared security schemes, and answers 401 where a token is needed', () => {
      const schemes = Object.keys(doc.components.securitySchemes);
      for (const { key, op } of documentedOperations()) {
        expect([key, Array.isArray(op.security)]).toEqual([key, true]);
        for (const requirement of op.security) {
          for (const name of Object.keys(requirement)) expect([key, schemes.includes(name)]).toEqual([key, true]);
        }
        if (op.security.length > 0) expect([key, op.responses['401'] !== undefined]).toEqual([key, true]);
      }
    });

    it('has a shared Error schema and reusable error responses, used under their own status', () => {
      const reusable: Record<string, string> = {
        BadRequest: '400',
        Unauthorized: '401',
        Forbidden: '403',
        NotFound: '404',
        Conflict: '409',
        PayloadTooLarge: '413',
        InternalError: '500',
        Unavailable: '503',
      };
      const error = doc.components.schemas.Error;
      expect(error.required).toEqual(['error']);
      expect(Object.keys(error.properties.error.properties).sort()).toEqual(['code', 'field', 'message', 'reason']);
      expect([...error.properties.error.required].sort()).toEqual(['code', 'message']);
      expect(Object.keys(doc.components.responses).sort()).toEqual(Object.keys(reusable).sort());
      for (const [name, response] of Object.entries(doc.components.responses as Record<string, Json>)) {
        expect([name, response.content['application/json'].schema.$ref]).toEqual([name, '#/components/schemas/Error']);
      }
      for (const { key, op } of documentedOperations()) {
        for (const [code, response] of Object.entries(op.responses as Record<string, Json>)) {
          if (!/^[45]/.test(code)) continue;
          const name = String(response.$ref ?? '').replace('#/components/responses/', '');
          expect([key, code, reusable[name]]).toEqual([key, code, code]);
        }
        if (op.requestBody) {
          expect([key, op.responses['400'], op.responses['413']]).toEqual([key, expect.anything(), expect.anything()]);
        }
      }
    });
  });

  describe('request schemas mirror api/schemas.ts', () => {
    it.each([
      ['registerAgent', registerRequestSchema],
      ['respondToChallenge', challengeResponseSchema],
      ['sendHeartbeat', heartbeatSchema],
    ] as const)('%s: the same property names and required set as the zod schema', (operationId, zod) => {
      const schema = deref(requestSchema(operationId));
      const shape = zod.shape as Record<string, ZodTypeAny>;
      expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(shape).sort());
      expect([...(schema.required ?? [])].sort()).toEqual(
        Object.keys(shape)
          .filter((k) => !shape[k].isOptional())
          .sort(),
      );
      expect(schema.additionalProperties).toBe(false);
    });

    it.each([
      ['registerAgent', registerRequestSchema],
      ['respondToChallenge', challengeResponseSchema],
      ['sendHeartbeat', heartbeatSchema],
    ] as const)('%s: the same types, limits, patterns, enums and strictness, nested objects included', (operationId, zod) => {
      expect(normalizeDoc(requestSchema(operationId))).toEqual(normalizeZod(zod));
    });

    it('listAgents: the query parameters are those of listAgentsQuerySchema, with the same constraints', () => {
      const op = documentedOperations().find((o) => o.op.operationId === 'listAgents')!.op;
      const query = (op.parameters as Json[]).map(deref).filter((p) => p.in === 'query');
      const asObject = {
        type: 'object',
        properties: Object.fromEntries(query.map((p) => [p.name, normalizeDoc(p.schema)])),
        required: query.filter((p) => p.required).map((p) => p.name).sort(),
        additionalProperties: false, // the description states that unknown parameters are refused
      };
      expect(asObject).toEqual(normalizeZod(listAgentsQuerySchema));
      expect(op.description).toMatch(/unknown query\s+parameters are refused/i);
    });

    it('the {id} path parameter is the zod id', () => {
      const param = deref(doc.components.parameters.AgentId);
      expect(normalizeDoc(param.schema)).toEqual(normalizeZod(agentIdParamSchema.shape.id));
      expect(deref(param.schema).pattern).toBe(ID_PATTERN.source);
    });
  });

  describe('response schemas mirror the TypeScript types', () => {
    it.each(responseTypes)('%s has the properties and required set of its type', (name, keys) => {
      const schema = doc.components.schemas[name];
      expect(Object.keys(schema.properties).sort()).toEqual(keys.all);
      expect([...(schema.required ?? [])].sort()).toEqual(keys.required);
    });

    it('RegistrationAccepted.agent has the properties of its type', () => {
      const agent = doc.components.schemas.RegistrationAccepted.properties.agent;
      expect(Object.keys(agent.properties).sort()).toEqual(registrationAgentKeys.all);
      expect([...agent.required].sort()).toEqual(registrationAgentKeys.required);
    });

    it('the operations answer with those schemas', () => {
      expect(responseSchema('registerAgent', '202')).toBe(doc.components.schemas.RegistrationAccepted);
      expect(responseSchema('registerAgent', '200')).toBe(doc.components.schemas.RegistrationAccepted);
      expect(responseSchema('respondToChallenge', '200')).toBe(doc.components.schemas.IssuedCredential);
      expect(responseSchema('sendHeartbeat', '202')).toBe(doc.components.schemas.HeartbeatAccepted);
      expect(responseSchema('listAgents', '200')).toBe(doc.components.schemas.AgentPage);
      expect(responseSchema('getAgent', '200')).toBe(doc.components.schemas.AgentRecord);
      expect(responseSchema('deregisterAgent', '200')).toBe(doc.components.schemas.AgentRecord);
      expect(responseSchema('getHealth', '200')).toBe(doc.components.schemas.Health);
    });

    it('the agent status enum is AGENT_STATUSES', () => {
      expect(doc.components.schemas.AgentStatus.enum).toEqual([...AGENT_STATUSES]);
      expect(normalizeDoc(doc.components.schemas.AgentStatus)).toEqual(
        normalizeZod(listAgentsQuerySchema.shape.status),
      );
    });

    it('the energy source enum is the one the register schema accepts', () => {
      expect(doc.components.schemas.EnergyProfile.properties.source.enum).toEqual(
        normalizeZod(registerRequestSchema.shape.resources).properties.energy.properties.source.enum,
      );
    });
  });
});
