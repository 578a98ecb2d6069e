// The topics the analytics read and write. heartbeats, tasks (the manager's task-dispatched
// events) and task-results (the agents' signed outcomes) are the swarm's topics of core/topics.ts;
// rounds (the tuning activities' round-closed and update-rejected events), roster (the manager's
// agent-registered notes) and analytics (the windows, schema qp-analytics/1) too (README
// "Analytics", api/asyncapi.yaml).
import { swarmTopics } from '../topics';
import type { AnalyticsSource } from './events';

export interface AnalyticsTopics {
  heartbeats: string;
  tasks: string;
  taskResults: string;
  rounds: string;
  roster: string;
  analytics: string;
}

export function analyticsTopics(swarmId: string): AnalyticsTopics {
  const t = swarmTopics(swarmId);
  return { heartbeats: t.heartbeats, tasks: t.tasks, taskResults: t.taskResults, rounds: t.rounds, roster: t.roster, analytics: t.analytics };
}

/** The topic an analytics source reads; ballots are read from one topic per decision (swarmTopics().decision). */
export function sourceTopic(swarmId: string, source: Exclude<AnalyticsSource, 'ballots'>): string {
  const t = analyticsTopics(swarmId);
  if (source === 'control') return swarmTopics(swarmId).control;
  return source === 'task-results' ? t.taskResults : t[source];
}
