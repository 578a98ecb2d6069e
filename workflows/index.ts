// The workflow bundle's entry point: every workflow the worker runs.
export { registerAgent } from './registration';
export { livenessMonitor } from './liveness';
export { federatedTuning } from './tuning';
export { behaviorSweep, scheduledBehaviorSweeps } from './behaviorSweep';
export { collaborativeDecision } from './decision';
export { taskDelegation, taskRebalance, taskResultsCollector } from './tasks';
export { agentPool, autoscalePool } from './autoscaling';
export { asyncTuning } from './asyncTuning';
export { reputationLedger } from './reputation-ledger';
export { swarmGovernance } from './swarm-governance';
