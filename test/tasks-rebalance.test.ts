// The swarm's rebalancing Schedule on the real API, worker and Temporal dev server:
// a task whose agent goes LOST is moved to another agent at the next run, long
// before its attempt would time out.
import { QpAgent } from '../agents/sdk';
import type { TaskState } from '../core/tasks';
import { taskRebalanceScheduleId, taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

describe('task rebalancing', () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];
  const swarmId = uniqueId('rebalance');
  /** End the task runs that tests leave hanging, so that their agents can close. */
  const releases: Array<() => void> = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_TASK_REBALANCE_INTERVAL_S: '1',
      QP_TASK_ATTEMPT_TIMEOUT_MS: '600000',
      QP_HEARTBEAT_GRACE_MS: '1500',
    });
  });
  afterAll(async () => {
    for (const release of releases) release();
    await stack?.client.schedule.getHandle(taskRebalanceScheduleId(swarmId)).delete().catch(() => undefined);
    await Promise.all(agents.map((a) => a.close()));
    await stack?.stop();
  });

  /** An SDK agent of the swarm, registered and heartbeating every 300 ms. */
  async function heartbeatingAgent(name: string, capabilities: string[], energy: { carbonGPerKWh: number; speed?: number; forecast?: { atMs: number; gPerKWh: number }[] }): Promise<QpAgent> {
    const agent = new QpAgent({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId: `${swarmId}-${name}`,
      swarmId,
      capabilities,
      heartbeatIntervalMs: 300,
      resources: { cpu: 1, memoryMb: 512, energy: { source: 'grid', busyWatts: 100, idleWatts: 10, speed: 1, ...energy } },
    });
    agents.push(agent);
    await agent.register();
    agent.startHeartbeats();
    return agent;
  }

  it('a task with an agent gone LOST is placed on another ACTIVE agent by the next run, not after the attempt timeout', async () => {
    const make = (name: string, carbonGPerKWh: number) => heartbeatingAgent(name, [], { carbonGPerKWh });
    // The greener agent takes the task and never answers; then its heartbeats stop.
    const silent = await make('silent', 10);
    const steady = await make('steady', 500);
    await silent.onTask(() => new Promise((resolve) => releases.push(() => resolve(null))));
    await steady.onTask(async (task) => ({ ranOn: 'steady', input: task.input }));

    const taskId = uniqueId('stranded');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ taskId, swarmId, kind: 'echo', input: { n: 3 }, estimatedWork: 10, deadline: 3_600_000 }),
    });
    expect(res.status).toBe(202);
    const handle = stack.client.workflow.getHandle(taskWorkflowId(taskId));
    await waitFor('the task to be with the silent agent', async () => ((await handle.query<TaskState>('taskState')).agentId === silent.agentId ? true : undefined));
    const lostAt = Date.now();
    silent.stopHeartbeats();

    const state: TaskState = await handle.result();
    expect(state.status).toBe('SUCCEEDED');
    expect(state.result).toEqual({ ranOn: 'steady', input: { n: 3 } });
    expect(state.attempts.map((a) => [a.agentId, a.outcome])).toEqual([
      [silent.agentId, 'lost'],
      [steady.agentId, 'succeeded'],
    ]);
    expect(state.attempts[0].reason).toMatch(/no longer ACTIVE \(rebalancing\)/);
    // Grace (1.5 s) + liveness window + a Schedule run every second: seconds, where the attempt timeout is 10 minutes.
    expect(Date.now() - lostAt).toBeLessThan(60_000);
  }, 90_000);

  it('a deferrable task is HELD for its agent\'s low-carbon window and runs in it; one HELD for an agent that goes LOST is placed again at once', async () => {
    const windowAtMs = Date.now() + 8_000;
    const make = (name: string, carbonGPerKWh: number, forecast?: { atMs: number; gPerKWh: number }[]) => heartbeatingAgent(name, ['shift'], { carbonGPerKWh, forecast });
    // Dirty now, clean in 8 s; a flat one in between; one clean only in ten minutes (then it goes silent).
    const windowed = await make('windowed', 600, [{ atMs: windowAtMs, gPerKWh: 20 }]);
    const flat = await make('flat', 300);
    const distant = await make('distant', 700, [{ atMs: Date.now() + 600_000, gPerKWh: 5 }]);
    const ranAt = new Map<string, { agentId: string; atMs: number }>();
    for (const agent of [windowed, flat, distant]) await agent.onTask(async (task) => (ranAt.set(task.taskId, { agentId: agent.agentId, atMs: Date.now() }), 'done'));

    const submit = async (taskId: string, deadline: number) => {
      const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ taskId, swarmId, kind: 'shift', input: {}, requirements: { capabilities: ['shift'] }, estimatedWork: 1, deadline, deferrable: true }),
      });
      expect(res.status).toBe(202);
      return stack.client.workflow.getHandle(taskWorkflowId(taskId));
    };
    const heldState = (handle: { query: (q: string) => Promise<TaskState> }) => async () => {
      const state = await handle.query('taskState');
      return state.status === 'HELD' ? state : undefined;
    };

    // 1. Held for the window 8 s ahead (20 g/kWh beats 300 now), listed as HELD, dispatched at the window.
    const inWindow = uniqueId('window');
    const first = await submit(inWindow, 120_000);
    const held = await waitFor('the task to be HELD', heldState(first));
    expect(held.agentId).toBe(windowed.agentId);
    expect(Date.parse(held.heldUntil!)).toBe(windowAtMs);
    expect(held.attempts).toEqual([]);
    const listed = await fetch(`${stack.api.url}/api/v1/tasks?swarmId=${swarmId}&status=HELD`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await listed.json()) as { tasks: { taskId: string }[] }).tasks.map((t) => t.taskId)).toContain(inWindow);
    const done: TaskState = await first.result();
    expect(done.status).toBe('SUCCEEDED');
    expect(ranAt.get(inWindow)).toEqual({ agentId: windowed.agentId, atMs: expect.any(Number) });
    expect(ranAt.get(inWindow)!.atMs).toBeGreaterThanOrEqual(windowAtMs - 1_000);
    // Charged what it cost: 100 W for 1 s at 20 g/kWh.
    expect(done.carbonG).toBeCloseTo((100 / 3600 / 1000) * 20, 9);

    // 2. Held for the distant window; its agent goes LOST; the next rebalancing run places it again at once.
    const stranded = uniqueId('held-lost');
    const second = await submit(stranded, 3_600_000);
    const heldOnDistant = await waitFor('the task to be HELD', heldState(second));
    expect(heldOnDistant.agentId).toBe(distant.agentId);
    const lostAt = Date.now();
    distant.stopHeartbeats();
    const moved: TaskState = await second.result();
    expect(moved.status).toBe('SUCCEEDED');
    expect(moved.replans).toBeGreaterThanOrEqual(1);
    expect(moved.attempts.map((a) => [a.agentId, a.outcome])).toEqual([[windowed.agentId, 'succeeded']]);
    expect(ranAt.get(stranded)?.agentId).toBe(windowed.agentId);
    expect(Date.now() - lostAt).toBeLessThan(60_000);
  }, 120_000);

  it('tasks queued behind an overloaded agent that would miss their deadline there are withdrawn and run elsewhere; the agent skips them', async () => {
    const make = (name: string, carbonGPerKWh: number) => heartbeatingAgent(name, ['overload'], { carbonGPerKWh, speed: 10 });
    // The greener agent declares 1 s per task but hangs on the first one it gets.
    const busy = await make('busy', 10);
    const spare = await make('spare', 500);
    const ranOnBusy: string[] = [];
    let unblock: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    releases.push(() => unblock());
    await busy.onTask(async (task) => {
      ranOnBusy.push(task.taskId);
      if (ranOnBusy.length === 1) await blocked;
      return 'busy';
    });
    await spare.onTask(async () => 'spare');

    const submit = async (taskId: string, deadline: number) => {
      const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ taskId, swarmId, kind: 'work', input: {}, requirements: { capabilities: ['overload'] }, estimatedWork: 10, deadline }),
      });
      expect(res.status).toBe(202);
      return stack.client.workflow.getHandle(taskWorkflowId(taskId));
    };
    const ids = [uniqueId('ov-a'), uniqueId('ov-b'), uniqueId('ov-c')];
    const handles: Array<ReturnType<typeof stack.client.workflow.getHandle>> = [];
    for (const id of ids) {
      handles.push(await submit(id, 15_000));
      await waitFor(`${id} to be with the busy agent`, async () => ((await handles[handles.length - 1].query<TaskState>('taskState')).agentId === busy.agentId ? true : undefined));
    }
    // The first one hangs; the two behind it would finish past their 15 s deadline: moved to the spare agent.
    const [head, ...queued] = ids;
    expect(ranOnBusy).toEqual([head]);
    for (const [i, id] of queued.entries()) {
      const state: TaskState = await handles[i + 1].result();
      expect(state.status).toBe('SUCCEEDED');
      expect(state.result).toBe('spare');
      expect(state.attempts.map((a) => [a.agentId, a.outcome])).toEqual([
        [busy.agentId, 'moved'],
        [spare.agentId, 'succeeded'],
      ]);
      expect(state.attempts[0].reason).toMatch(/behind its plan: the task would finish .* late in its inbox/);
      expect(id).not.toBe(head);
    }
    // Once unblocked, the busy agent finishes its first task and skips the two withdrawn ones: a
    // later task it is given runs right after the first.
    unblock();
    expect(((await handles[0].result()) as TaskState).result).toBe('busy');
    const later = uniqueId('ov-d');
    expect(((await (await submit(later, 60_000)).result()) as TaskState).result).toBe('busy');
    expect(ranOnBusy).toEqual([head, later]);
  }, 120_000);
});
