// Shared shapes of an agent as the workflows, the API and the SDK see it.

export const AGENT_STATUSES = ['PENDING', 'ACTIVE', 'LOST', 'FAILED', 'DEREGISTERED'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** Ids that are safe in topic names, workflow ids and visibility queries. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface EnergyProfile {
  source: 'grid' | 'solar' | 'wind' | 'battery' | 'mixed' | 'other';
  /** Energy the agent may spend, in watt-hours. */
  budgetWh?: number;
  /** Carbon intensity of its supply, in grams of CO2 per kilowatt-hour. */
  carbonGPerKWh?: number;
  /** Power drawn idle and busy, watts (task allocation). */
  idleWatts?: number;
  busyWatts?: number;
  /** Work units per second relative to a reference agent (task allocation). */
  speed?: number;
  /** Carbon-intensity forecast: from atMs (ms since the epoch) on, gCO2/kWh. */
  forecast?: { atMs: number; gPerKWh: number }[];
}

export interface AgentResources {
  /** Cores. */
  cpu: number;
  memoryMb: number;
  gpu?: number;
  energy?: EnergyProfile;
}

export interface AgentProfile {
  agentId: string;
  swarmId: string;
  capabilities: string[];
  resources: AgentResources;
  region?: string;
  /** Ed25519 public key, SPKI PEM. */
  publicKey: string;
}

export interface AgentRecord extends AgentProfile {
  status: AgentStatus;
  /** ISO-8601 instants. */
  registeredAt: string;
  statusChangedAt: string;
  credentialExpiresAt?: string;
  failureReason?: string;
  /** How many credentials the session has issued; the newest carries this number. */
  credentialGeneration: number;
  /** The last revocation: credentials of generation `through` and older stopped working at `at`. */
  credentialRevocation?: { through: number; reason: string; at: string };
}

/** The first message the manager puts in a new agent's inbox. */
export interface ChallengeMessage {
  type: 'challenge';
  agentId: string;
  /** Base64 of 32 random bytes. */
  challenge: string;
  issuedAt: string;
}

/** Bytes the agent signs: binds the nonce to the agent's id. */
export function challengeSigningInput(agentId: string, challenge: string): string {
  return `qp-manager/challenge/v1\n${agentId}\n${challenge}`;
}

export interface HeartbeatMessage {
  agentId: string;
  /** Milliseconds since the epoch, agent clock. */
  sentAt: number;
  /** Fraction of capacity in use, 0..1. */
  load?: number;
  /** The agent pool (Deployment) the agent runs in; with `load`, it feeds that pool's load-based autoscaling. */
  pool?: string;
  /** Energy left in watt-hours. */
  energyRemainingWh?: number;
  /** Energy drawn since the agent's previous heartbeat, watt-hours (read by the analytics). */
  energyUsedWh?: number;
  /** Carbon intensity of the agent's grid, grams CO2e per kWh (read by the analytics). */
  carbonIntensityGPerKWh?: number;
}

/** What an agent reports in a heartbeat besides who and when. */
export type HeartbeatStatus = Omit<HeartbeatMessage, 'agentId' | 'sentAt'>;
