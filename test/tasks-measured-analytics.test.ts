// Measured placement on the real Temporal dev server with the embedded analytics: two agents
// declare energy profiles; one draws ten times what it declared. Before the analytics have a
// window for them, placement trusts the declarations; once the swarm's analytics report each
// agent's measured draw (from their heartbeats), placement plans with it. The task outcomes the
// agents sign come back through the analytics as task-latency windows.
import { Client, Connection, WorkflowIdConflictPolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createWorkerMetrics, metricsSinks } from '../activities/metrics';
import { createTaskActivities } from '../activities/tasks';
import { HighsLpSolver } from '../adapters/highs/lp-solver';
import { EmbeddedAnalyticsRuntime } from '../adapters/memory/analytics-runtime';
import { AnalyticsWindowsReader } from '../adapters/memory/analytics-windows';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { TemporalTaskOutcomes } from '../adapters/temporal/task-outcomes';
import { windowStartOf, type AnalyticsRecord } from '../core/analytics';
import type { AllocationAgent } from '../core/allocation';
import type { TaskState } from '../core/tasks';
import { swarmTopics } from '../core/topics';
import { TASK_DELEGATION_WORKFLOW, TASK_RESULTS_WORKFLOW, taskResultsWorkflowId, taskWorkflowId } from '../workflows/definitions-tasks';
import { TestAgentKeys } from './support/agent-keys';
import { StaticTaskAgents, scriptedAgent, type ScriptedAgent } from './support/task-agents';
import { uniqueId, waitFor } from './support/stack';

const WINDOW_MS = 1000;

function declared(agentId: string, busyWatts: number): AllocationAgent {
  return {
    agentId,
    capabilities: [],
    capacity: { cpu: 4, memoryMb: 4096 },
    speed: 1,
    energy: { idleWatts: 10, busyWatts, source: 'grid', carbonGPerKWh: 300 },
  };
}

describe('task placement with measured signals from the embedded analytics', () => {
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const messaging = new MemoryMessaging();
  const analytics = new EmbeddedAnalyticsRuntime(messaging, { windowMs: WINDOW_MS, latenessMs: 500, graceMs: 30_000, flapThreshold: 4, burstThreshold: 5 });
  const windows = new AnalyticsWindowsReader(messaging);
  const keys = new TestAgentKeys();
  const swarms = new Map<string, AllocationAgent[]>();
  const agents: ScriptedAgent[] = [];
  const taskQueue = uniqueId('tasks-measured');
  const swarmId = uniqueId('swm');
  const thirsty = `${swarmId}-thirsty`;
  const frugal = `${swarmId}-frugal`;

  beforeAll(async () => {
    const address = process.env.QP_TEST_TEMPORAL_ADDRESS!;
    const namespace = process.env.QP_TEST_NAMESPACE!;
    connection = await Connection.connect({ address });
    client = new Client({ connection, namespace });
    nativeConnection = await NativeConnection.connect({ address });
    worker = await Worker.create({
      connection: nativeConnection,
      namespace,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      sinks: metricsSinks(createWorkerMetrics(new Registry())),
      activities: createTaskActivities({
        messaging,
        agents: new StaticTaskAgents(swarms),
        outcomes: new TemporalTaskOutcomes(client),
        agentKeys: keys,
        credentialSecret: 'test-relay-secret-0123456789abcdef',
        solver: new HighsLpSolver(),
        measured: windows,
      }),
    });
    running = worker.run();
    // thirsty declares 50 W busy, frugal 100 W: on paper thirsty costs half the carbon
    swarms.set(swarmId, [declared(thirsty, 50), declared(frugal, 100)]);
    for (const agentId of [thirsty, frugal]) {
      agents.push(await scriptedAgent(messaging, keys, swarmId, agentId, (task) => ({ outcome: 'succeeded', result: task.attempt })));
    }
    await client.workflow.start(TASK_RESULTS_WORKFLOW, {
      taskQueue,
      workflowId: taskResultsWorkflowId(swarmId),
      args: [{ swarmId, windowMs: 1000 }],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    await analytics.deploy(swarmId);
    // the swarm's roster, as registration publishes it: the analytics count only its agents' heartbeats
    for (const agentId of [thirsty, frugal]) {
      await messaging.publish(swarmTopics(swarmId).roster, Buffer.from(JSON.stringify({ type: 'agent-registered', agentId, generation: 1, registeredAt: Date.now() })), {
        key: agentId,
        properties: { type: 'agent-registered', agentId },
      });
    }
    await waitFor('the roster read', () => (analytics.counters(swarmId)?.messages === 2 ? true : undefined));
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    worker?.shutdown();
    await running;
    await windows.close();
    await analytics.close();
    await nativeConnection?.close();
    await connection?.close();
    await messaging.close();
  });

  async function runTask(): Promise<TaskState> {
    const taskId = uniqueId('t');
    const handle = await client.workflow.start(TASK_DELEGATION_WORKFLOW, {
      taskQueue,
      workflowId: taskWorkflowId(taskId),
      args: [
        {
          spec: { taskId, swarmId, kind: 'measure', input: {}, requirements: {}, estimatedWork: 60, deadlineMs: Date.now() + 3_600_000 },
          maxAttempts: 1,
          attemptTimeoutMs: 10_000,
          submittedAt: new Date().toISOString(),
        },
      ],
    });
    return (await handle.result()) as TaskState;
  }

  /** Agents stamp heartbeats with their clock: an event time is only used once the clock has passed it. */
  const clockPast = (ms: number) => waitFor(`the clock to pass ${ms}`, () => (Date.now() > ms ? true : undefined), 10_000, 20);

  /** A heartbeat as an agent sends it (the analytics read payloads; proofs are the liveness monitor's concern). */
  const heartbeat = (agentId: string, sentAt: number, energyUsedWh?: number) =>
    messaging.publish(
      swarmTopics(swarmId).heartbeats,
      Buffer.from(JSON.stringify({ agentId, sentAt, load: 1, ...(energyUsedWh !== undefined && { energyUsedWh, carbonIntensityGPerKWh: 300 }) })),
    );

  it('places by the declared profiles while no window exists, by the measured draw once one does', async () => {
    const before = await runTask();
    expect(before.status).toBe('SUCCEEDED');
    expect(before.agentId).toBe(thirsty);
    // 60 work units at 50 W: 60 s, 0.833 Wh
    expect(before.energyWh).toBeCloseTo(50 / 60, 9);

    // One window of fully loaded heartbeats: thirsty drew 500 W, frugal 100 W (Wh per 1 s window).
    const start = windowStartOf(Date.now(), WINDOW_MS) + WINDOW_MS;
    for (const at of [start + 100, start + 600]) {
      await clockPast(at);
      await heartbeat(thirsty, at, (500 * WINDOW_MS) / 3_600_000 / 2);
      await heartbeat(frugal, at, (100 * WINDOW_MS) / 3_600_000 / 2);
    }
    // event time moves past the window's end plus the lateness (500 ms): it closes
    await clockPast(start + WINDOW_MS + 600);
    await heartbeat(frugal, Date.now());
    const energy = await waitFor('agent-energy windows of both agents', async () => {
      const latest = (await windows.latest(swarmId)).filter((w): w is Extract<AnalyticsRecord, { signal: 'agent-energy' }> => w.signal === 'agent-energy');
      return latest.length === 2 ? latest : undefined;
    });
    expect(energy.map((w) => [w.key, w.windowStart])).toEqual([
      [frugal, start],
      [thirsty, start],
    ]);

    const after = await runTask();
    expect(after.status).toBe('SUCCEEDED');
    expect(after.agentId).toBe(frugal);
    // planned with frugal's measured busy power (100 W at load 1; windows carry Wh to 6 decimals): 60 s, 1.667 Wh
    expect(after.energyWh).toBeCloseTo(100 / 60, 4);
  });

  it('the agents\' signed outcomes come back as task-latency windows of their kind', async () => {
    // the outcomes were sent in real time; a heartbeat past their window and the lateness closes it
    await clockPast(Date.now() + WINDOW_MS + 600);
    await heartbeat(frugal, Date.now());
    const latency = await waitFor('task-latency windows', async () => {
      const found = (await windows.latest(swarmId)).filter((w) => w.signal === 'task-latency' && w.key === 'measure');
      return found.length > 0 ? found : undefined;
    });
    expect(latency.every((w) => w.signal === 'task-latency' && w.tasks >= 1 && w.failed === 0 && w.deadlineMisses === 0)).toBe(true);
    expect(analytics.counters(swarmId)).toMatchObject({ malformed: 0, invalid: 0, late: 0, unmatched: 0, unknownAgent: 0 });
  });
});
