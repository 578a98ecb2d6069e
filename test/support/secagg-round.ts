// One SecAgg+ round end to end in memory: the server and every agent state
// machine, with dropouts injected between stages. Every message crosses a
// JSON round trip, as it would on a real transport.
import { DomainError } from '../../core/errors';
import { createSecAggAgent, type SecAggAgent } from '../../core/secagg/agent';
import type { SecAggConfig } from '../../core/secagg/config';
import { seededRandomSource } from '../../core/secagg/crypto';
import type { AgentMessage, ServerMessage } from '../../core/secagg/messages';
import { createSecAggServer, type SecAggResult } from '../../core/secagg/server';

export interface SecAggDropouts {
  /** Advertise keys, then vanish (no shares sent: they simply leave the round). */
  afterAdvertiseKeys?: string[];
  /** Share keys, then vanish before sending masked input (their s^SK is rebuilt to cancel pairwise masks). */
  afterShareKeys?: string[];
  /** Send masked input, then never answer the unmask request. */
  afterMaskedInput?: string[];
}

export interface SecAggRoundOptions {
  /** Example count per agent (needed unless config.weighting is 'none'). */
  weights?: Map<string, number>;
  /** Makes every agent's randomness deterministic (seeded per agent); omit for the OS CSPRNG. */
  seed?: string;
}

export interface SecAggRoundResult extends SecAggResult {
  /** Every message the server received, in order (after the JSON round trip). */
  serverInbox: AgentMessage[];
  /** Every request the server sent, in order, dropped agents' included. */
  serverOutbox: ServerMessage[];
  /** Agents that aborted on a protocol check, with the reason. */
  aborted: { agentId: string; code: string; message: string }[];
}

const wire = <T>(message: T): T => JSON.parse(JSON.stringify(message)) as T;

/** Runs one round over `updates` (agent id → float vector) and returns the server's result plus its transcript. */
export function runSecAggRound(
  updates: Map<string, Float32Array>,
  config: SecAggConfig,
  dropouts: SecAggDropouts = {},
  options: SecAggRoundOptions = {},
): SecAggRoundResult {
  const ids = [...updates.keys()];
  const server = createSecAggServer(config, ids);
  const agents = new Map<string, SecAggAgent>(
    ids.map((id) => [
      id,
      createSecAggAgent(config, id, updates.get(id), {
        weight: options.weights?.get(id),
        random: options.seed === undefined ? undefined : seededRandomSource(`${options.seed}/${id}`),
      }),
    ]),
  );
  const serverInbox: AgentMessage[] = [];
  const serverOutbox: ServerMessage[] = [];
  const aborted: SecAggRoundResult['aborted'] = [];
  const gone = new Set<string>();

  const deliver = (message: AgentMessage): void => {
    const received = wire(message);
    serverInbox.push(received);
    server.receive(received);
  };
  const step = <R extends ServerMessage>(requests: R[], act: (agent: SecAggAgent, request: R) => AgentMessage): void => {
    for (const request of requests) {
      serverOutbox.push(wire(request));
      if (gone.has(request.to)) continue;
      try {
        deliver(act(agents.get(request.to)!, wire(request)));
      } catch (error) {
        // An agent that aborts simply stops answering: the server sees a dropout.
        if (!(error instanceof DomainError)) throw error;
        gone.add(request.to);
        aborted.push({ agentId: request.to, code: error.code, message: error.message });
      }
    }
  };
  const drop = (list: string[] | undefined): void => list?.forEach((id) => gone.add(id));

  for (const agent of agents.values()) deliver(agent.advertiseKeys());
  drop(dropouts.afterAdvertiseKeys);
  step(server.closeAdvertiseKeys(), (agent, request) => agent.shareKeys(request));
  drop(dropouts.afterShareKeys);
  step(server.closeShareKeys(), (agent, request) => agent.maskedInput(request));
  drop(dropouts.afterMaskedInput);
  step(server.closeMaskedInput(), (agent, request) => agent.unmask(request));
  return { ...server.finish(), serverInbox, serverOutbox, aborted };
}
