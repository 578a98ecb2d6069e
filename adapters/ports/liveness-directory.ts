// The liveness directory port: where agent sessions are enrolled for liveness
// tracking (the per-swarm liveness monitor workflow).

export interface LivenessDirectory {
  watch(swarmId: string, agentId: string): Promise<void>;
  unwatch(swarmId: string, agentId: string): Promise<void>;
}
