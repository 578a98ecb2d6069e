// The manager's side of a SecAgg+ round over messaging: agents publish their
// protocol messages on the round's updates topic, the manager answers each
// stage in the agents' inboxes, and learns only the weighted sum of the
// participants' changes. No single agent's update is ever visible here.
import { Context } from '@temporalio/activity';
import { DomainError } from '../core/errors';
import { createSecAggServer, type SecAggConfig, type ServerMessage } from '../core/secagg';
import { decodeSecAggHeader, roundMismatch, type RoundInput, type SecureAggregationSpec } from '../core/tuning';
import { swarmTopics } from '../core/topics';
import type { Consumer, MessagingPort, ReceivedMessage } from '../adapters/ports';

export interface SecureCollectionInput extends RoundInput {
  secure: SecureAggregationSpec;
  config: SecAggConfig;
}

export interface SecureCollection {
  held: ReceivedMessage[];
  /** Agents whose input is in the sum. */
  survivors: string[];
  /** Mean change (sum / total weight), or undefined when the protocol could not finish. */
  meanDelta?: Float32Array;
  totalWeight: number;
  failure?: string;
  /** Messages of this job's earlier rounds read now: late in their own round (by round number), as in a plain round. */
  lateByRound: Record<string, number>;
}

/** The SecAgg+ configuration every participant of a round gets with the round start. */
export function secureRoundConfig(roundId: string, dimension: number, secure: SecureAggregationSpec): SecAggConfig {
  return {
    roundId,
    dimension,
    degree: secure.degree,
    threshold: secure.threshold,
    expectedDropout: secure.expectedDropout,
    clipRange: secure.clipRange,
    quantizationLevels: secure.quantizationLevels,
    maxWeight: secure.maxWeight,
    weighting: 'masked',
    rounding: 'stochastic',
  };
}

/**
 * Runs the four stages: advertise keys (until the round deadline, since agents
 * train first), share keys, masked input, unmask (each stageTimeoutMs).
 * `check` vets a message's sender (participant, proof); rejections are counted by the caller.
 */
export async function collectSecurely(
  input: SecureCollectionInput,
  consumer: Consumer,
  messaging: MessagingPort,
  check: (message: ReceivedMessage, agentId: string) => Promise<string | undefined>,
  reject: (reason: string, agentId?: string) => void,
): Promise<SecureCollection> {
  const context = Context.current();
  const server = createSecAggServer(input.config, input.participants);
  const held: ReceivedMessage[] = [];
  const lateByRound: Record<string, number> = {};
  const inbox = swarmTopics(input.swarmId);

  const listen = async (expected: Set<string>, until: number): Promise<void> => {
    const answered = new Set<string>();
    while (answered.size < expected.size && Date.now() < until) {
      const message = await consumer.receive(Math.max(1, Math.min(until - Date.now(), 500)));
      context.heartbeat({ stage: server.stage, answered: answered.size });
      if (!message) continue;
      held.push(message);
      const header = decodeSecAggHeader(message.properties);
      if (header && header.jobId === input.jobId && header.round < input.round) {
        // Sent for a round that has closed: late there, not stale here.
        lateByRound[header.round] = (lateByRound[header.round] ?? 0) + 1;
        continue;
      }
      const mismatch = roundMismatch(header, input);
      if (mismatch || !header) {
        reject(mismatch ?? 'malformed', header?.agentId);
        continue;
      }
      const refusal = await check(message, header.agentId);
      if (refusal) {
        reject(refusal, header.agentId);
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(message.payload).toString('utf8'));
        // The proof vouches for the header's agent; the message must speak for the same one.
        if ((body as { from?: unknown }).from !== header.agentId) throw new DomainError('FORBIDDEN', 'sender mismatch');
        const outcome = server.receive(body);
        if (outcome === 'accepted') answered.add(header.agentId);
        else reject(outcome === 'late' ? 'late' : 'duplicate', header.agentId);
      } catch (error) {
        reject(error instanceof DomainError && error.code === 'FORBIDDEN' ? 'not-selected' : 'invalid-secagg', header.agentId);
      }
    }
  };

  const send = async (requests: ServerMessage[]): Promise<Set<string>> => {
    await Promise.all(
      requests.map((request) =>
        messaging.publish(inbox.inbox(request.to), Buffer.from(JSON.stringify(request)), {
          key: request.to,
          properties: { type: 'secagg', jobId: input.jobId },
        }),
      ),
    );
    return new Set(requests.map((request) => request.to));
  };

  try {
    await listen(new Set(input.participants), input.deadlineAt);
    const stageEnd = () => Date.now() + input.secure.stageTimeoutMs;
    await listen(await send(server.closeAdvertiseKeys()), stageEnd());
    await listen(await send(server.closeShareKeys()), stageEnd());
    await listen(await send(server.closeMaskedInput()), stageEnd());
    const result = server.finish();
    const meanDelta = Float32Array.from(result.sum, (value) => value / result.totalWeight);
    return { held, survivors: result.survivors, meanDelta, totalWeight: result.totalWeight, lateByRound };
  } catch (error) {
    if (error instanceof DomainError) {
      return { held, survivors: [], totalWeight: 0, failure: error.message, lateByRound };
    }
    throw error;
  }
}
