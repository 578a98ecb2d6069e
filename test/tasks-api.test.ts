// /api/v1/tasks against the real API, worker and Temporal dev server: input
// validation naming the field, who may submit and read, idempotency by taskId, cancel.
import { generateKeyPairSync } from 'node:crypto';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

describe('the tasks API', () => {
  let stack: Embedded;
  const swarms: SwarmSimulation[] = [];
  let swarmA: string;
  let swarmB: string;
  let tokenA: string;
  let tokenB: string;

  beforeAll(async () => {
    stack = await startTestEmbedded();
    swarmA = uniqueId('ta');
    swarmB = uniqueId('tb');
    for (const swarmId of [swarmA, swarmB]) {
      const swarm = await simulateSwarm({ apiUrl: stack.api.url, messaging: stack.ports.messaging, count: 1, swarmId, idPrefix: swarmId, heartbeatIntervalMs: 5_000 });
      expect(swarm.failed).toEqual([]);
      swarms.push(swarm);
    }
    tokenA = swarms[0].agents[0].token!;
    tokenB = swarms[1].agents[0].token!;
  });
  afterAll(async () => {
    await Promise.all(swarms.map((s) => s.stop()));
    await stack?.stop();
  });

  async function call(method: string, path: string, token: string | undefined, body?: unknown) {
    const res = await fetch(`${stack.api.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  const task = (swarmId: string, extra: Record<string, unknown> = {}) => ({
    swarmId,
    kind: 'echo',
    input: { text: 'hello' },
    estimatedWork: 30,
    deadline: 3_600_000,
    ...extra,
  });

  const without = (field: string) => {
    const body: Record<string, unknown> = task(uniqueId('s'));
    delete body[field];
    return body;
  };

  it.each([
    ['a missing swarmId', 'swarmId', without('swarmId')],
    ['a negative estimatedWork', 'estimatedWork', task(uniqueId('s'), { estimatedWork: -1 })],
    ['a deadline that is neither an instant nor milliseconds', 'deadline', task(uniqueId('s'), { deadline: 'tomorrow' })],
    ['a cpu requirement that is not a number', 'requirements.cpu', task(uniqueId('s'), { requirements: { cpu: 'two' } })],
    ['an unknown field', 'body', task(uniqueId('s'), { colour: 'green' })],
    ['a task id with a slash', 'taskId', task(uniqueId('s'), { taskId: 'a/b' })],
  ])('%s is a 400 naming %s', async (_what, field, body) => {
    const res = await call('POST', '/api/v1/tasks', ADMIN_TOKEN, body);
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe(field);
  });

  it('a batch of more than 1,000 tasks is a 400 naming tasks', async () => {
    const res = await call('POST', '/api/v1/tasks/batch', ADMIN_TOKEN, { tasks: Array.from({ length: 1001 }, () => task(swarmA)) });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('tasks');
  });

  it('an agent energy profile with negative busy watts is refused at registration, naming the field', async () => {
    const res = await call('POST', '/api/v1/swarm/register', undefined, {
      agentId: uniqueId('watts'),
      resources: { cpu: 1, memoryMb: 512, energy: { source: 'grid', busyWatts: -5 } },
      publicKey: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe('resources.energy.busyWatts');
  });

  it('without a token submitting is a 401', async () => {
    expect((await call('POST', '/api/v1/tasks', undefined, task(swarmA))).status).toBe(401);
  });

  it('an agent delegates to its own swarm; it cannot submit to or read another swarm', async () => {
    const own = await call('POST', '/api/v1/tasks', tokenA, task(swarmA, { taskId: uniqueId('own') }));
    expect(own.status).toBe(202);
    expect((await call('POST', '/api/v1/tasks', tokenA, task(swarmB))).status).toBe(403);
    const read = await call('GET', `/api/v1/tasks/${own.body.taskId}`, tokenB);
    expect(read.status).toBe(403);
    const mine = await call('GET', `/api/v1/tasks/${own.body.taskId}`, tokenA);
    expect(mine.status).toBe(200);
    expect(mine.body.swarmId).toBe(swarmA);
  });

  it('submitting a taskId again changes nothing (200, created false); in another swarm it is a 409', async () => {
    const taskId = uniqueId('idem');
    const first = await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmA, { taskId }));
    expect([first.status, first.body.created]).toEqual([202, true]);
    const again = await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmA, { taskId, kind: 'other' }));
    expect([again.status, again.body.created]).toEqual([200, false]);
    expect((await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmB, { taskId }))).status).toBe(409);
    const state = await call('GET', `/api/v1/tasks/${taskId}`, ADMIN_TOKEN);
    expect(state.body.kind).toBe('echo');
  });

  it('a task is placed on the swarm’s only ACTIVE agent and can be cancelled; cancelling again answers the same', async () => {
    const taskId = uniqueId('cancel');
    await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmA, { taskId }));
    const assigned = await waitFor('the task to be assigned', async () => {
      const res = await call('GET', `/api/v1/tasks/${taskId}`, ADMIN_TOKEN);
      return res.body.status === 'ASSIGNED' ? res.body : undefined;
    });
    expect(assigned.agentId).toBe(swarms[0].agents[0].agentId);
    expect(assigned.attempts[0].expected.energyWh).toBeGreaterThan(0);
    const cancelled = await call('POST', `/api/v1/tasks/${taskId}/cancel`, ADMIN_TOKEN, { reason: 'changed my mind' });
    expect([cancelled.status, cancelled.body.status, cancelled.body.failureReason]).toEqual([200, 'CANCELLED', 'changed my mind']);
    const again = await call('POST', `/api/v1/tasks/${taskId}/cancel`, ADMIN_TOKEN, {});
    expect([again.status, again.body.status]).toEqual([200, 'CANCELLED']);
  });

  it('an unknown task is a 404', async () => {
    expect((await call('GET', `/api/v1/tasks/${uniqueId('nobody')}`, ADMIN_TOKEN)).status).toBe(404);
    expect((await call('POST', `/api/v1/tasks/${uniqueId('nobody')}/cancel`, ADMIN_TOKEN, {})).status).toBe(404);
  });

  it('a batch is accepted task by task', async () => {
    const res = await call('POST', '/api/v1/tasks/batch', ADMIN_TOKEN, { tasks: [task(swarmA), task(swarmA)] });
    expect(res.status).toBe(202);
    expect(res.body.tasks.map((t: { created: boolean }) => t.created)).toEqual([true, true]);
  });
});
