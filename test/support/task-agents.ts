// Agents that answer delegated tasks as a test scripts them: each reads its
// inbox and publishes a signed outcome (or nothing) on the swarm's task-results topic.
import type { AllocationAgent } from '../../core/allocation';
import { taskResultsTopic, type TaskAssignmentMessage, type TaskOutcomeMessage } from '../../core/tasks';
import { swarmTopics } from '../../core/topics';
import type { MessagingPort, TaskAgentSource } from '../../adapters/ports';
import type { TestAgentKeys } from './agent-keys';

/** A fixed set of candidates per swarm; `lost` ones are no longer listed. */
export class StaticTaskAgents implements TaskAgentSource {
  readonly lost = new Set<string>();
  constructor(private readonly bySwarm: Map<string, AllocationAgent[]>) {}
  async candidates(swarmId: string): Promise<AllocationAgent[]> {
    return (this.bySwarm.get(swarmId) ?? []).filter((agent) => !this.lost.has(agent.agentId));
  }
}

/** What a scripted agent does with a task: an outcome to publish (once or more), or silence. */
export type TaskBehaviour = (task: TaskAssignmentMessage) => { outcome: 'succeeded' | 'failed' | 'declined'; result?: unknown; reason?: string; copies?: number } | 'silent';

export interface ScriptedAgent {
  received: TaskAssignmentMessage[];
  stop(): Promise<void>;
}

export async function scriptedAgent(
  messaging: MessagingPort,
  keys: TestAgentKeys,
  swarmId: string,
  agentId: string,
  behaviour: TaskBehaviour,
): Promise<ScriptedAgent> {
  keys.register(agentId);
  const inbox = await messaging.subscribe(swarmTopics(swarmId).inbox(agentId), `agent-${agentId}`, { initialPosition: 'earliest' });
  const received: TaskAssignmentMessage[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const message = await inbox.receive(200);
      if (!message) continue;
      await inbox.ack(message);
      const task = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskAssignmentMessage;
      if (task.type !== 'task') continue;
      received.push(task);
      const answer = behaviour(task);
      if (answer === 'silent') continue;
      const outcome: TaskOutcomeMessage = { type: 'task-outcome', taskId: task.taskId, attempt: task.attempt, agentId, ...answer };
      delete (outcome as { copies?: number }).copies;
      const payload = Buffer.from(JSON.stringify(outcome));
      for (let copy = 0; copy < (answer.copies ?? 1); copy++) {
        // Each copy carries its own send time, as a retrying agent's would.
        await messaging.publish(taskResultsTopic(swarmId), payload, {
          key: task.taskId,
          properties: keys.sign(agentId, taskResultsTopic(swarmId), payload, { type: 'task-outcome' }),
        });
      }
    }
  })();
  return {
    received,
    async stop() {
      running = false;
      await loop;
      await inbox.close();
    },
  };
}
