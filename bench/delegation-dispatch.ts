// End-to-end dispatch throughput of task delegation with no-op agents, beside
// the floor measured in the same run on the same dev server: the same number
// of no-op workflows started and awaited at the same concurrency.
//   npm run bench:delegation-dispatch -- [--tasks 1000] [--agents 100] [--concurrency 64]
// Ours is the product path: TaskService.submit (as POST /api/v1/tasks), the
// taskDelegation workflow and its activities (placement by core/allocation,
// dispatch to the inbox), signed outcomes consumed by the results collector.
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createTaskActivities } from '../activities/tasks';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { TemporalTaskOutcomes } from '../adapters/temporal/task-outcomes';
import { TaskService } from '../api/task-service';
import { namespace } from '../temporal-config';
import { taskResultsWorkflowId, taskWorkflowId } from '../workflows/definitions-tasks';
import { arg, measureFloor, pool } from './support/floor';
import { NoopSwarm } from './support/noop-task-agents';
import { startDevServer } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function floor(env: TestWorkflowEnvironment, tasks: number, concurrency: number): Promise<number> {
  return measureFloor(env, tasks, concurrency, async (client, taskQueue, i) => {
    await client.workflow.execute('noopTask', { taskQueue, workflowId: `${taskQueue}-${i}` });
  });
}

async function ours(env: TestWorkflowEnvironment, tasks: number, agents: number, concurrency: number): Promise<number> {
  const taskQueue = `bench-tasks-${Date.now()}`;
  const messaging = new MemoryMessaging();
  const swarm = new NoopSwarm(messaging, `bench-${Date.now()}`, agents);
  const connection = await NativeConnection.connect({ address: env.address });
  const client = new Client({ connection: env.connection, namespace });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createTaskActivities({
      messaging,
      agents: swarm,
      outcomes: new TemporalTaskOutcomes(client),
      agentKeys: swarm,
      credentialSecret: 'bench-relay-secret-0123456789abcdef',
    }),
  });
  await swarm.start();
  const service = new TaskService(client, { namespace: client.options.namespace, taskQueue, cursorSecret: 'bench-cursor-secret', maxAttempts: 3, attemptTimeoutMs: 60_000, resultsWindowMs: 5_000 });
  const elapsed = await worker.runUntil(async () => {
    const t0 = performance.now();
    await pool(tasks, concurrency, async (i) => {
      const { taskId } = await service.submit({ taskId: `t${i}-${taskQueue}`, swarmId: swarm.swarmId, kind: 'noop', input: null, requirements: {}, estimatedWork: 1, deadline: 3_600_000 });
      const state = await client.workflow.getHandle(taskWorkflowId(taskId)).result();
      if (state.status !== 'SUCCEEDED') throw new Error(`task ${taskId} ended ${state.status}`);
    });
    const ms = performance.now() - t0;
    await client.workflow.getHandle(taskResultsWorkflowId(swarm.swarmId)).terminate('benchmark done');
    return ms;
  });
  await swarm.stop();
  await connection.close();
  return elapsed;
}

async function main(): Promise<void> {
  const tasks = arg('tasks', 1000);
  const agents = arg('agents', 100);
  const concurrency = arg('concurrency', 64);
  const env = await startDevServer();
  try {
    console.error(`${tasks} tasks, ${agents} no-op agents, ${concurrency} in flight, Temporal dev server (in-memory) at ${env.address}`);
    const floorMs = await floor(env, tasks, concurrency);
    const oursMs = await ours(env, tasks, agents, concurrency);
    const floorRate = (tasks / floorMs) * 1000;
    const oursRate = (tasks / oursMs) * 1000;
    console.log(`floor_noop_workflows_per_s ${floorRate.toFixed(1)}`);
    console.log(`tasks_completed_per_s ${oursRate.toFixed(1)}`);
    console.log(`ratio_ours_over_floor ${(oursRate / floorRate).toFixed(3)}`);
  } finally {
    await env.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
