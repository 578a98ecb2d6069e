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
export * from './pool-store';
