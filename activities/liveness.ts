// The liveness observation: consume a swarm's heartbeats for one window and
// report which watched agents flipped between ACTIVE and LOST.
import { Context } from '@temporalio/activity';
import type { HeartbeatMessage } from '../core/agents';
import { HeartbeatLedger, livenessTransitions, type LivenessTransition } from '../core/liveness';
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
      const heartbeatRefusal = async (message: ReceivedMessage): Promise<string | undefined> => {
        const sender = await proofs.sender(input.swarmId, topic, message, { once: true });
        if (!sender.ok) return sender.reason;
        try {
          const heartbeat = JSON.parse(Buffer.from(message.payload).toString('utf8')) as HeartbeatMessage;
          return heartbeat.agentId === sender.agentId ? undefined : 'sender-mismatch';
        } catch {
          return 'malformed';
        }
      };
      proofs.prune();
      try {
        const until = Date.now() + input.windowMs;
        for (let left = input.windowMs; left > 0; left = until - Date.now()) {
          const message = await consumer.receive(Math.min(left, 1000));
          context.heartbeat({ consumed });
          if (context.cancellationSignal.aborted) break;
          if (!message) continue;
          const refusal = await heartbeatRefusal(message);
          if (refusal) {
            deps.metrics?.malformedHeartbeats.inc({ reason: refusal });
            if (!reported.has(refusal)) {
              reported.add(refusal);
              context.log.warn('heartbeat refused', { swarmId: input.swarmId, reason: refusal, agentId: message.properties.agentId });
            }
          } else {
            deps.ledger.record(input.swarmId, message.properties.agentId, message.publishTime);
            consumed++;
          }
          await consumer.ack(message);
        }
      } finally {
        await consumer.close();
      }
      deps.metrics?.heartbeatsConsumed.inc(consumed);
      const transitions = livenessTransitions(
        input.agentIds,
        new Set(input.lostAgentIds),
        deps.ledger.swarm(input.swarmId),
        Date.now(),
        input.graceMs,
      );
      for (const t of transitions) deps.metrics?.livenessTransitions.inc({ to: t.status });
      if (transitions.length > 0) deps.directory?.agentChanged(input.swarmId);
      return transitions;
    },
  };
}

export type LivenessActivities = ReturnType<typeof createLivenessActivities>;
