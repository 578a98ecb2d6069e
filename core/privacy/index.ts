// Differential privacy: central (server) and local (agent) Gaussian mechanisms and the RDP accountant.
export * from './accountant';
export * from './gaussian';
export * from './local';
