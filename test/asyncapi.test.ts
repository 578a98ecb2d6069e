// api/asyncapi.yaml against the messages the system really publishes: a small
// swarm runs end to end on the in-memory broker (registration, heartbeats over
// messaging and over HTTP, a plain and a secure-aggregation tuning job,
// behavior reports and a sweep that disseminates a skill, delegated tasks, the
// embedded analytics reading it all), every publish of
// the manager and of the agents is captured, and each must match exactly one
// message the document declares for its channel and its sender's side.
import specs from '@asyncapi/specs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createHash, createHmac, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createTaskActivities } from '../activities/tasks';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryCluster } from '../adapters/memory/cluster';
import { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MemoryVectors } from '../adapters/memory/vectors';
import type { MessagingPort } from '../adapters/ports';
import { QpAgent, type Trainer } from '../agents/sdk';
import { noopTrainer } from '../agents/trainers';
import { swarmTopics, type SwarmTopics } from '../core/topics';
import type { SweepReport } from '../core/behaviors/types';
import type { TuningProgress } from '../core/tuning';
import { decisionWorkflowId, tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const ASYNCAPI_PATH = join(__dirname, '..', 'api', 'asyncapi.yaml');
const doc: Json = parse(readFileSync(ASYNCAPI_PATH, 'utf8'));

const CREDENTIAL_SECRET = 'asyncapi-test-relay-secret-0123456789abcdef';
const MODEL_DIMENSION = 8;
const BEHAVIOR_DIMENSION = 4;
/** A parameter value in an address: an id (core/agents.ts ID_PATTERN), never a "/". */
const ADDRESS_PARAMETER = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';

type Side = 'manager' | 'agent';

interface Captured {
  side: Side;
  topic: string;
  key?: string;
  properties: Record<string, string>;
  payload: Uint8Array;
}

/** The port with every successful publish recorded, tagged with who published it. */
function tap(inner: MessagingPort, side: Side, log: Captured[]): MessagingPort {
  return {
    async publish(topic, payload, options = {}) {
      const id = await inner.publish(topic, payload, options);
      log.push({ side, topic, key: options.key, properties: { ...options.properties }, payload: new Uint8Array(payload) });
      return id;
    },
    subscribe: (topic, subscription, options) => inner.subscribe(topic, subscription, options),
    deleteTopic: (topic) => inner.deleteTopic(topic),
    // The agents' view shares the manager's broker; only the manager's closes it.
    close: () => (side === 'manager' ? inner.close() : Promise.resolve()),
  };
}

// ---------------------------------------------------------------- the document

function resolve(ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are used: ${ref}`);
  let node: Json = doc;
  for (const part of ref.slice(2).split('/')) {
    if (node === null || typeof node !== 'object' || !(part in node)) throw new Error(`unresolved $ref ${ref}`);
    node = node[part];
  }
  return node;
}

function allRefs(node: Json, at = '#'): Array<{ ref: string; at: string }> {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (k === '$ref' ? [{ ref: v as string, at }] : allRefs(v, `${at}/${k}`)));
}

/** The component message id a '#/channels/<c>/messages/<m>' or '#/components/messages/<m>' reference ends at. */
function messageId(ref: string): string {
  const target = resolve(ref);
  if (typeof target.$ref === 'string') return messageId(target.$ref);
  const match = /^#\/components\/messages\/([^/]+)$/.exec(ref);
  if (!match) throw new Error(`${ref} is not a component message`);
  return match[1];
}

const channelIdOf = (ref: string): string => /^#\/channels\/([^/]+)$/.exec(ref)?.[1] ?? '';

interface Operation {
  id: string;
  action: 'send' | 'receive';
  channel: string;
  messages: string[];
}

const operations: Operation[] = Object.entries(doc.operations as Record<string, Json>).map(([id, op]) => ({
  id,
  action: op.action,
  channel: channelIdOf(op.channel.$ref),
  messages: (op.messages as Json[]).map((m) => messageId(m.$ref)),
}));

const channelIds = Object.keys(doc.channels);
const documentedMessages = Object.keys(doc.components.messages);

/** A regular expression of a channel address, each {parameter} an id. */
function addressPattern(address: string): RegExp {
  const parts = address.split(/(\{[A-Za-z]+\})/).map((part) =>
    /^\{[A-Za-z]+\}$/.test(part) ? ADDRESS_PARAMETER : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  );
  return new RegExp(`^${parts.join('')}$`);
}

const channelPatterns = channelIds.map((id) => ({ id, pattern: addressPattern(doc.channels[id].address) }));

/** Messages a side may publish on a channel: the manager's are its sends, the agents' what it receives. */
function candidates(channel: string, side: Side): string[] {
  const action = side === 'manager' ? 'send' : 'receive';
  return [...new Set(operations.filter((o) => o.channel === channel && o.action === action).flatMap((o) => o.messages))];
}

// ---------------------------------------------------------------- schemas

const SCHEMAS_ID = 'asyncapi-schemas';

/** The schema with its '#/components/schemas/X' refs pointed at the registered components. */
function forAjv(node: Json): Json {
  if (Array.isArray(node)) return node.map(forAjv);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) =>
      k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
        ? [k, `${SCHEMAS_ID}#/definitions/${v.slice('#/components/schemas/'.length)}`]
        : [k, forAjv(v)],
    ),
  );
}

const ajv = new Ajv({ strict: true, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: SCHEMAS_ID, definitions: forAjv(doc.components.schemas) });

interface CompiledMessage {
  id: string;
  binary: boolean;
  headers: ValidateFunction;
  payload?: ValidateFunction;
  orderingKey: { in: 'header' | 'payload'; field: string };
}

const compiled: Record<string, CompiledMessage> = Object.fromEntries(
  documentedMessages.map((id) => {
    const message = doc.components.messages[id];
    const binary = message.contentType === 'application/octet-stream';
    const key = /^\$message\.(header|payload)#\/([A-Za-z]+)$/.exec(message['x-qp-ordering-key'] ?? '');
    if (!key) throw new Error(`message ${id} names no ordering key`);
    return [
      id,
      {
        id,
        binary,
        headers: ajv.compile(forAjv(message.headers)),
        payload: binary ? undefined : ajv.compile(forAjv(message.payload)),
        orderingKey: { in: key[1] as 'header' | 'payload', field: key[2] },
      },
    ];
  }),
);

const describeErrors = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('; ');

interface Match {
  channel?: string;
  matched: string[];
  /** Why each candidate did not match. */
  misses: Record<string, string>;
}

/** The channel the topic belongs to and the documented messages the message satisfies. */
function match(message: Pick<Captured, 'side' | 'topic' | 'properties' | 'payload'>): Match {
  const channels = channelPatterns.filter((c) => c.pattern.test(message.topic)).map((c) => c.id);
  if (channels.length !== 1) return { channel: channels.join(','), matched: [], misses: { channel: `${channels.length} channels match` } };
  const channel = channels[0];
  const matched: string[] = [];
  const misses: Record<string, string> = {};
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(message.payload).toString('utf8'));
  } catch {
    json = undefined;
  }
  for (const id of candidates(channel, message.side)) {
    const spec = compiled[id];
    if (!spec.headers(message.properties)) {
      misses[id] = `headers: ${describeErrors(spec.headers.errors)}`;
      continue;
    }
    if (spec.binary) {
      if (message.payload.byteLength % 4 !== 0) {
        misses[id] = `payload: ${message.payload.byteLength} bytes is not whole float32s`;
        continue;
      }
    } else if (json === undefined) {
      misses[id] = 'payload: not JSON';
      continue;
    } else if (!spec.payload!(json)) {
      misses[id] = `payload: ${describeErrors(spec.payload!.errors)}`;
      continue;
    }
    matched.push(id);
  }
  return { channel, matched, misses };
}

/** The proof's signing input exactly as the document describes it, written apart from core/message-proof.ts. */
function documentedSigningInput(topic: string, properties: Record<string, string>, payload: Uint8Array): Buffer {
  const fields = Object.keys(properties)
    .filter((name) => name !== 'proof')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => [name, properties[name]]);
  const digest = createHash('sha256').update(payload).digest('hex');
  return Buffer.from(JSON.stringify(['qp-proof/1', topic, fields, digest]), 'utf8');
}

// ---------------------------------------------------------------- the run

describe('api/asyncapi.yaml describes every message on every topic', () => {
  const captured: Captured[] = [];
  const broker = new MemoryMessaging();
  const managerView = tap(broker, 'manager', captured);
  /**
   * What the agents publish. The first model update also goes out once as a copy whose header
   * names another attempt, straight on the broker (not an agent's message, so not captured): the
   * round refuses it (stale), which the manager reports on the rounds topic.
   */
  let tampered = false;
  const agentsView: MessagingPort = {
    ...tap(broker, 'agent', captured),
    publish(topic, payload, options = {}) {
      if (!tampered && options.properties?.type === 'update' && options.properties.attempt === '1') {
        tampered = true;
        return broker
          .publish(topic, payload, { ...options, properties: { ...options.properties, attempt: '99' } })
          .then(() => tap(broker, 'agent', captured).publish(topic, payload, options));
      }
      return tap(broker, 'agent', captured).publish(topic, payload, options);
    },
  };
  const windowsOf = (signal: string) =>
    captured
      .filter((m) => m.topic === swarmTopics(swarmId).analytics)
      .map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')) as { signal: string; key: string } & Record<string, number>)
      .filter((w) => w.signal === signal);
  const swarmId = uniqueId('async');
  const agents: QpAgent[] = [];
  let stack: Embedded;
  let plainJobId: string;
  const decisionId = uniqueId('vote');
  let secureJobId: string;
  let sweep: SweepReport;

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  async function post<T>(path: string, body: unknown, status: number): Promise<T> {
    const res = await fetch(`${stack.api.url}${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    const json = (await res.json()) as T;
    if (res.status !== status) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  }

  async function runJob(extra: Record<string, unknown>): Promise<{ jobId: string; result: TuningProgress }> {
    const { jobId } = await post<{ jobId: string }>(
      '/api/v1/tuning/start',
      {
        swarmId,
        model: { kind: 'vector', dimension: MODEL_DIMENSION },
        fraction: 1,
        minParticipants: agents.length,
        roundTimeoutMs: 20_000,
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
        seed: 7,
        ...extra,
      },
      202,
    );
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    return { jobId, result };
  }

  beforeAll(async () => {
    stack = await startTestEmbedded(
      {
        QP_CREDENTIAL_SECRET: CREDENTIAL_SECRET,
        QP_BEHAVIOR_DIMENSION: String(BEHAVIOR_DIMENSION),
        QP_BEHAVIOR_DRAIN_IDLE_MS: '200',
        QP_BEHAVIOR_SWEEP_CRON: 'off',
      },
      {
        messaging: managerView,
        vectors: new MemoryVectors(),
        cluster: new MemoryCluster(),
        blobs: new MemoryBlobStore(),
        // windows of 1 s, closed 2 s of event time later: the run sees them
        analytics: new EmbeddedAnalyticsRuntime(managerView, { windowMs: 1000, latenessMs: 2000, graceMs: 3000, flapThreshold: 4, burstThreshold: 5 }),
      },
    );
    const deployed = await fetch(`${stack.api.url}/api/v1/analytics/${swarmId}/job`, { method: 'PUT', headers: admin });
    if (deployed.status !== 200) throw new Error(`PUT analytics job answered ${deployed.status}`);

    // Registration handshake; two agents heartbeat over messaging, one over HTTP (relayed).
    for (const heartbeatVia of ['messaging', 'messaging', 'http'] as const) {
      agents.push(
        new QpAgent({
          apiUrl: stack.api.url,
          messaging: agentsView,
          agentId: uniqueId('aa'),
          swarmId,
          capabilities: ['train', 'explore'],
          resources: { cpu: 2, memoryMb: 1024 },
          heartbeatIntervalMs: 300,
          heartbeatVia,
          handshakeTimeoutMs: 10_000,
        }),
      );
    }
    const trainer: Trainer = async (task) => ({
      ...(await noopTrainer(task))!,
      examples: 12,
      loss: 0.5,
      accuracy: 0.75,
      evaluation: { loss: 0.6, accuracy: 0.7, examples: 4 },
      stepsCompleted: task.budget.epochs ?? 1,
      stepsPlanned: task.budget.epochs ?? 1,
    });
    for (const agent of agents) {
      await agent.register();
      agent.startHeartbeats(() => ({ load: 0.25, energyRemainingWh: 40 }));
      await agent.participate(trainer);
    }
    await waitFor('visibility to list every agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
      return page.agents.length === agents.length ? true : undefined;
    });
    await waitFor('heartbeats signed by agents and relayed by the API', () => {
      const beats = captured.filter((m) => m.topic === swarmTopics(swarmId).heartbeats);
      return beats.some((m) => m.side === 'agent') && beats.some((m) => m.side === 'manager') ? true : undefined;
    });

    // A plain job of two rounds (with local DP, so the round start carries it, and federated evaluation, so an
    // evaluation-only round and its answers follow the last), then a secure one (with central DP).
    const plain = await runJob({
      rounds: 2,
      localPrivacy: { clipNorm: 1, noiseMultiplier: 0.5, delta: 1e-5 },
      evaluation: { federated: { everyRounds: 1 } },
    });
    plainJobId = plain.jobId;
    // Every agent scored the final model on its 4 examples (loss 0.6, accuracy 0.7).
    expect(plain.result.finalEvaluation).toEqual({ loss: expect.closeTo(0.6, 12), accuracy: expect.closeTo(0.7, 12), examples: 4 * agents.length, agents: agents.length });
    ({ jobId: secureJobId } = await runJob({
      rounds: 1,
      secureAggregation: { stageTimeoutMs: 5000, clipRange: 4 },
      privacy: { clipNorm: 5, noiseMultiplier: 0.5, delta: 1e-5 },
    }));
    // An asynchronous job: its model versions travel as round starts with mode async, its updates with attempt 0.
    const asyncJob = await runJob({ mode: 'async', bufferSize: agents.length, maxStaleness: 1, rounds: 2 });
    expect(asyncJob.result.recentVersions?.map((v) => v.buffered)).toEqual([agents.length, agents.length]);

    // Behavior reports over messaging and over the API; two agents share a novel strategy that the sweep disseminates.
    for (let e = 0; e < 6; e++) {
      await agents[0].reportBehavior({ episodeId: `e${e}`, descriptor: [5 + 0.01 * e, 5, 5, 5], fitness: 0.9, context: { task: 'forage' } });
      await agents[1].reportBehavior({ episodeId: `e${e}`, descriptor: [5, 5 + 0.01 * e, 5, 5], fitness: 0.9 }, { via: 'api' });
      for (let j = 0; j < 4; j++) {
        await agents[2].reportBehavior({ episodeId: `e${e}-${j}`, descriptor: [0.01 * j, 0.01 * e, 0, 0], fitness: 0.4 });
      }
    }
    const { reportId } = await post<{ reportId: string }>('/api/v1/behaviors/sweep', { swarmId, parameters: { k: 15, minPts: 3 } }, 202);
    sweep = await waitFor(`sweep report ${reportId}`, async () => {
      const res = await fetch(`${stack.api.url}/api/v1/behaviors/reports/${reportId}`, { headers: admin });
      return res.status === 200 ? ((await res.json()) as SweepReport) : undefined;
    });

    // A collaborative decision: the proposal on control, two ballots over messaging, one relayed by the API, the outcome.
    await Promise.all(agents.slice(0, 2).map((agent) => agent.onProposal(async (p) => void (await agent.vote(p.decisionId, p.decisionId === decisionId ? ['b', 'a'] : ['a'])))));
    await post('/api/v1/decisions', { decisionId, swarmId, title: 'which', system: 'ranked-choice', options: ['a', 'b'], power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 1 } }, 201);
    await waitFor('the proposal to open', async () => {
      const res = await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}`, { headers: admin });
      return ((await res.json()) as { state: string }).state === 'ACTIVE' ? true : undefined;
    });
    await agents[2].vote(decisionId, ['a'], { via: 'api' });
    await stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result();
    // A delegated task: placed on one of the agents, which reports progress and its signed result.
    for (const agent of agents) {
      await agent.onTask(async (task, context) => {
        await context.progress(0.5);
        return { echoed: task.input };
      });
    }
    const { taskId } = await post<{ taskId: string }>('/api/v1/tasks', { swarmId, kind: 'echo', input: { n: 1 }, estimatedWork: 1, deadline: 60_000 }, 202);
    await waitFor(`task ${taskId} to succeed`, async () => {
      const res = await fetch(`${stack.api.url}/api/v1/tasks/${taskId}`, { headers: admin });
      return ((await res.json()) as { status: string }).status === 'SUCCEEDED' ? true : undefined;
    });
    // The same under Contract Net: announced to the agents, bid on, awarded.
    const contracted = await post<{ taskId: string }>(
      '/api/v1/tasks',
      { swarmId, kind: 'echo', input: { n: 2 }, estimatedWork: 1, deadline: 60_000, allocation: 'contract-net' },
      202,
    );
    await waitFor(`task ${contracted.taskId} to succeed`, async () => {
      const res = await fetch(`${stack.api.url}/api/v1/tasks/${contracted.taskId}`, { headers: admin });
      return ((await res.json()) as { status: string }).status === 'SUCCEEDED' ? true : undefined;
    });
    // The analytics' windows of those tasks and rounds close as the heartbeats move event time on.
    await waitFor(
      'analytics windows of the tasks, the rounds and the refused update',
      () => {
        const tasks = windowsOf('task-latency').reduce((n, w) => n + w.tasks, 0);
        const refused = windowsOf('update-rejections').some((w) => w.key === plainJobId);
        const stragglerKeys = new Set(windowsOf('stragglers').map((w) => w.key)).size;
        const voters = Math.max(0, ...windowsOf('ballot-turnout').filter((w) => w.key === decisionId).map((w) => w.voters));
        if (tasks === 2 && refused && stragglerKeys === agents.length && voters === agents.length) return true;
        throw new Error(`tasks ${tasks}/2, refused update ${refused}, straggler keys ${stragglerKeys}/${agents.length}, voters ${voters}/${agents.length}`);
      },
      60_000,
    );
    // Deploying again leaves the running analytics alone and names the ACTIVE agents on the roster again.
    const again = await fetch(`${stack.api.url}/api/v1/analytics/${swarmId}/job`, { method: 'PUT', headers: admin });
    if (again.status !== 200) throw new Error(`PUT analytics job answered ${again.status}`);
    // Rebalancing takes a queued attempt back from an agent's inbox (the activity the rebalancing run calls).
    await createTaskActivities({
      messaging: tap(broker, 'manager', captured),
      agents: { candidates: async () => [] },
      outcomes: { deliver: async () => 'closed', deliverBid: async () => 'closed' },
      agentKeys: { publicKey: async () => undefined },
      credentialSecret: CREDENTIAL_SECRET,
    }).withdrawTasks({ swarmId, tasks: [{ taskId: contracted.taskId, attempt: 1, agentId: agents[0].agentId, reason: 'moved off an overloaded agent' }] });
    for (const agent of agents) agent.stopHeartbeats();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await stack?.stop();
  });

  // ---------------------------------------------------------------- the document itself

  it('is a valid AsyncAPI document by the specification\'s own JSON Schema', () => {
    const version = doc.asyncapi as keyof typeof specs.schemas;
    expect(version).toMatch(/^3\.\d+\.\d+$/);
    // The published schema bundles the draft-07 meta-schema under its own id: ajv must not add its copy.
    const validate = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats(validate);
    const valid = validate.compile(specs.schemas[version]);
    expect(valid(doc) ? [] : valid.errors).toEqual([]);
  });

  it('is an AsyncAPI 3 document whose every $ref resolves and whose operations name messages of their own channel', () => {
    expect(doc.asyncapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+$/);
    for (const { ref, at } of allRefs(doc)) expect(() => resolve(ref)).not.toThrow(`${at}: ${ref}`);
    for (const op of operations) {
      expect(['send', 'receive']).toContain(op.action);
      expect(channelIds).toContain(op.channel);
      for (const ref of (doc.operations[op.id].messages as Json[]).map((m) => m.$ref as string)) {
        expect(ref.startsWith(`#/channels/${op.channel}/messages/`)).toBe(true);
      }
    }
    // Every message is sent or received by some operation: none is documented that nobody publishes.
    const used = new Set(operations.flatMap((o) => o.messages));
    expect(documentedMessages.filter((id) => !used.has(id))).toEqual([]);
  });

  it('its channels are the topics of core/topics.ts, parameter for parameter', () => {
    const topics = swarmTopics('{swarmId}');
    const address = (name: keyof SwarmTopics): string => {
      const topic = topics[name];
      return typeof topic === 'function' ? topic(name === 'inbox' ? '{agentId}' : name === 'decision' ? '{decisionId}' : '{jobId}') : topic;
    };
    for (const id of channelIds) {
      expect(id in topics).toBe(true);
      expect(doc.channels[id].address).toBe(address(id as keyof SwarmTopics));
      const parameters = [...(doc.channels[id].address as string).matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]);
      expect(Object.keys(doc.channels[id].parameters ?? {}).sort()).toEqual(parameters.sort());
    }
    // Every topic of core/topics.ts has a producer and is documented.
    expect(Object.keys(topics).filter((name) => !channelIds.includes(name))).toEqual([]);
  });

  // ---------------------------------------------------------------- the messages

  it('every message the manager and the agents published matches exactly one documented message of its channel', () => {
    expect(captured.length).toBeGreaterThan(50);
    const failures = captured
      .map((message) => ({ message, result: match(message) }))
      .filter(({ result }) => result.matched.length !== 1)
      .map(({ message, result }) => ({
        side: message.side,
        topic: message.topic,
        properties: message.properties,
        payload: Buffer.from(message.payload).toString('utf8').slice(0, 300),
        channel: result.channel,
        matched: result.matched,
        misses: result.misses,
      }));
    expect(failures).toEqual([]);
  });

  it('every message the document declares was published during the run, so the document cannot drift', () => {
    const seen = new Set(captured.flatMap((m) => match(m).matched));
    expect(documentedMessages.filter((id) => !seen.has(id))).toEqual([]);
    // And the run was the one intended.
    expect(sweep.strategies.filter((s) => s.disseminated)).toHaveLength(1);
    expect(captured.some((m) => m.topic === swarmTopics(swarmId).updates(plainJobId))).toBe(true);
    expect(captured.some((m) => m.topic === swarmTopics(swarmId).updates(secureJobId))).toBe(true);
  });

  it('the analytics read the task outcomes, round closes and refused updates the run really produced', () => {
    const dispatched = captured.filter((m) => m.topic === swarmTopics(swarmId).tasks);
    expect(dispatched).toHaveLength(2);
    // both tasks, paired dispatch with signed outcome: kind echo, latency from dispatch to the agent's sentAt
    const latency = windowsOf('task-latency');
    expect(latency.every((w) => w.key === 'echo' && w.p99Ms >= 0 && w.deadlineMisses === 0)).toBe(true);
    // every attempt of the plain job's two rounds and the secure job's one asked all three agents
    const rounds = captured
      .filter((m) => m.topic === swarmTopics(swarmId).rounds && m.properties.type === 'round-closed')
      .map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')) as { participants: string[]; stragglers: string[] });
    expect(rounds.length).toBeGreaterThanOrEqual(3);
    const stragglers = windowsOf('stragglers');
    expect(stragglers.reduce((n, w) => n + w.rounds, 0)).toBe(rounds.length * agents.length);
    expect(stragglers.reduce((n, w) => n + w.straggled, 0)).toBe(rounds.reduce((n, r) => n + r.stragglers.length, 0));
    const rejections = windowsOf('update-rejections').filter((w) => w.key === plainJobId);
    expect(rejections.reduce((n, w) => n + w.rejections, 0)).toBe(1);
    expect(rejections.find((w) => w.rejections === 1)).toMatchObject({ reasons: { stale: 1 }, agents: 1, burst: false });
    // the decision's turnout: its proposal named the three agents, two voted over messaging and one through the API
    const turnout = windowsOf('ballot-turnout')
      .filter((w) => w.key === decisionId)
      .sort((a, b) => a.windowStart - b.windowStart);
    expect(turnout.reduce((n, w) => n + w.ballots, 0)).toBe(3);
    expect(turnout[turnout.length - 1]).toMatchObject({ voters: 3, eligible: agents.length, turnout: 1 });
    // the roster: each agent's registration (generation 1), then the redeployment's note (no generation)
    const roster = captured
      .filter((m) => m.topic === swarmTopics(swarmId).roster)
      .map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')) as { agentId: string; generation?: number });
    const named = (generation: number | undefined) => [...new Set(roster.filter((n) => n.generation === generation).map((n) => n.agentId))].sort();
    expect(named(1)).toEqual(agents.map((a) => a.agentId).sort());
    expect(named(undefined)).toEqual(agents.map((a) => a.agentId).sort());
    // every agent was on the roster its registration published; every outcome met its dispatch
    expect((stack.ports.analytics as EmbeddedAnalyticsRuntime).counters(swarmId)).toMatchObject({ malformed: 0, invalid: 0, unknownAgent: 0, unmatched: 0 });
  });

  it('every message carries the ordering key its document names', () => {
    for (const message of captured) {
      const [id] = match(message).matched;
      const { orderingKey } = compiled[id];
      const source =
        orderingKey.in === 'header' ? message.properties : JSON.parse(Buffer.from(message.payload).toString('utf8'));
      expect({ id, key: message.key }).toEqual({ id, key: source[orderingKey.field] });
    }
  });

  it('agents sign, and the API relays, over exactly the signing input the document spells out', () => {
    const keys = new Map(agents.map((a) => [a.agentId, createPublicKey(a.publicKeyPem)]));
    const proven = captured.filter((m) => m.properties.proof !== undefined);
    expect(proven.some((m) => m.properties.relay === 'manager')).toBe(true);
    expect(proven.some((m) => m.properties.relay === undefined)).toBe(true);
    for (const message of proven) {
      const input = documentedSigningInput(message.topic, message.properties, message.payload);
      const proof = Buffer.from(message.properties.proof, 'base64');
      if (message.properties.relay === 'manager') {
        expect(message.side).toBe('manager');
        const mac = createHmac('sha256', CREDENTIAL_SECRET).update('qp-relay/1\n').update(input).digest();
        expect(proof.equals(mac)).toBe(true);
      } else {
        expect(message.side).toBe('agent');
        expect(verify(null, input, keys.get(message.properties.agentId)!, proof)).toBe(true);
      }
      // The payload, where it names its sender, names the signer.
      if (!compiled[match(message).matched[0]].binary) {
        const body = JSON.parse(Buffer.from(message.payload).toString('utf8'));
        expect(body.agentId ?? body.from).toBe(message.properties.agentId);
      }
    }
  });

  it('binary payloads have the sizes the document gives them: float32 updates and models of the job\'s dimension, uint32 masked vectors', () => {
    const kinds = (id: string) => captured.filter((m) => match(m).matched[0] === id);
    const all = kinds('update');
    // The plain job's evaluation-only round (round 3): each agent's answer carries its scores and no parameters.
    const answers = all.filter((u) => u.properties.evalOnly === 'true');
    expect(new Set(answers.map((u) => u.properties.agentId)).size).toBe(agents.length);
    for (const answer of answers) {
      expect(answer.payload.byteLength).toBe(0);
      expect(answer.properties).toMatchObject({ round: '3', examples: '0', evalLoss: '0.6', evalAccuracy: '0.7', evalExamples: '4' });
    }
    const updates = all.filter((u) => u.properties.evalOnly !== 'true');
    // Every participant's update of both rounds (a slow attempt may be retried, so count distinct ones).
    const ofJob = (attempt: (a: string) => boolean) => updates.filter((u) => attempt(u.properties.attempt));
    expect(new Set(ofJob((a) => a !== '0').map((u) => `${u.properties.round}/${u.properties.agentId}`)).size).toBe(2 * agents.length);
    // The asynchronous job's: one per agent on each of its two versions.
    expect(new Set(ofJob((a) => a === '0').map((u) => `${u.properties.round}/${u.properties.agentId}`)).size).toBe(2 * agents.length);
    for (const update of updates) {
      expect(update.payload.byteLength).toBe(4 * MODEL_DIMENSION);
      const view = new DataView(update.payload.buffer, update.payload.byteOffset, update.payload.byteLength);
      for (let i = 0; i < MODEL_DIMENSION; i++) expect(Number.isFinite(view.getFloat32(4 * i, true))).toBe(true);
    }
    const weighting = new Map<string, string | undefined>();
    for (const start of kinds('roundStart')) {
      const body = JSON.parse(Buffer.from(start.payload).toString('utf8'));
      expect(Buffer.from(body.globalParams, 'base64').byteLength).toBe(4 * MODEL_DIMENSION);
      if (!body.secureAggregation) continue;
      expect(body.secureAggregation.config.dimension).toBe(MODEL_DIMENSION);
      weighting.set(body.secureAggregation.config.roundId, body.secureAggregation.config.weighting);
    }
    const masked = kinds('maskedInput');
    expect(new Set(masked.map((m) => m.properties.agentId)).size).toBe(agents.length);
    for (const message of masked) {
      const body = JSON.parse(Buffer.from(message.payload).toString('utf8'));
      // uint32 elements: the change, plus the weight as one more masked element under weighting 'masked'.
      const elements = MODEL_DIMENSION + (weighting.get(body.roundId) === 'masked' ? 1 : 0);
      expect(Buffer.from(body.vector, 'base64').byteLength).toBe(4 * elements);
    }
  });

  // ---------------------------------------------------------------- the schemas bite

  it('a message missing a required property, carrying an undocumented one, or on an unknown topic matches nothing', () => {
    const first = (id: string): Captured => captured.find((m) => match(m).matched[0] === id)!;
    const update = first('update');
    const { examples: _examples, ...withoutExamples } = update.properties;
    expect(match({ ...update, properties: withoutExamples }).matched).toEqual([]);
    expect(match({ ...update, properties: { ...update.properties, credential: 'x' } }).matched).toEqual([]);
    expect(match({ ...update, payload: update.payload.slice(1) }).matched).toEqual([]);

    const heartbeat = first('heartbeat');
    const { proof: _proof, ...unsigned } = heartbeat.properties;
    expect(match({ ...heartbeat, properties: unsigned }).matched).toEqual([]);

    const start = first('roundStart');
    const { deadlineAt: _deadline, ...late } = JSON.parse(Buffer.from(start.payload).toString('utf8'));
    expect(match({ ...start, payload: Buffer.from(JSON.stringify(late)) }).matched).toEqual([]);

    // The manager never sends an update: the document gives it no operation that could.
    expect(match({ ...update, side: 'manager' }).matched).toEqual([]);
    expect(match({ ...update, topic: `swarm/${swarmId}/tasks` }).matched).toEqual([]);
  });
});
