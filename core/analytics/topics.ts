// The topics the analytics read and write. heartbeats and tasks are the swarm's topics of
// core/topics.ts; rounds (round and update-rejection events) and analytics (the windows, schema
// qp-analytics/1) are read and written by the analytics only, so they live here until something
// else publishes on rounds (README "Analytics").
import { swarmTopics } from '../topics';

export interface AnalyticsTopics {
  heartbeats: string;
  tasks: string;
  rounds: string;
  analytics: string;
}

export function analyticsTopics(swarmId: string): AnalyticsTopics {
  const t = swarmTopics(swarmId);
  return { heartbeats: t.heartbeats, tasks: t.tasks, rounds: `swarm/${swarmId}/rounds`, analytics: `swarm/${swarmId}/analytics` };
}
