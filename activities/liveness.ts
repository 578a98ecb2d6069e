// The liveness observation: consume a swarm's heartbeats for one window and
// report which watched agents flipped between ACTIVE and LOST.
import { Context } from '@temporalio/activity';
import type { HeartbeatMessage } from '../core/agents';
import { HeartbeatLedger, livenessTransitions, type LivenessTransition } from '../core/liveness';
import { POOL_NAME_PATTERN } from '../core/pools';
import { swarmTopics } from '../core/topics';
import type { AgentDirectoryChanges, AgentKeyDirectory, MessagingPort, ReceivedMessage } from '../adapters/ports';
import { MessageProofs } from './message-proofs';
import type { WorkerMetrics } from './metrics';

export interface LivenessDeps {
  messaging: MessagingPort;
  ledger: HeartbeatLedger;
  /** Heartbeats count only with a valid proof by the agent they speak for (or the manager's relay proof). */
  agentKeys: AgentKeyDirectory;
  credentialSecret: string;
  /** Told when agents flip between ACTIVE and LOST. */
  directory?: AgentDirectoryChanges;
  metrics?: WorkerMetrics;
}

/** A heartbeat's pool and load count only when both are well formed (a signed message is not a validated one). */
function isPoolLoad(pool: unknown, load: unknown): pool is string {
  return typeof pool === 'string' && POOL_NAME_PATTERN.test(pool) && typeof load === 'number' && load >= 0 && load <= 1;
}

export const LIVENESS_SUBSCRIPTION = 'qp-manager-liveness';

export function createLivenessActivities(deps: LivenessDeps) {
  // One per worker process: the replay guard spans observation windows.
  const proofs = new MessageProofs(deps.agentKeys, deps.credentialSecret);
  return {
    async observeHeartbeats(input: {
      swarmId: string;
      agentIds: string[];
      lostAgentIds: string[];
      graceMs: number;
      windowMs: number;
    }): Promise<LivenessTransition[]> {
      const context = Context.current();
      deps.ledger.seed(input.swarmId, input.agentIds, Date.now());
      const consumer = await deps.messaging.subscribe(swarmTopics(input.swarmId).heartbeats, LIVENESS_SUBSCRIPTION, {
        type: 'exclusive',
        initialPosition: 'earliest',
      });
      let consumed = 0;
      const topic = swarmTopics(input.swarmId).heartbeats;
      /** Causes already logged in this window: each is logged once, all are counted. */
      const reported = new Set<string>();
      const verified = async (message: ReceivedMessage): Promise<{ heartbeat: HeartbeatMessage } | { refusal: string }> => {
        const sender = await proofs.sender(input.swarmId, topic, message, { once: true });
        if (!sender.ok) return { refusal: sender.reason };
        try {
          const heartbeat = JSON.parse(Buffer.from(message.payload).toString('utf8')) as HeartbeatMessage;
          return heartbeat.agentId === sender.agentId ? { heartbeat } : { refusal: 'sender-mismatch' };
        } catch {
          return { refusal: 'malformed' };
        }
      };
      proofs.prune();
      // Whether the window read the topic to its end at least once: until it has, an agent's
      // newest heartbeat may still be queued behind older ones (a worker that fell behind).
      let caughtUp = false;
      try {
        const until = Date.now() + input.windowMs;
        for (let left = input.windowMs; left > 0; left = until - Date.now()) {
          const message = await consumer.receive(Math.min(left, 1000));
          context.heartbeat({ consumed });
          if (context.cancellationSignal.aborted) break;
          if (!message) {
            caughtUp = true;
            continue;
          }
          const result = await verified(message);
          if ('refusal' in result) {
            const { refusal } = result;
            deps.metrics?.malformedHeartbeats.inc({ reason: refusal });
            if (!reported.has(refusal)) {
              reported.add(refusal);
              context.log.warn('heartbeat refused', { swarmId: input.swarmId, reason: refusal, agentId: message.properties.agentId });
            }
          } else {
            deps.ledger.record(input.swarmId, message.properties.agentId, message.publishTime);
            const { pool, load } = result.heartbeat;
            if (isPoolLoad(pool, load)) {
              deps.ledger.recordPoolLoad(input.swarmId, message.properties.agentId, { pool, load: load as number, at: message.publishTime });
            }
            consumed++;
          }
          await consumer.ack(message);
        }
      } finally {
        await consumer.close();
      }
      deps.metrics?.heartbeatsConsumed.inc(consumed);
      const flips = livenessTransitions(input.agentIds, new Set(input.lostAgentIds), deps.ledger.swarm(input.swarmId), Date.now(), input.graceMs);
      // Behind on the topic, no agent is declared LOST: its heartbeats may be in the backlog.
      const transitions = caughtUp ? flips : flips.filter((t) => t.status === 'ACTIVE');
      if (!caughtUp && transitions.length < flips.length) {
        context.log.warn('heartbeats backlog not read to its end in this window: LOST decisions wait for the next one', {
          swarmId: input.swarmId,
          deferred: flips.length - transitions.length,
        });
      }
      for (const t of transitions) deps.metrics?.livenessTransitions.inc({ to: t.status });
      if (transitions.length > 0) deps.directory?.agentChanged(input.swarmId);
      return transitions;
    },
  };
}

export type LivenessActivities = ReturnType<typeof createLivenessActivities>;
