// A swarm for asynchronous tuning whose updates follow a script instead of
// wall-clock timing, so two runs of one job see the same buffers: registered
// agents (real handshake, real keys), and a driver that reads each model
// version from an inbox and, per version, publishes a fixed list of updates,
// each one trained (digits) on the version the script names as its base and
// signed with its agent's key. An update is then a function of (agent, base
// version) and the sequence on the topic a function of the version alone.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Consumer, MessagingPort } from '../../adapters/ports';
import { QpAgent, type Trainer } from '../../agents/sdk';
import { signAsAgent } from '../../core/message-proof';
import { swarmTopics } from '../../core/topics';
import { agentBudget, bytesToParams, encodeUpdateHeader, paramsToBytes, type RoundStartMessage } from '../../core/tuning';

/** One scripted update: which agent sends it, trained on which version. */
export interface ScriptedUpdate {
  agent: number;
  base: number;
}

export interface ScriptedSwarm {
  agentIds: string[];
  /** Waits for version `version` to be announced (returns its round start). */
  version(version: number, timeoutMs?: number): Promise<RoundStartMessage>;
  /** Publishes one update, trained on the base version's model (which must have been announced). */
  publish(jobId: string, update: ScriptedUpdate): Promise<void>;
  stop(): Promise<void>;
}

export async function scriptedSwarm(options: {
  apiUrl: string;
  messaging: MessagingPort;
  swarmId: string;
  trainers: Trainer[];
}): Promise<ScriptedSwarm> {
  const keys = options.trainers.map(() => generateKeyPairSync('ed25519'));
  const agents = keys.map(
    (pair, i) =>
      new QpAgent({
        apiUrl: options.apiUrl,
        messaging: options.messaging,
        agentId: `${options.swarmId}-${i}`,
        swarmId: options.swarmId,
        capabilities: ['train'],
        resources: { cpu: 1, memoryMb: 512 },
        keys: pair,
        heartbeatIntervalMs: 2_000,
      }),
  );
  for (const agent of agents) {
    await agent.register();
    agent.startHeartbeats();
  }
  // Every agent is sent every version: the first agent's inbox is enough to learn them.
  const inbox: Consumer = await options.messaging.subscribe(swarmTopics(options.swarmId).inbox(agents[0].agentId), 'script-driver', {
    initialPosition: 'earliest',
  });
  const versions = new Map<number, RoundStartMessage>();
  const models = new Map<number, Float32Array>();

  async function version(wanted: number, timeoutMs = 60_000): Promise<RoundStartMessage> {
    const deadline = Date.now() + timeoutMs;
    while (!versions.has(wanted)) {
      if (Date.now() > deadline) throw new Error(`version ${wanted} was not announced in time`);
      const message = await inbox.receive(500);
      if (!message) continue;
      await inbox.ack(message);
      if (message.properties.type !== 'round-start') continue;
      const start = JSON.parse(Buffer.from(message.payload).toString('utf8')) as RoundStartMessage;
      if (start.mode !== 'async' || !start.globalParams) continue;
      versions.set(start.round, start);
      models.set(start.round, Float32Array.from(bytesToParams(Buffer.from(start.globalParams, 'base64'))));
    }
    return versions.get(wanted)!;
  }

  async function publish(jobId: string, update: ScriptedUpdate): Promise<void> {
    const start = versions.get(update.base);
    const global = models.get(update.base);
    if (!start || !global) throw new Error(`version ${update.base} was never announced`);
    const agentId = agents[update.agent].agentId;
    const result = await options.trainers[update.agent]({
      jobId,
      round: update.base,
      attempt: 0,
      global,
      training: start.training,
      deadlineAt: start.deadlineAt,
      budget: agentBudget(start.training),
      signal: new AbortController().signal,
      shouldStop: () => false,
    });
    if (!result) throw new Error(`agent ${update.agent} produced no update`);
    const payload = paramsToBytes(result.params);
    const header = encodeUpdateHeader({ jobId, round: update.base, attempt: 0, agentId, examples: result.examples });
    await options.messaging.publish(start.updatesTopic, payload, {
      key: agentId,
      properties: signAsAgent(keys[update.agent].privateKey as KeyObject, agentId, start.updatesTopic, header, payload, Date.now()),
    });
  }

  return {
    agentIds: agents.map((a) => a.agentId),
    version,
    publish,
    async stop() {
      await inbox.close();
      await Promise.all(agents.map((a) => a.close()));
    },
  };
}
