// Publishes a round's events for the analytics on the swarm's rounds topic (api/asyncapi.yaml).
// Best effort: the round's result does not depend on them, so a broker that refuses them costs
// the analytics a round, not the job; the messaging adapter bounds each publish with its timeout.
import { Context } from '@temporalio/activity';
import type { RoundClosedMessage, UpdateRejectedMessage } from '../core/analytics/round-events';
import { analyticsTopics } from '../core/analytics/topics';
import type { MessagingPort } from '../adapters/ports';

const PUBLISHES_IN_FLIGHT = 32;

export async function publishRoundEvents(messaging: MessagingPort, swarmId: string, events: (RoundClosedMessage | UpdateRejectedMessage)[]): Promise<void> {
  const topic = analyticsTopics(swarmId).rounds;
  try {
    for (let i = 0; i < events.length; i += PUBLISHES_IN_FLIGHT) {
      await Promise.all(
        events
          .slice(i, i + PUBLISHES_IN_FLIGHT)
          .map((event) => messaging.publish(topic, Buffer.from(JSON.stringify(event)), { key: event.jobId, properties: { type: event.type, jobId: event.jobId } })),
      );
    }
  } catch (error) {
    Context.current().log.warn('round events not published', { swarmId, error: error instanceof Error ? error.message : String(error) });
  }
}
