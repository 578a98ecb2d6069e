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
  /** Ends the silent agent's task run, so that it can close. */
  let release: () => void = () => undefined;

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_TASK_REBALANCE_INTERVAL_S: '1',
      QP_TASK_ATTEMPT_TIMEOUT_MS: '600000',
      QP_HEARTBEAT_GRACE_MS: '1500',
    });
  });
  afterAll(async () => {
    release();
    await stack?.client.schedule.getHandle(taskRebalanceScheduleId(swarmId)).delete().catch(() => undefined);
    await Promise.all(agents.map((a) => a.close()));
    await stack?.stop();
  });

  it('a task with an agent gone LOST is placed on another ACTIVE agent by the next run, not after the attempt timeout', async () => {
    const make = async (name: string, carbonGPerKWh: number) => {
      const agent = new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `${swarmId}-${name}`,
        swarmId,
        capabilities: [],
        heartbeatIntervalMs: 300,
        resources: { cpu: 1, memoryMb: 512, energy: { source: 'grid', carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1 } },
      });
      agents.push(agent);
      await agent.register();
      agent.startHeartbeats();
      return agent;
    };
    // The greener agent takes the task and never answers; then its heartbeats stop.
    const silent = await make('silent', 10);
    const steady = await make('steady', 500);
    await silent.onTask(() => new Promise((resolve) => (release = () => resolve(null))));
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
});
