// The liveness observation: consume a swarm's heartbeats for one window and
// report which watched agents flipped between ACTIVE and LOST.
import { Context } from '@temporalio/activity';
import type { HeartbeatMessage } from '../core/agents';
import { verifyCredential } from '../core/credentials';
import { HeartbeatLedger, livenessTransitions, type LivenessTransition } from '../core/liveness';
import { swarmTopics } from '../core/topics';
import type { AgentDirectoryChanges, MessagingPort } from '../adapters/ports';
import type { WorkerMetrics } from './metrics';

export interface LivenessDeps {
  messaging: MessagingPort;
  ledger: HeartbeatLedger;
  /** Heartbeats count only with a valid credential of the agent they speak for. */
  credentialSecret: string;
  /** Told when agents flip between ACTIVE and LOST. */
  directory?: AgentDirectoryChanges;
  metrics?: WorkerMetrics;
}

export const LIVENESS_SUBSCRIPTION = 'qp-manager-liveness';

export function createLivenessActivities(deps: LivenessDeps) {
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
      try {
        const until = Date.now() + input.windowMs;
        for (let left = input.windowMs; left > 0; left = until - Date.now()) {
          const message = await consumer.receive(Math.min(left, 1000));
          context.heartbeat({ consumed });
          if (context.cancellationSignal.aborted) break;
          if (!message) continue;
          try {
            const heartbeat = JSON.parse(Buffer.from(message.payload).toString('utf8')) as HeartbeatMessage;
            const claims = verifyCredential(
              deps.credentialSecret,
              message.properties.credential ?? '',
              Math.floor(Date.now() / 1000),
            );
            if (claims.sub === heartbeat.agentId && claims.swarm === input.swarmId) {
              deps.ledger.record(input.swarmId, heartbeat.agentId, message.publishTime);
              consumed++;
            } else {
              deps.metrics?.malformedHeartbeats.inc();
            }
          } catch {
            deps.metrics?.malformedHeartbeats.inc();
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
