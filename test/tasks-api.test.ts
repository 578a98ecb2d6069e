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

  it('a task requiring a capability goes to an agent that declared it at registration', async () => {
    const taskId = uniqueId('capable');
    await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmA, { taskId, requirements: { capabilities: ['evaluate'] } }));
    const assigned = await waitFor('the task to be assigned', async () => {
      const res = await call('GET', `/api/v1/tasks/${taskId}`, ADMIN_TOKEN);
      return res.body.status === 'ASSIGNED' ? res.body : undefined;
    });
    expect(assigned.agentId).toBe(swarms[0].agents[0].agentId);
    await call('POST', `/api/v1/tasks/${taskId}/cancel`, ADMIN_TOKEN, {});
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

  it('lists tasks by swarm, status and agent, page by page; an agent lists its own swarm only', async () => {
    const ids = [uniqueId('list'), uniqueId('list'), uniqueId('list')];
    for (const taskId of ids) expect((await call('POST', '/api/v1/tasks', ADMIN_TOKEN, task(swarmB, { taskId }))).status).toBe(202);
    const agentB = swarms[1].agents[0].agentId;
    await waitFor('the tasks to be assigned', async () => {
      const states = await Promise.all(ids.map((id) => call('GET', `/api/v1/tasks/${id}`, ADMIN_TOKEN)));
      return states.every((state) => state.body.status === 'ASSIGNED') || undefined;
    });
    expect((await call('POST', `/api/v1/tasks/${ids[2]}/cancel`, ADMIN_TOKEN, {})).body.status).toBe('CANCELLED');

    // Visibility follows the workflows' search attributes within a moment.
    const assigned = await waitFor('the listing to show the assigned tasks', async () => {
      const res = await call('GET', `/api/v1/tasks?swarmId=${swarmB}&status=ASSIGNED&agentId=${agentB}`, ADMIN_TOKEN);
      const listed = res.body.tasks.map((t: { taskId: string }) => t.taskId);
      return ids.slice(0, 2).every((id) => listed.includes(id)) && !listed.includes(ids[2]) ? res.body.tasks : undefined;
    });
    expect(assigned[0]).toMatchObject({ swarmId: swarmB, kind: 'echo', status: 'ASSIGNED', agentId: agentB });
    const cancelled = await waitFor('the cancelled task to be listed as such', async () => {
      const res = await call('GET', `/api/v1/tasks?swarmId=${swarmB}&status=CANCELLED`, ADMIN_TOKEN);
      // CANCELLED is indexed as the cancel is taken; the workflow closes once the agent is released.
      return res.body.tasks.find((t: { taskId: string; closedAt?: string }) => t.taskId === ids[2] && t.closedAt);
    });
    expect(Date.parse(cancelled.closedAt)).toBeGreaterThanOrEqual(Date.parse(cancelled.submittedAt));

    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const res = await call('GET', `/api/v1/tasks?swarmId=${swarmB}&pageSize=1${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`, ADMIN_TOKEN);
      expect(res.status).toBe(200);
      expect(res.body.tasks.length).toBeLessThanOrEqual(1);
      seen.push(...res.body.tasks.map((t: { taskId: string }) => t.taskId));
      pageToken = res.body.nextPageToken;
    } while (pageToken);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));

    const own = await call('GET', '/api/v1/tasks', tokenB);
    expect(own.status).toBe(200);
    expect(own.body.tasks.every((t: { swarmId: string }) => t.swarmId === swarmB)).toBe(true);
    expect((await call('GET', `/api/v1/tasks?swarmId=${swarmA}`, tokenB)).status).toBe(403);
    const badStatus = await call('GET', '/api/v1/tasks?status=DONE', ADMIN_TOKEN);
    expect([badStatus.status, badStatus.body.error.field]).toEqual([400, 'status']);
    const forged = await call('GET', `/api/v1/tasks?swarmId=${swarmB}&pageToken=AAAA.bogus`, ADMIN_TOKEN);
    expect([forged.status, forged.body.error.field]).toEqual([400, 'pageToken']);
  });

  it('the API counts tasks by state from visibility for qp_manager_tasks', async () => {
    const value = (text: string, state: string) => Number(new RegExp(`^qp_manager_tasks\\{state="${state}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    const listed = async (status: string) => {
      let total = 0;
      let pageToken: string | undefined;
      do {
        const res = await call('GET', `/api/v1/tasks?status=${status}&pageSize=500${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`, ADMIN_TOKEN);
        total += res.body.tasks.length;
        pageToken = res.body.nextPageToken;
      } while (pageToken);
      return total;
    };
    // The gauge and the listing read the same visibility records: once both settle they agree.
    const counted = await waitFor('the task gauge to count what the listing lists', async () => {
      const text = await (await fetch(`${stack.api.url}/metrics`)).text();
      const cancelled = value(text, 'cancelled');
      return value(text, 'running') >= 2 && cancelled >= 1 && cancelled === (await listed('CANCELLED')) ? { text } : undefined;
    });
    expect(value(counted.text, 'failed')).toBe(0);
    expect(counted.text).toMatch(/^qp_manager_decisions_open 0$/m);
    expect(counted.text).toMatch(/^qp_manager_pool_replicas\{kind="desired"\} 0$/m);
  });
});
