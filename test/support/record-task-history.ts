// Records test/histories/taskDelegation.json, which test/replay.test.ts replays:
// a task declined by the greener agent, reallocated, progressed and completed.
// Run after a change of the task workflow that is meant to be incompatible:
//   npx tsx test/support/record-task-history.ts
// It starts its own dev server (the stack's binary, in-memory) and stops it.
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QpAgent } from '../../agents/sdk';
import { parseConfig } from '../../core/config';
import type { TaskState } from '../../core/tasks';
import { devServerArgs, namespace } from '../../temporal-config';
import { startEmbedded } from '../../workers/embedded';
import { taskWorkflowId } from '../../workflows/definitions-tasks';
import { ADMIN_TOKEN } from './stack';

Runtime.install({ logger: new DefaultLogger('WARN') });

async function main(): Promise<void> {
  const temporal = execFileSync('bash', [join(__dirname, '../../infra/local/stack.sh'), 'path', 'temporal'], {
    encoding: 'utf8',
  }).trim();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporal }, ip: '127.0.0.1', extraArgs: devServerArgs() },
  });
  const tag = Date.now().toString(36);
  const config = parseConfig({
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_NAMESPACE: namespace,
    QP_TASK_QUEUE: `record-${tag}`,
    QP_ADMIN_TOKEN: ADMIN_TOKEN,
    QP_BEHAVIOR_SWEEP_CRON: 'off',
  });
  const stack = await startEmbedded({ config, apiPort: 0 });
  const swarmId = `record-${tag}`;
  const agents = [30, 600].map(
    (carbonGPerKWh, i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: [],
        resources: { cpu: 1, memoryMb: 512, energy: { source: 'grid', carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1 } },
      }),
  );
  for (const agent of agents) await agent.register();
  await agents[0].onTask(async (_task, context) => context.decline('busy'));
  await agents[1].onTask(async (task, context) => {
    await context.progress(0.5);
    return { echoed: task.input };
  });
  const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ taskId: `recorded-${tag}`, swarmId, kind: 'echo', input: { n: 1 }, estimatedWork: 5, deadline: 600_000 }),
  });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  const state = (await stack.client.workflow.getHandle(taskWorkflowId(`recorded-${tag}`)).result()) as TaskState;
  if (state.status !== 'SUCCEEDED' || state.attempts.length !== 2) throw new Error(`unexpected run: ${JSON.stringify(state)}`);

  const json = execFileSync(
    temporal,
    ['workflow', 'show', '--workflow-id', taskWorkflowId(`recorded-${tag}`), '--output', 'json', '--address', env.address, '--namespace', namespace],
    { encoding: 'utf8' },
  );
  writeFileSync(join(__dirname, '..', 'histories', 'taskDelegation.json'), json);
  await Promise.all(agents.map((a) => a.close()));
  await stack.stop();
  await env.teardown();
  console.log('recorded test/histories/taskDelegation.json');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
