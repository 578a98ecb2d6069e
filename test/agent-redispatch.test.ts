// The manager may send a task's attempt to the same agent again: a worker that
// crashed while placing and dispatching a task (local activities, re-run when its
// workflow task is retried) puts the attempt in the inbox a second time, and the
// agent's first answer may have reached the workflow before that attempt existed
// there, so it was discarded. The SDK answers the repeated attempt with the answer
// it gave, without running the task again.
import { QpAgent } from '../agents/sdk';
import { taskResultsTopic, type TaskAssignmentMessage, type TaskOutcomeMessage, type TaskState } from '../core/tasks';
import { swarmTopics } from '../core/topics';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

describe('a task attempt sent to the agent again', () => {
  let stack: Embedded;
  let agent: QpAgent | undefined;
  const swarmId = uniqueId('redispatch');

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('is answered again with the same result, and the task is not run twice', async () => {
    agent = new QpAgent({ apiUrl: stack.api.url, messaging: stack.ports.messaging, agentId: `${swarmId}-0`, swarmId, capabilities: [], resources: { cpu: 1, memoryMb: 512 }, heartbeatIntervalMs: 60_000 });
    await agent.register();
    let runs = 0;
    await agent.onTask(async (task) => {
      runs++;
      return { doubled: (task.input as { n: number }).n * 2 };
    });
    const taskId = uniqueId('again');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ taskId, swarmId, kind: 'double', input: { n: 21 }, estimatedWork: 1, deadline: 600_000 }),
    });
    expect(res.status).toBe(202);
    const handle = stack.client.workflow.getHandle(taskWorkflowId(taskId));
    expect(((await handle.result()) as TaskState).result).toEqual({ doubled: 42 });

    const answers = await stack.ports.messaging.subscribe(taskResultsTopic(swarmId), uniqueId('watch'), { initialPosition: 'latest' });
    try {
      const again: TaskAssignmentMessage = { type: 'task', taskId, attempt: 1, swarmId, kind: 'double', input: { n: 21 }, deadlineMs: Date.now() + 600_000, replyTopic: taskResultsTopic(swarmId) };
      await stack.ports.messaging.publish(swarmTopics(swarmId).inbox(agent.agentId), Buffer.from(JSON.stringify(again)), {
        key: taskId,
        properties: { type: 'task', taskId, attempt: '1' },
      });
      const repeated = await waitFor('the agent to answer the attempt again', async () => {
        const message = await answers.receive(500);
        if (!message) return undefined;
        await answers.ack(message);
        const outcome = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskOutcomeMessage;
        return outcome.taskId === taskId && outcome.outcome !== 'progress' ? outcome : undefined;
      });
      expect(repeated).toMatchObject({ taskId, attempt: 1, agentId: agent.agentId, outcome: 'succeeded', result: { doubled: 42 } });
      expect(runs).toBe(1);
    } finally {
      await answers.close();
    }
  });
});
