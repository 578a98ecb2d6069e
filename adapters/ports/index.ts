// Ports: every interface the activities and the API talk to, one file per port.
// Each folder under adapters/ implements one of them; only the composition roots
// (workers/, api/server.ts) pick an implementation from config.
export * from './messaging';
export * from './vectors';
export * from './cluster';
export * from './blobs';
export * from './agent-directory';
export * from './model-evaluator';
export * from './liveness-directory';
export * from './behavior-registry';
export * from './agent-keys';
export * from './electorate';
export * from './stream-jobs';
export * from './analytics-runtime';
export * from './lp-solver';
export * from './task-agents';
export * from './task-outcomes';
export * from './pool-store';
export * from './agent-messaging-access';
export * from './task-directory';
export * from './reputation';
export * from './task-submitter';
export * from './contribution-ledger';
export * from './analytics-windows';
