// Topic names of a swarm. Adapters map these logical names to broker topics
// (Pulsar: persistent://<tenant>/<swarmId>/<name>).

export interface SwarmTopics {
  control: string;
  broadcast: string;
  heartbeats: string;
  behaviors: string;
  tasks: string;
  /** Round and update-rejection events of the swarm's tuning jobs (read by the analytics). */
  rounds: string;
  /** Windowed signals the analytics (Flink or embedded) write: schema qp-analytics/1. */
  analytics: string;
  /** Agents' signed outcomes of delegated tasks. */
  taskResults: string;
  inbox(agentId: string): string;
  updates(jobId: string): string;
  /** Signed ballots of one collaborative decision. */
  decision(decisionId: string): string;
}

export function swarmTopics(swarmId: string): SwarmTopics {
  const base = `swarm/${swarmId}`;
  return {
    control: `${base}/control`,
    broadcast: `${base}/broadcast`,
    heartbeats: `${base}/heartbeats`,
    behaviors: `${base}/behaviors`,
    tasks: `${base}/tasks`,
    rounds: `${base}/rounds`,
    analytics: `${base}/analytics`,
    taskResults: `${base}/task-results`,
    inbox: (agentId) => `${base}/inbox-${agentId}`,
    updates: (jobId) => `${base}/updates-${jobId}`,
    decision: (decisionId) => `${base}/decision-${decisionId}`,
  };
}

/** Swarm for an agent that did not name one: one swarm per region. */
export function assignSwarm(region: string | undefined): string {
  return region ? `swarm-${region}` : 'default';
}
