// Signals, queries and updates of the workflows; the API imports these too.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AgentProfile, AgentRecord } from '../core/agents';
import type { LivenessTransition } from '../core/liveness';
import type { TuningProgress } from '../core/tuning';
import type { DecisionStatus } from '../core/decisions/status';
import type { AutoscalingPolicy, CarbonInput, EnergyAccount, PoolRecord, ScalingDecision, ScalingState } from '../core/autoscaling';

export const REGISTRATION_WORKFLOW = 'registerAgent';
export const LIVENESS_WORKFLOW = 'livenessMonitor';

export const registrationWorkflowId = (agentId: string): string => `register-${agentId}`;
export const livenessWorkflowId = (swarmId: string): string => `liveness-${swarmId}`;

export interface ChallengeResponse {
  /** The challenge being answered (base64), as received in the inbox. */
  challenge: string;
  /** Base64 Ed25519 signature of challengeSigningInput(agentId, challenge). */
  signature: string;
}

export interface IssuedCredential {
  credential: string;
  agent: AgentRecord;
  /** The session's own broker identity, where the broker authorises each agent (its token is made by the API, never recorded). */
  brokerIdentity?: string;
}

export const getAgentQuery = defineQuery<AgentRecord>('getAgent');
/**
 * Waits until the session has sent its challenge and returns it (undefined once the registration
 * ended): handed over HTTP where the inbox opens only with a broker token the handshake returns.
 */
export const awaitChallengeUpdate = defineUpdate<{ challenge?: string }, []>('awaitChallenge');
export const respondToChallengeUpdate = defineUpdate<IssuedCredential, [ChallengeResponse]>('respondToChallenge');
/** Re-registration of a running session: same key required; a fresh challenge is sent. */
export const reRegisterUpdate = defineUpdate<AgentRecord, [AgentProfile]>('reRegister');
export const deregisterUpdate = defineUpdate<AgentRecord, [{ reason: string }]>('deregister');
/** Every credential issued so far stops working; the agent answers a fresh challenge (re-registers) for a new one. */
export const revokeCredentialsUpdate = defineUpdate<CredentialsRevoked, [{ reason: string }]>('revokeCredentials');

export interface CredentialsRevoked {
  agentId: string;
  /** Credentials of this generation and older no longer work. */
  revokedThrough: number;
}

/**
 * Memo key of a session: the digest (credentialDigest) of the one credential the
 * API accepts, the newest this run issued, or REVOKED_CREDENTIAL. Bound to the
 * run, so a credential of an earlier registration of the same agent id never
 * matches. A running session without it predates the check; its credentials are
 * judged by their MAC and expiry alone.
 */
export const ACCEPTED_CREDENTIAL_MEMO = 'acceptedCredential';
export const REVOKED_CREDENTIAL = 'revoked';
/** Deregistration without waiting for the answer: what ending a whole swarm sends to each session. */
export const deregisterRequestedSignal = defineSignal<[{ reason: string }]>('deregisterRequested');
export const livenessChangedSignal = defineSignal<[LivenessTransition]>('livenessChanged');

export interface LivenessMonitorInput {
  swarmId: string;
  /** An agent with no heartbeat for this long is LOST. */
  graceMs: number;
  /** How long one observation activity listens before reporting. */
  windowMs: number;
  watched?: string[];
  lost?: string[];
}

export const watchAgentSignal = defineSignal<[{ agentId: string }]>('watchAgent');
export const unwatchAgentSignal = defineSignal<[{ agentId: string }]>('unwatchAgent');
export const watchedAgentsQuery = defineQuery<{ watched: string[]; lost: string[] }>('watchedAgents');

export const TUNING_WORKFLOW = 'federatedTuning';
export const tuningWorkflowId = (jobId: string): string => `tuning-${jobId}`;
export const tuningProgressQuery = defineQuery<TuningProgress>('tuningProgress');
export const pauseTuningUpdate = defineUpdate<TuningProgress, []>('pauseTuning');
export const resumeTuningUpdate = defineUpdate<TuningProgress, []>('resumeTuning');

export const BEHAVIOR_SWEEP_WORKFLOW = 'behaviorSweep';
export const SCHEDULED_BEHAVIOR_SWEEPS_WORKFLOW = 'scheduledBehaviorSweeps';
/** One sweep of a swarm at a time: a second start while one runs is refused. */
export const behaviorSweepWorkflowId = (swarmId: string): string => `behavior-sweep-${swarmId}`;
/** The Schedule that sweeps every swarm a worker serves; one per task queue. */
export const behaviorSweepScheduleId = (taskQueue: string): string => `behavior-sweeps-${taskQueue}`;

// Collaborative decisions (workflows/decision.ts).
export const DECISION_WORKFLOW = 'collaborativeDecision';
export const decisionWorkflowId = (decisionId: string): string => `decision-${decisionId}`;
export const decisionStatusQuery = defineQuery<DecisionStatus>('decisionStatus');
/** Cancels a decision that has not closed or whose action has not run; refused once it has. */
export const cancelDecisionUpdate = defineUpdate<DecisionStatus, [{ reason?: string }]>('cancelDecision');
// ---------------------------------------------------------------- agent pools and autoscaling
export const AGENT_POOL_WORKFLOW = 'agentPool';
export const AUTOSCALE_POOL_WORKFLOW = 'autoscalePool';
/** The pool's durable record (policy, carbon input, history, decisions). */
export const agentPoolWorkflowId = (pool: string): string => `pool-${pool}`;
/** The Schedule that runs autoscalePool for one pool (overlap Skip). */
export const autoscaleScheduleId = (pool: string): string => `autoscale-${pool}`;
export const poolRecordQuery = defineQuery<PoolRecord>('poolRecord');
export const setPoolPolicyUpdate = defineUpdate<PoolRecord, [{ policy: AutoscalingPolicy; backlogTopic?: string }]>('setPoolPolicy');
export const setPoolCarbonUpdate = defineUpdate<PoolRecord, [CarbonInput]>('setPoolCarbon');
export const recordScalingUpdate = defineUpdate<PoolRecord, [{ decision: ScalingDecision; scaling: ScalingState; energy: EnergyAccount }]>(
  'recordScaling',
);
/** Memo field of an agentPool workflow: its record's PoolSummary, kept current, so listing pools reads visibility only. */
export const POOL_SUMMARY_MEMO = 'poolSummary';

// Asynchronous (FedBuff-style) tuning (workflows/asyncTuning.ts): same workflow id, query and updates as federatedTuning.
export const ASYNC_TUNING_WORKFLOW = 'asyncTuning';
