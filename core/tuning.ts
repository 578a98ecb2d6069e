// Federated tuning: the job spec, the messages of a round, and progress.
import type { StrategyName, StrategyOptions } from './aggregation/types';
import type { SecAggConfig } from './secagg/config';
import type { LocalTraining } from './models/softmax';
import type { AsyncVersionMetrics } from './async-tuning';
import type { SelectionOptions, SelectionStrategy } from './selection/types';

export type ModelKind = 'softmax-digits' | 'vector';

export interface TuningJobSpec {
  jobId: string;
  swarmId: string;
  model: { kind: ModelKind; dimension: number; initialDigest?: string };
  rounds: number;
  /** Agents asked per round; or a fraction of the eligible ones. */
  participantsPerRound?: number;
  fraction?: number;
  minParticipants: number;
  /** Updates arriving later than this after the round starts are dropped. */
  roundTimeoutMs: number;
  /** Attempts of a round whose quorum was not met, with fresh participants. */
  maxRoundAttempts: number;
  strategy: StrategyName;
  strategyOptions: StrategyOptions;
  training: LocalTraining;
  /** Agents must offer at least these resources. */
  requirements?: { cpu?: number; memoryMb?: number; gpu?: number };
  /** Updates whose L2 distance from the global model exceeds this are rejected. */
  maxUpdateNorm?: number;
  privacy?: { clipNorm: number; noiseMultiplier: number; delta: number };
  /** Local DP: every agent clips its change and adds noise before anything leaves it. */
  localPrivacy?: { clipNorm: number; noiseMultiplier: number; delta: number };
  /** SecAgg+: the manager learns only the sum of the participants' updates. */
  secureAggregation?: SecureAggregationSpec;
  evaluateEvery: number;
  /** Seeds selection tie-breaks and noise, so a job repeats bit for bit. */
  seed: number;
  /** 'async': buffered asynchronous aggregation (core/async-tuning.ts); rounds then count model versions. */
  mode?: 'sync' | 'async';
  /** Async mode: accepted updates per model version. */
  bufferSize?: number;
  /** Async mode: updates based on a version more than this many versions old are refused. */
  maxStaleness?: number;
  /** Async mode: an update of staleness t weighs (1 + t)^-stalenessExponent (default 0.5). */
  stalenessExponent?: number;
  /** What counts of an agent that did only part of its work, and when a round closes before its deadline. */
  stragglers?: StragglerPolicy;
  /** How each round's participants are chosen; uniform when absent. */
  selection?: SelectionStrategy;
  selectionOptions?: SelectionOptions;
  /** Server-side evaluation (on by default, every evaluateEvery rounds) and federated evaluation by the agents. */
  evaluation?: EvaluationSpec;
}

export interface EvaluationSpec {
  /** Score the global model on the worker's held-out data for the model's kind, when one is registered. Default true. */
  server?: boolean;
  /** Agents score the round's incoming global model on their own held-out data every everyRounds rounds (default: every round). */
  federated?: { everyRounds: number };
}

/**
 * 'drop': an update with fewer steps completed than planned is refused (counted `partial`
 * under rejected, and as dropped); 'accept-partial': it counts, weighted as the strategy says.
 * closeWhen: the round closes as soon as `fraction` of its participants have an update that
 * counts, or at `afterMs` after its start once minParticipants have one; the deadline otherwise.
 */
export interface StragglerPolicy {
  policy: 'drop' | 'accept-partial';
  closeWhen?: { fraction?: number; afterMs?: number };
}

/** Why a round's collection ended. */
export type RoundClose = 'all-reported' | 'fraction' | 'cutoff' | 'deadline';

/** The work one agent is asked for in a round (its share when budgets scale by capacity). */
export interface RoundBudget {
  localSteps?: number;
  epochs?: number;
  /** Wall-clock milliseconds of training, after which the SDK stops the trainer and sends what it has. */
  timeBudgetMs?: number;
}

/** The agent's budget from the job's training settings and its capacity share (0, 1] (cpu over the round's largest). */
export function agentBudget(training: LocalTraining, capacityShare = 1): RoundBudget {
  const localSteps =
    training.localSteps !== undefined ? Math.max(1, Math.round(training.localSteps * Math.min(1, capacityShare))) : undefined;
  return {
    ...(localSteps !== undefined ? { localSteps } : { epochs: training.epochs ?? 1 }),
    ...(training.timeBudgetMs !== undefined ? { timeBudgetMs: training.timeBudgetMs } : {}),
  };
}

/** True when an update did less work than it was asked for. */
export function isPartial(header: Pick<UpdateHeader, 'stepsCompleted' | 'stepsPlanned'>): boolean {
  return header.stepsCompleted !== undefined && header.stepsPlanned !== undefined && header.stepsCompleted < header.stepsPlanned;
}

export interface SecureAggregationSpec {
  /** How long each protocol stage after the first waits for answers. */
  stageTimeoutMs: number;
  degree?: number;
  threshold?: number;
  expectedDropout?: number;
  /** Each coordinate of an update's change is clipped to [-clipRange, clipRange] before masking. */
  clipRange?: number;
  quantizationLevels?: number;
  /** Largest example count an agent may weigh its update with. */
  maxWeight?: number;
}

/** Strategies that need only the weighted mean, which is all secure aggregation reveals. */
export const SECURE_AGGREGATION_STRATEGIES: readonly StrategyName[] = [
  'fedavg',
  'fedprox',
  'fedavgm',
  'fedadam',
  'fedyogi',
  'fedadagrad',
];

/** One attempt of one round: who takes part, and until when updates count. */
export interface RoundInput {
  jobId: string;
  swarmId: string;
  round: number;
  attempt: number;
  participants: string[];
  /** Milliseconds since the epoch; an update counts when the broker accepted it by then. */
  deadlineAt: number;
}

/**
 * The round start, one per participant, in that participant's inbox
 * (swarmTopics(swarmId).inbox(agentId)), with properties { type: 'round-start',
 * jobId }. Agents that were not selected get nothing, and no agent is told who
 * else takes part: a round costs O(participants × this message), where one
 * broadcast of the participant list cost O(participants²). Secure aggregation
 * needs no list either: each agent learns its neighbours (and only those) from
 * the manager's share-keys request. The model travels inline up to 256 KiB,
 * otherwise by digest. A retried start may deliver the same (jobId, round,
 * attempt) twice; agents act on it once. The swarm's control topic carries
 * only job-finished.
 */
export interface RoundStartMessage {
  type: 'round-start';
  /** The addressee: the agent whose inbox this is. */
  agentId: string;
  jobId: string;
  round: number;
  attempt: number;
  globalDigest: string;
  /** Base64 float32 parameters when small enough to travel inline. */
  globalParams?: string;
  training: LocalTraining;
  /** Milliseconds since the epoch after which updates are dropped. */
  deadlineAt: number;
  updatesTopic: string;
  /** Present when the round uses secure aggregation: agents mask (params - global). */
  secureAggregation?: { config: SecAggConfig; stageTimeoutMs: number };
  /** With secure aggregation and DP, agents clip their change to this L2 norm themselves. */
  clipNorm?: number;
  /** Local DP the agents apply to their change before sending it (the job's settings as sent, delta included). */
  localPrivacy?: { clipNorm: number; noiseMultiplier: number; delta?: number };
  /**
   * Present in an asynchronous job: `round` is then the model version, `attempt` 0,
   * and an update answers with round = the version it trained on (attempt 0).
   * Agents train on the newest version they hold; a newer one supersedes an older.
   */
  mode?: 'async';
  /** Async: updates based on a version more than this many versions behind the newest are refused. */
  maxStaleness?: number;
  /** This agent's work for the round: training says how, the budget how much. */
  budget?: RoundBudget;
  /** False in rounds without federated evaluation: the agent need not score the global model on its data. */
  evaluate?: boolean;
  /**
   * True in the evaluation-only round after a job's last round: the agent trains nothing, scores the
   * global model on its own data and answers with an update message marked evalOnly (examples 0,
   * evalLoss, evalAccuracy, evalExamples) and an empty payload.
   */
  evaluateOnly?: boolean;
}

/** Properties of a secure-aggregation protocol message an agent publishes; the payload is its JSON. */
export interface SecAggHeader {
  jobId: string;
  round: number;
  attempt: number;
  agentId: string;
}

export function encodeSecAggHeader(header: SecAggHeader): Record<string, string> {
  return {
    type: 'secagg',
    jobId: header.jobId,
    round: String(header.round),
    attempt: String(header.attempt),
    agentId: header.agentId,
  };
}

export function decodeSecAggHeader(properties: Record<string, string>): SecAggHeader | undefined {
  if (properties.type !== 'secagg') return undefined;
  const round = Number(properties.round);
  const attempt = Number(properties.attempt);
  if (!Number.isInteger(round) || !Number.isInteger(attempt)) return undefined;
  if (!properties.agentId || !properties.jobId) return undefined;
  return { jobId: properties.jobId, round, attempt, agentId: properties.agentId };
}

/** Binds a secure-aggregation round to its job, round and attempt. */
export function secureRoundId(jobId: string, round: number, attempt: number): string {
  return `${jobId}/${round}/${attempt}`;
}

export interface JobFinishedMessage {
  type: 'job-finished';
  jobId: string;
  swarmId: string;
  status: TuningStatus;
  globalDigest: string;
}

/** What the swarm's control topic carries. */
export type ControlMessage = JobFinishedMessage;

/** Properties of an update message; the payload is the float32 parameters. */
export interface UpdateHeader {
  jobId: string;
  round: number;
  attempt: number;
  agentId: string;
  examples: number;
  trainLoss?: number;
  /** Mean of the squared per-example training losses (Oort's statistical utility is examples × its root). */
  trainLossSquared?: number;
  trainAccuracy?: number;
  /** The round's global model scored on the agent's own data, before training. */
  evalLoss?: number;
  evalAccuracy?: number;
  evalExamples?: number;
  /** Mini-batch steps the agent completed, and those its budget planned (fewer: partial work). */
  stepsCompleted?: number;
  stepsPlanned?: number;
  /** An evaluation-only round's answer: no parameters travel, only the evaluation. */
  evalOnly?: boolean;
}

export function encodeUpdateHeader(header: UpdateHeader): Record<string, string> {
  return {
    type: 'update',
    jobId: header.jobId,
    round: String(header.round),
    attempt: String(header.attempt),
    agentId: header.agentId,
    examples: String(header.examples),
    ...(header.trainLoss !== undefined ? { trainLoss: String(header.trainLoss) } : {}),
    ...(header.trainLossSquared !== undefined ? { trainLossSquared: String(header.trainLossSquared) } : {}),
    ...(header.trainAccuracy !== undefined ? { trainAccuracy: String(header.trainAccuracy) } : {}),
    ...(header.evalLoss !== undefined ? { evalLoss: String(header.evalLoss) } : {}),
    ...(header.evalAccuracy !== undefined ? { evalAccuracy: String(header.evalAccuracy) } : {}),
    ...(header.evalExamples !== undefined ? { evalExamples: String(header.evalExamples) } : {}),
    ...(header.stepsCompleted !== undefined ? { stepsCompleted: String(header.stepsCompleted) } : {}),
    ...(header.stepsPlanned !== undefined ? { stepsPlanned: String(header.stepsPlanned) } : {}),
    ...(header.evalOnly ? { evalOnly: 'true' } : {}),
  };
}

export function decodeUpdateHeader(properties: Record<string, string>): UpdateHeader | undefined {
  if (properties.type !== 'update') return undefined;
  const round = Number(properties.round);
  const attempt = Number(properties.attempt);
  const examples = Number(properties.examples);
  if (!Number.isInteger(round) || !Number.isInteger(attempt) || !Number.isFinite(examples)) return undefined;
  if (!properties.agentId || !properties.jobId) return undefined;
  const optional = (key: string) => (properties[key] !== undefined ? Number(properties[key]) : undefined);
  return {
    jobId: properties.jobId,
    round,
    attempt,
    agentId: properties.agentId,
    examples,
    trainLoss: optional('trainLoss'),
    trainLossSquared: optional('trainLossSquared'),
    trainAccuracy: optional('trainAccuracy'),
    evalLoss: optional('evalLoss'),
    evalAccuracy: optional('evalAccuracy'),
    evalExamples: optional('evalExamples'),
    stepsCompleted: optional('stepsCompleted'),
    stepsPlanned: optional('stepsPlanned'),
    ...(properties.evalOnly === 'true' ? { evalOnly: true } : {}),
  };
}

/** Float32 parameters as bytes (little-endian, as every platform Node runs on). */
export function paramsToBytes(params: Float32Array): Uint8Array {
  return new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
}

/** Bytes back to float32 parameters; copies when the bytes are not 4-byte aligned. */
export function bytesToParams(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`parameter bytes must be a multiple of 4, got ${bytes.byteLength}`);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.slice().buffer);
}

export type TuningStatus = 'RUNNING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export interface RoundMetrics {
  round: number;
  attempts: number;
  participants: number;
  accepted: number;
  rejected: Record<string, number>;
  examples: number;
  trainLoss?: number;
  trainAccuracy?: number;
  accuracy?: number;
  loss?: number;
  /** The global model as the agents scored it on their own data, weighted by their examples. */
  agentAccuracy?: number;
  agentLoss?: number;
  /** Cumulative privacy loss at delta, when DP is on. */
  epsilon?: number;
  /** Cumulative privacy loss of one agent's releases under local DP (if it took part every round). */
  localEpsilon?: number;
  globalDigest: string;
  durationMs: number;
  /** Accepted updates whose agent completed fewer steps than planned. */
  partial?: number;
  /** Participants whose work did not count: partial updates refused under 'drop', and those that never reported. */
  dropped?: number;
  /** Steps completed and planned, summed over the accepted updates that reported them. */
  stepsCompleted?: number;
  stepsPlanned?: number;
  /** Why collection ended (present when the job has a straggler policy). */
  closedBy?: RoundClose;
  /** How the round's participants were chosen. */
  selection?: SelectionStrategy;
  /** Oort: participants never tried before. */
  exploring?: number;
  /** Carbon-aware: whether the round preferred low-carbon agents (accuracy allowed it). */
  lowCarbon?: boolean;
  /** Examples the agents scored the global model on (federated evaluation). */
  agentEvalExamples?: number;
}

export interface TuningProgress {
  jobId: string;
  swarmId: string;
  status: TuningStatus;
  round: number;
  rounds: number;
  globalDigest: string;
  /** The most recent rounds (older ones are summarised away to keep history small). */
  recentRounds: RoundMetrics[];
  failureReason?: string;
  /** Async mode: `round` is the model version; these are the updates waiting in the buffer. */
  mode?: 'async';
  buffered?: number;
  /** Async mode: what each recent version took in (buffer, staleness, refusals). */
  recentVersions?: AsyncVersionMetrics[];
  /**
   * Async mode, once ended: per agent, updates refused because they came after the last version was made
   * (completed), or were left on the topic when the job was cancelled or failed.
   */
  refusedAfterFinish?: Record<string, number>;
  /** The final global model as the agents scored it in the evaluation-only round after the last (jobs with federated evaluation). */
  finalEvaluation?: FinalEvaluation;
  /** Why a job with federated evaluation has no finalEvaluation (too few agents answered, or none was selectable). */
  finalEvaluationMissing?: string;
}

/** Agents' scores of a model, weighted by the examples each scored it on. */
export interface FinalEvaluation {
  loss: number;
  accuracy: number;
  examples: number;
  /** Agents whose evaluation counted. */
  agents: number;
}

/** Example-weighted mean of the agents' evaluations; undefined when none scored any example. */
export function combineEvaluations(scores: { loss: number; accuracy: number; examples: number }[]): FinalEvaluation | undefined {
  let loss = 0;
  let accuracy = 0;
  let examples = 0;
  let agents = 0;
  for (const score of scores) {
    if (!(score.examples > 0) || !Number.isFinite(score.loss) || !Number.isFinite(score.accuracy)) continue;
    loss += score.loss * score.examples;
    accuracy += score.accuracy * score.examples;
    examples += score.examples;
    agents++;
  }
  return examples > 0 ? { loss: loss / examples, accuracy: accuracy / examples, examples, agents } : undefined;
}

/** Why a message does not belong to this attempt of this round ('malformed' or 'stale'), or undefined. */
export function roundMismatch(
  header: { jobId: string; round: number; attempt: number } | undefined,
  expected: { jobId: string; round: number; attempt: number },
): 'malformed' | 'stale' | undefined {
  if (!header || header.jobId !== expected.jobId) return 'malformed';
  if (header.round !== expected.round || header.attempt !== expected.attempt) return 'stale';
  return undefined;
}
