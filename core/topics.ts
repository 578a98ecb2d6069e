// Topic names of a swarm. Adapters map these logical names to broker topics
// (Pulsar: persistent://<tenant>/<swarmId>/<name>).

export interface SwarmTopics {
  control: string;
  broadcast: string;
  heartbeats: string;
  behaviors: string;
  tasks: string;
  /** Agents' signed outcomes of delegated tasks. */
  taskResults: string;
  inbox(agentId: string): string;
  updates(jobId: string): string;
  /** Signed ballots of one collaborative decision. */
  decision(decisionId: string): string;
  /** The tuning activities' round-closed and update-rejected events (read by the analytics). */
  rounds: string;
  /** The analytics' windows (core/analytics/signals.ts, schema qp-analytics/1). */
  analytics: string;
  /** The manager's agent-registered notes: which agent ids are the swarm's (read by the analytics). */
  roster: string;
}

export function swarmTopics(swarmId: string): SwarmTopics {
  const base = `swarm/${swarmId}`;
  return {
    control: `${base}/control`,
    broadcast: `${base}/broadcast`,
    heartbeats: `${base}/heartbeats`,
    behaviors: `${base}/behaviors`,
    tasks: `${base}/tasks`,
    taskResults: `${base}/task-results`,
    inbox: (agentId) => `${base}/inbox-${agentId}`,
    updates: (jobId) => `${base}/updates-${jobId}`,
    decision: (decisionId) => `${base}/decision-${decisionId}`,
    rounds: `${base}/rounds`,
    analytics: `${base}/analytics`,
    roster: `${base}/roster`,
  };
}

/** Swarm for an agent that did not name one: one swarm per region. */
export function assignSwarm(region: string | undefined): string {
  return region ? `swarm-${region}` : 'default';
}
