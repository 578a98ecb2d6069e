// Registration handshakes per second with N simulated agents against a real
// Temporal dev server, beside the floor measured in the same run: a no-op
// workflow started and answered with one update per agent, same concurrency.
//   npm run bench:registration -- [--agents 1000] [--concurrency 64]
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { simulateSwarm } from '../agents/simulate';
import { parseConfig } from '../core/config';
import { namespace } from '../temporal-config';
import { startEmbedded } from '../workers/embedded';
import { noopAnswer } from './floor-workflows';
import { arg, measureFloor } from './support/floor';
import { startDevServer } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function floor(env: TestWorkflowEnvironment, agents: number, concurrency: number): Promise<number> {
  return measureFloor(env, agents, concurrency, async (client, taskQueue, i) => {
    const handle = await client.workflow.start('noopHandshake', { taskQueue, workflowId: `${taskQueue}-${i}` });
    await handle.executeUpdate(noopAnswer, { args: ['ack'] });
  });
}

async function ours(env: TestWorkflowEnvironment, agents: number, concurrency: number): Promise<number> {
  const config = parseConfig({
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: namespace,
    QP_TASK_QUEUE: `bench-registration-${Date.now()}`,
  });
  const stack = await startEmbedded({ config, apiPort: 0 });
  const t0 = performance.now();
  const swarm = await simulateSwarm({
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    count: agents,
    swarmId: `bench-${Date.now()}`,
    idPrefix: `bench-${Date.now()}`,
    concurrency,
    heartbeatIntervalMs: 60_000,
  });
  const elapsed = performance.now() - t0;
  if (swarm.failed.length > 0) throw new Error(`${swarm.failed.length} registrations failed: ${swarm.failed[0].error}`);
  await swarm.stop();
  await stack.stop();
  return elapsed;
}

async function main(): Promise<void> {
  const agents = arg('agents', 1000);
  const concurrency = arg('concurrency', 64);
  const env = await startDevServer();
  try {
    console.error(`${agents} agents, ${concurrency} in flight, Temporal dev server (in-memory) at ${env.address}`);
    const floorMs = await floor(env, agents, concurrency);
    const oursMs = await ours(env, agents, concurrency);
    const floorRate = (agents / floorMs) * 1000;
    const oursRate = (agents / oursMs) * 1000;
    console.log(`floor_noop_update_workflows_per_s ${floorRate.toFixed(1)}`);
    console.log(`registration_handshakes_per_s ${oursRate.toFixed(1)}`);
    console.log(`ratio_ours_over_floor ${(oursRate / floorRate).toFixed(3)}`);
  } finally {
    await env.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
