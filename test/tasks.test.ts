// Task delegation on the real Temporal dev server: placement by core/allocation,
// dispatch to the agent's inbox, signed outcomes consumed from the swarm's
// task-results topic, exactly-once acceptance, reallocation and cancellation.
import { Client, Connection, WorkflowIdConflictPolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createTaskActivities } from '../activities/tasks';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { HighsLpSolver } from '../adapters/highs/lp-solver';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { TemporalTaskOutcomes } from '../adapters/temporal/task-outcomes';
import type { AllocationAgent } from '../core/allocation';
import { taskResultsTopic, type TaskSpec, type TaskState } from '../core/tasks';
import {
  TASK_DELEGATION_WORKFLOW,
  TASK_RESULTS_WORKFLOW,
  cancelTaskUpdate,
  taskResultsWorkflowId,
  taskStateQuery,
  taskWorkflowId,
  type TaskDelegationInput,
} from '../workflows/definitions-tasks';
import { TestAgentKeys } from './support/agent-keys';
import { StaticTaskAgents, scriptedAgent, type ScriptedAgent, type TaskBehaviour } from './support/task-agents';
import { uniqueId, waitFor } from './support/stack';

function profile(agentId: string, carbonGPerKWh: number): AllocationAgent {
  return {
    agentId,
    capabilities: [],
    capacity: { cpu: 4, memoryMb: 4096 },
    speed: 1,
    energy: { idleWatts: 10, busyWatts: 100, source: carbonGPerKWh < 100 ? 'solar' : 'grid', carbonGPerKWh },
  };
}

describe('task delegation on a real Temporal server', () => {
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const messaging = new MemoryMessaging();
  const keys = new TestAgentKeys();
  const swarms = new Map<string, AllocationAgent[]>();
  const agentSource = new StaticTaskAgents(swarms);
  const agents: ScriptedAgent[] = [];
  const taskQueue = uniqueId('tasks');
  /** Outcomes that reached a task already ended, by task id. */
  const closedDeliveries = new Map<string, number>();
  const metrics = new Registry();

  beforeAll(async () => {
    const address = process.env.QP_TEST_TEMPORAL_ADDRESS!;
    const namespace = process.env.QP_TEST_NAMESPACE!;
    connection = await Connection.connect({ address });
    client = new Client({ connection, namespace });
    nativeConnection = await NativeConnection.connect({ address });
    const outcomes = new TemporalTaskOutcomes(client);
    worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      sinks: metricsSinks(createWorkerMetrics(metrics)),
      activities: createTaskActivities({
        messaging,
        agents: agentSource,
        outcomes: {
          async deliver(outcome) {
            const verdict = await outcomes.deliver(outcome);
            if (verdict === 'closed') closedDeliveries.set(outcome.taskId, (closedDeliveries.get(outcome.taskId) ?? 0) + 1);
            return verdict;
          },
          deliverBid: (bid) => outcomes.deliverBid(bid),
        },
        agentKeys: keys,
        credentialSecret: 'test-relay-secret-0123456789abcdef',
        solver: new HighsLpSolver(),
      }),
    });
    running = worker.run();
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    worker?.shutdown();
    await running;
    await nativeConnection?.close();
    await connection?.close();
    await messaging.close();
  });

  /** A swarm of scripted agents with the given carbon intensities, and its results collector. */
  async function swarm(members: [string, number, TaskBehaviour][]): Promise<{ swarmId: string; agents: Record<string, ScriptedAgent> }> {
    const swarmId = uniqueId('sw');
    swarms.set(swarmId, members.map(([name, carbon]) => profile(`${swarmId}-${name}`, carbon)));
    const byName: Record<string, ScriptedAgent> = {};
    for (const [name, , behaviour] of members) {
      const agent = await scriptedAgent(messaging, keys, swarmId, `${swarmId}-${name}`, behaviour);
      agents.push(agent);
      byName[name] = agent;
    }
    await client.workflow.start(TASK_RESULTS_WORKFLOW, {
      taskQueue,
      workflowId: taskResultsWorkflowId(swarmId),
      args: [{ swarmId, windowMs: 1000 }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    return { swarmId, agents: byName };
  }

  async function submit(swarmId: string, overrides: Partial<TaskDelegationInput> = {}, spec: Partial<TaskSpec> = {}) {
    const taskId = uniqueId('t');
    const input: TaskDelegationInput = {
      spec: {
        taskId,
        swarmId,
        kind: 'echo',
        input: { n: 1 },
        requirements: {},
        estimatedWork: 60,
        deadlineMs: Date.now() + 3_600_000,
        ...spec,
      },
      maxAttempts: 3,
      attemptTimeoutMs: 10_000,
      submittedAt: new Date().toISOString(),
      ...overrides,
    };
    return client.workflow.start(TASK_DELEGATION_WORKFLOW, { taskQueue, workflowId: taskWorkflowId(taskId), args: [input] });
  }

  const ok: TaskBehaviour = (task) => ({ outcome: 'succeeded', result: { echoed: task.input } });

  it('a task runs on the lower-carbon agent and is charged its expected energy and carbon', async () => {
    const { swarmId, agents: a } = await swarm([
      ['dirty', 600, ok],
      ['green', 30, ok],
    ]);
    const handle = await submit(swarmId);
    const state = (await handle.result()) as TaskState;
    expect(state.status).toBe('SUCCEEDED');
    expect(state.agentId).toBe(`${swarmId}-green`);
    expect(state.result).toEqual({ echoed: { n: 1 } });
    // 60 work units at speed 1 and 100 W: 60 s, 1.667 Wh; at 30 g/kWh: 0.05 g.
    expect(state.energyWh).toBeCloseTo(100 / 60, 9);
    expect(state.carbonG).toBeCloseTo((100 / 60 / 1000) * 30, 9);
    expect(a.dirty.received).toHaveLength(0);
    // The workflow reported the task's end to the worker's metrics, charged in joules and grams.
    const value = async (name: string, labels: Record<string, string> = {}) =>
      (await metrics.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    await waitFor('the finished task to be counted', async () => ((await value('qp_manager_tasks_finished_total', { status: 'succeeded' })) === 1) || undefined);
    expect(await value('qp_manager_task_energy_joules_total')).toBeCloseTo(state.energyWh! * 3600, 6);
    expect(await value('qp_manager_carbon_emitted_grams_total')).toBeCloseTo(state.carbonG!, 9);
    expect(await value('qp_manager_tasks_late_total')).toBe(0);
  });

  it('a result published three times is accepted once; the copies are discarded', async () => {
    const { swarmId, agents: a } = await swarm([['only', 100, (task) => ({ outcome: 'succeeded', result: task.attempt, copies: 3 })]]);
    const handle = await submit(swarmId);
    const state = (await handle.result()) as TaskState;
    expect(state.status).toBe('SUCCEEDED');
    expect(state.attempts).toHaveLength(1);
    expect(a.only.received).toHaveLength(1);
    // The first copy settles the attempt; each other copy is discarded by the running task or reaches it closed.
    await waitFor('both copies to be handled', () =>
      state.duplicatesDiscarded + (closedDeliveries.get(state.taskId) ?? 0) === 2 ? true : undefined,
    );
  });

  it('a declined task is reallocated to the next agent, which completes it', async () => {
    const { swarmId } = await swarm([
      ['busy', 10, () => ({ outcome: 'declined', reason: 'at capacity' })],
      ['willing', 500, ok],
    ]);
    const state = (await (await submit(swarmId)).result()) as TaskState;
    expect(state.status).toBe('SUCCEEDED');
    expect(state.attempts.map((t) => [t.agentId, t.outcome, t.reason])).toEqual([
      [`${swarmId}-busy`, 'declined', 'at capacity'],
      [`${swarmId}-willing`, 'succeeded', undefined],
    ]);
  });

  it('an agent that goes silent (LOST) has its task reallocated after the attempt timeout', async () => {
    const { swarmId } = await swarm([
      ['silent', 10, () => 'silent'],
      ['backup', 500, ok],
    ]);
    const state = (await (await submit(swarmId, { attemptTimeoutMs: 1500 })).result()) as TaskState;
    expect(state.status).toBe('SUCCEEDED');
    expect(state.attempts.map((t) => [t.agentId, t.outcome])).toEqual([
      [`${swarmId}-silent`, 'timed-out'],
      [`${swarmId}-backup`, 'succeeded'],
    ]);
  });

  it('after the bounded number of attempts the task FAILS with the reason', async () => {
    const { swarmId } = await swarm([
      ['a', 10, () => ({ outcome: 'failed', reason: 'out of memory' })],
      ['b', 20, () => ({ outcome: 'failed', reason: 'out of memory' })],
    ]);
    const state = (await (await submit(swarmId, { maxAttempts: 2 })).result()) as TaskState;
    expect(state.status).toBe('FAILED');
    expect(state.attempts.map((t) => t.outcome)).toEqual(['failed', 'failed']);
    expect(state.failureReason).toBe(`2 attempts: last attempt 2 on ${swarmId}-b: failed (out of memory)`);
  });

  it('a task nobody can run (a capability no agent has) FAILS naming why', async () => {
    const { swarmId } = await swarm([['plain', 10, ok]]);
    const state = (await (await submit(swarmId, { maxAttempts: 1 }, { requirements: { capabilities: ['vision'] } })).result()) as TaskState;
    expect(state.status).toBe('FAILED');
    expect(state.failureReason).toBe('1 attempts: last no agent can run it: no-capable-agent');
  });

  it('a cancelled task ends CANCELLED with its open attempt marked cancelled', async () => {
    const { swarmId, agents: a } = await swarm([['slow', 10, () => 'silent']]);
    const handle = await submit(swarmId, { attemptTimeoutMs: 60_000 });
    await waitFor('the task to reach the agent', () => (a.slow.received.length ? true : undefined));
    const cancelled = await handle.executeUpdate(cancelTaskUpdate, { args: [{ reason: 'user asked' }] });
    expect(cancelled.status).toBe('CANCELLED');
    const state = (await handle.result()) as TaskState;
    expect(state.status).toBe('CANCELLED');
    expect(state.attempts[0].outcome).toBe('cancelled');
  });

  it('an outcome signed by another agent than the one it names is refused', async () => {
    const { swarmId, agents: a } = await swarm([['victim', 10, () => 'silent']]);
    const handle = await submit(swarmId, { attemptTimeoutMs: 60_000 });
    await waitFor('the task to reach the agent', () => (a.victim.received.length ? true : undefined));
    const task = a.victim.received[0];
    keys.register('intruder');
    const payload = Buffer.from(JSON.stringify({ type: 'task-outcome', taskId: task.taskId, attempt: task.attempt, agentId: `${swarmId}-victim`, outcome: 'succeeded', result: 'forged' }));
    await messaging.publish(taskResultsTopic(swarmId), payload, { properties: keys.sign('intruder', taskResultsTopic(swarmId), payload) });
    // The genuine agent then answers: only its result counts.
    const genuine = Buffer.from(JSON.stringify({ type: 'task-outcome', taskId: task.taskId, attempt: task.attempt, agentId: `${swarmId}-victim`, outcome: 'succeeded', result: 'genuine' }));
    await messaging.publish(taskResultsTopic(swarmId), genuine, { properties: keys.sign(`${swarmId}-victim`, taskResultsTopic(swarmId), genuine) });
    const state = (await handle.result()) as TaskState;
    expect(state.result).toBe('genuine');
    expect(state.duplicatesDiscarded).toBe(0);
    expect((await handle.query(taskStateQuery)).status).toBe('SUCCEEDED');
  });
});
