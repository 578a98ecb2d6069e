// An agent finishes a task while its broker is unreachable for longer than one
// publish waits (a broker restart): the task's message is acknowledged already,
// so an answer given up on is found again only at the task's deadline. The SDK
// sends it again until it goes; the task succeeds with its one attempt, and the
// publish failure is not reported as a failure of the task.
import { QpAgent } from '../agents/sdk';
import type { MessagingPort } from '../adapters/ports';
import { taskResultsTopic, type TaskState } from '../core/tasks';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

/** The stack's messaging, with the first `failures` publishes on `topic` refused as by an unreachable broker. */
function outageOn(inner: MessagingPort, topic: string, failures: number): MessagingPort & { refused: number } {
  return {
    refused: 0,
    async publish(to, payload, options) {
      if (to === topic && this.refused < failures) {
        this.refused++;
        throw new Error('the broker is unreachable');
      }
      return inner.publish(to, payload, options);
    },
    subscribe: (to, subscription, options) => inner.subscribe(to, subscription, options),
    deleteTopic: (to) => inner.deleteTopic(to),
    close: async () => undefined,
  };
}

describe('a task answered during a broker outage', () => {
  let stack: Embedded;
  let agent: QpAgent | undefined;
  const swarmId = uniqueId('answer-outage');

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('reaches the manager once the broker is back, as a success with one attempt', async () => {
    const messaging = outageOn(stack.ports.messaging, taskResultsTopic(swarmId), 3);
    agent = new QpAgent({ apiUrl: stack.api.url, messaging, agentId: `${swarmId}-0`, swarmId, capabilities: [], resources: { cpu: 1, memoryMb: 512 }, heartbeatIntervalMs: 60_000 });
    await agent.register();
    let runs = 0;
    await agent.onTask(async (task) => {
      runs++;
      return { doubled: (task.input as { n: number }).n * 2 };
    });

    const taskId = uniqueId('outage-task');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ taskId, swarmId, kind: 'double', input: { n: 21 }, estimatedWork: 1, deadline: 600_000 }),
    });
    expect(res.status).toBe(202);
    const handle = stack.client.workflow.getHandle(taskWorkflowId(taskId));
    let timer: NodeJS.Timeout | undefined;
    const state = await Promise.race([
      handle.result() as Promise<TaskState>,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer reached the manager within 30 s')), 30_000))),
    ]).finally(() => clearTimeout(timer));

    expect(messaging.refused).toBe(3);
    expect(runs).toBe(1);
    expect(state.status).toBe('SUCCEEDED');
    expect(state.result).toEqual({ doubled: 42 });
    expect(state.attempts.map((attempt) => attempt.outcome)).toEqual(['succeeded']);
  }, 60_000);
});
