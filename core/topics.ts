// Topic names of a swarm. Adapters map these logical names to broker topics
// (Pulsar: persistent://<tenant>/<swarmId>/<name>).

export interface SwarmTopics {
  control: string;
  broadcast: string;
  heartbeats: string;
  behaviors: string;
  tasks: string;
  inbox(agentId: string): string;
  updates(jobId: string): string;
}

export function swarmTopics(swarmId: string): SwarmTopics {
  const base = `swarm/${swarmId}`;
  return {
    control: `${base}/control`,
    broadcast: `${base}/broadcast`,
    heartbeats: `${base}/heartbeats`,
    behaviors: `${base}/behaviors`,
    tasks: `${base}/tasks`,
    inbox: (agentId) => `${base}/inbox-${agentId}`,
    updates: (jobId) => `${base}/updates-${jobId}`,
  };
}

/** Swarm for an agent that did not name one: one swarm per region. */
export function assignSwarm(region: string | undefined): string {
  return region ? `swarm-${region}` : 'default';
}
