// Records test/histories/taskDelegation.json, which test/replay.test.ts replays:
// a task declined by the greener agent, reallocated, progressed and completed.
// Run after a change of the task workflow that is meant to be incompatible:
//   npx tsx test/support/record-task-history.ts
// Since the status is kept in visibility, also recorded as taskDelegationIndexed:
//   npx tsx test/support/record-task-history.ts --name taskDelegationIndexed
// and under Contract Net (announce, bids, award; the decline leads to a second call):
//   npx tsx test/support/record-task-history.ts --name taskDelegationContractNet --contract-net
// and deferrable, HELD for the first agent's low-carbon window 10 s ahead before it declines:
//   npx tsx test/support/record-task-history.ts --name taskDelegationHeld --deferrable
import { QpAgent } from '../../agents/sdk';
import type { TaskState } from '../../core/tasks';
import { taskWorkflowId } from '../../workflows/definitions-tasks';
import { startRecordingStack, runRecorder } from './recording-stack';
import { ADMIN_TOKEN } from './stack';

runRecorder(async () => {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const deferrable = process.argv.includes('--deferrable');
  const forecast = deferrable ? [{ atMs: Date.now() + 10_000, gPerKWh: 10 }] : undefined;
  const agents = (deferrable ? [600, 600] : [30, 600]).map(
    (carbonGPerKWh, i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: [],
        resources: {
          cpu: 1,
          memoryMb: 512,
          energy: { source: 'grid', carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1, ...(i === 0 && forecast ? { forecast } : {}) },
        },
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
    body: JSON.stringify({
      taskId: `recorded-${tag}`,
      swarmId,
      kind: 'echo',
      input: { n: 1 },
      estimatedWork: 5,
      deadline: 600_000,
      ...(process.argv.includes('--contract-net') ? { allocation: 'contract-net' } : {}),
      ...(deferrable ? { deferrable: true } : {}),
    }),
  });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  const state = (await stack.client.workflow.getHandle(taskWorkflowId(`recorded-${tag}`)).result()) as TaskState;
  if (state.status !== 'SUCCEEDED' || state.attempts.length !== 2) throw new Error(`unexpected run: ${JSON.stringify(state)}`);

  const nameAt = process.argv.indexOf('--name');
  recording.save(taskWorkflowId(`recorded-${tag}`), nameAt > 0 ? process.argv[nameAt + 1] : 'taskDelegation');
  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});
