// The swarm simulator: N reference agents in one process.
import type { AgentResources } from '../core/agents';
import { seededRandom } from '../core/random';
import type { MessagingPort } from '../adapters/ports';
import { QpAgent, type AgentEvent, type Trainer } from './sdk';

export interface SwarmSimulation {
  agents: QpAgent[];
  registered: number;
  failed: { agentId: string; error: string }[];
  stop(): Promise<void>;
}

export interface SimulateOptions {
  apiUrl: string;
  messaging: MessagingPort;
  count: number;
  swarmId?: string;
  idPrefix?: string;
  heartbeatIntervalMs?: number;
  /** Registrations in flight at once. */
  concurrency?: number;
  /** How long each agent waits for its challenge (the SDK's default: 30 s). */
  handshakeTimeoutMs?: number;
  /** Seed for the simulated resources, so runs repeat. */
  seed?: number;
  /** When given, agent i declares resources[i] instead of seeded random ones. */
  resources?: AgentResources[];
  /** When given, agent i takes part in federated rounds with trainers[i]. */
  trainers?: Trainer[];
  onProgress?: (done: number, total: number) => void;
  onEvent?: (agentId: string, event: AgentEvent) => void;
}

function simulatedResources(random: () => number): AgentResources {
  const sources = ['grid', 'solar', 'wind', 'battery'] as const;
  return {
    cpu: 1 + Math.floor(random() * 8),
    memoryMb: 1024 * (1 + Math.floor(random() * 16)),
    gpu: random() < 0.2 ? 1 : 0,
    energy: {
      source: sources[Math.floor(random() * sources.length)],
      budgetWh: Math.round(50 + random() * 450),
      carbonGPerKWh: Math.round(random() * 500),
    },
  };
}

/** Registers count agents (bounded concurrency) and starts their heartbeats. */
export async function simulateSwarm(options: SimulateOptions): Promise<SwarmSimulation> {
  const random = seededRandom(options.seed ?? 1);
  const prefix = options.idPrefix ?? 'sim-agent';
  const agents = Array.from(
    { length: options.count },
    (_, i) =>
      new QpAgent({
        apiUrl: options.apiUrl,
        messaging: options.messaging,
        agentId: `${prefix}-${String(i).padStart(4, '0')}`,
        swarmId: options.swarmId,
        capabilities: ['train', 'evaluate'],
        resources: options.resources?.[i] ?? simulatedResources(random),
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        onEvent: (event) => options.onEvent?.(`${prefix}-${String(i).padStart(4, '0')}`, event),
      }),
  );
  const failed: SwarmSimulation['failed'] = [];
  let done = 0;
  let next = 0;
  const registerNext = async (): Promise<void> => {
    while (next < agents.length) {
      const index = next++;
      const agent = agents[index];
      try {
        await agent.register();
        agent.startHeartbeats(() => ({ load: random() }));
        const trainer = options.trainers?.[index];
        if (trainer) await agent.participate(trainer);
      } catch (error) {
        failed.push({ agentId: agent.agentId, error: String(error) });
      }
      options.onProgress?.(++done, agents.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, agents.length) }, registerNext));
  return {
    agents,
    registered: agents.length - failed.length,
    failed,
    async stop() {
      await Promise.all(agents.map((agent) => agent.close()));
    },
  };
}
