// No-op agents for the dispatch benchmark: each reads its inbox and answers
// every task at once with a signed empty result; and the key directory and
// candidate list the manager reads them from.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AllocationAgent } from '../../core/allocation';
import { signAsAgent } from '../../core/message-proof';
import { taskResultsTopic, type TaskAssignmentMessage, type TaskOutcomeMessage } from '../../core/tasks';
import { swarmTopics } from '../../core/topics';
import type { AgentKeyDirectory, Consumer, MessagingPort, TaskAgentSource } from '../../adapters/ports';

export class NoopSwarm implements AgentKeyDirectory, TaskAgentSource {
  private readonly keys = new Map<string, { publicPem: string; privateKey: KeyObject }>();
  private readonly consumers: Consumer[] = [];
  private readonly loops: Promise<void>[] = [];
  private running = true;
  readonly agentIds: string[];

  constructor(
    private readonly messaging: MessagingPort,
    readonly swarmId: string,
    count: number,
  ) {
    this.agentIds = Array.from({ length: count }, (_, i) => `${swarmId}-a${i}`);
    for (const agentId of this.agentIds) {
      const pair = generateKeyPairSync('ed25519');
      this.keys.set(agentId, { publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey: pair.privateKey });
    }
  }

  async publicKey(_swarmId: string, agentId: string): Promise<string | undefined> {
    return this.keys.get(agentId)?.publicPem;
  }

  async candidates(): Promise<AllocationAgent[]> {
    return this.agentIds.map((agentId) => ({
      agentId,
      capabilities: [],
      capacity: { cpu: 4, memoryMb: 4096 },
      speed: 1,
      energy: { idleWatts: 10, busyWatts: 100, source: 'grid', carbonGPerKWh: 400 },
    }));
  }

  async start(): Promise<void> {
    const topic = taskResultsTopic(this.swarmId);
    for (const agentId of this.agentIds) {
      const inbox = await this.messaging.subscribe(swarmTopics(this.swarmId).inbox(agentId), `agent-${agentId}`, { initialPosition: 'earliest' });
      this.consumers.push(inbox);
      const key = this.keys.get(agentId)!.privateKey;
      this.loops.push(
        (async () => {
          while (this.running) {
            const message = await inbox.receive(200).catch(() => undefined);
            if (!message) continue;
            await inbox.ack(message);
            const task = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskAssignmentMessage;
            const outcome: TaskOutcomeMessage = { type: 'task-outcome', taskId: task.taskId, attempt: task.attempt, agentId, outcome: 'succeeded', result: null };
            const payload = Buffer.from(JSON.stringify(outcome));
            await this.messaging.publish(topic, payload, {
              key: task.taskId,
              properties: signAsAgent(key, agentId, topic, { type: 'task-outcome' }, payload, Date.now()),
            });
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.consumers.map((c) => c.close()));
  }
}
