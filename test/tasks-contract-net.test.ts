// Contract Net on the real API, worker and Temporal dev server: SDK agents get the
// announcement in their inbox, bid signed on the swarm's task-results topic, and
// the manager awards the cheapest bid (carbon plus lateness) and dispatches to it.
import { QpAgent, type TaskBidder } from '../agents/sdk';
import type { TaskState } from '../core/tasks';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

describe('Contract Net task allocation', () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_TASK_BID_WINDOW_MS: '3000', QP_TASK_MAX_ATTEMPTS: '2' });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await stack?.stop();
  });

  /** A swarm of SDK agents with these carbon intensities, each running tasks and bidding with its bidder (default: its profile). */
  async function swarm(members: Array<[string, number, TaskBidder?]>): Promise<{ swarmId: string; ids: Record<string, string> }> {
    const swarmId = uniqueId('cnp');
    const ids: Record<string, string> = {};
    for (const [name, carbonGPerKWh, bidder] of members) {
      const agent = new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `${swarmId}-${name}`,
        swarmId,
        capabilities: ['echo'],
        resources: { cpu: 2, memoryMb: 1024, energy: { source: 'grid', carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1 } },
      });
      agents.push(agent);
      await agent.register();
      await agent.onTask(async (task) => ({ ranOn: agent.agentId, input: task.input }), { bid: bidder });
      ids[name] = agent.agentId;
    }
    return { swarmId, ids };
  }

  async function run(swarmId: string, deadline = 3_600_000): Promise<TaskState> {
    const taskId = uniqueId('cnp-task');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ taskId, swarmId, kind: 'echo', input: { n: 7 }, estimatedWork: 60, deadline, allocation: 'contract-net' }),
    });
    expect(res.status).toBe(202);
    return stack.client.workflow.getHandle(taskWorkflowId(taskId)).result();
  }

  it('every invited agent bids from its profile; the greenest wins, runs the task and is charged its bid', async () => {
    const { swarmId, ids } = await swarm([
      ['coal', 700],
      ['green', 20],
      ['grid', 350],
    ]);
    const state = await run(swarmId);
    expect(state.status).toBe('SUCCEEDED');
    expect(state.agentId).toBe(ids.green);
    expect(state.result).toEqual({ ranOn: ids.green, input: { n: 7 } });
    expect(state.attempts).toHaveLength(1);
    expect(state.attempts[0].bids).toBe(3);
    // 60 work units at speed 1 and 100 W: 1.667 Wh; at 20 g/kWh: 0.0333 g.
    expect(state.energyWh).toBeCloseTo(100 / 60, 9);
    expect(state.carbonG).toBeCloseTo((100 / 60 / 1000) * 20, 9);
  }, 60_000);

  it('a green bid that would finish past the deadline loses to one on time', async () => {
    const late: TaskBidder = (announcement, own) => ({ ...own()!, finishAtMs: announcement.deadlineMs + 600_000 });
    const { swarmId, ids } = await swarm([
      ['green-but-busy', 20, late],
      ['grid', 350],
    ]);
    const state = await run(swarmId);
    expect(state.status).toBe('SUCCEEDED');
    expect(state.agentId).toBe(ids.grid);
    expect(state.attempts[0]).toMatchObject({ bids: 2, outcome: 'succeeded' });
    expect(state.attempts[0].expected!.slackS).toBeGreaterThan(0);
  }, 60_000);

  it('when nobody bids, each attempt waits out the bid window, then the task FAILS naming why', async () => {
    const silent: TaskBidder = () => undefined;
    const { swarmId } = await swarm([
      ['a', 100, silent],
      ['b', 200, silent],
    ]);
    const started = Date.now();
    const state = await run(swarmId);
    expect(state.status).toBe('FAILED');
    expect(state.attempts).toEqual([]);
    expect(state.failureReason).toMatch(/2 attempts: last no agent can run it: no bid within 3000 ms from the 2 agents invited/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 3000);
  }, 60_000);
});
