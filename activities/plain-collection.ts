// The manager's side of a plain (not secure) round over messaging: each
// participant publishes its update on the round's updates topic; the updates
// that pass the checks are handed on one by one, the rest counted by reason.
import { Context } from '@temporalio/activity';
import { validateUpdate, type UpdateRejection } from '../core/aggregation';
import { clipToNorm } from '../core/privacy/gaussian';
import {
  decodeUpdateHeader,
  isPartial,
  roundMismatch,
  type RoundClose,
  type RoundInput,
  type StragglerPolicy,
  type UpdateHeader,
} from '../core/tuning';
import type { Consumer, ReceivedMessage } from '../adapters/ports';
import { decodeArriving, type ArrivingUpdate, type RoundContributions } from './round-contributions';

const NO_BYTES = new Uint8Array(0);
/** After the deadline, how long to keep draining updates that were published in time. */
const LATE_DRAIN_MS = 300;

export interface PlainCollectionInput extends RoundInput {
  maxUpdateNorm?: number;
  /** Central DP: each update's change is clipped to clipNorm and weighted equally. */
  privacy?: { clipNorm: number; noiseMultiplier: number };
  /** With closeWhen, the round may close before its deadline; with 'drop', partial work is refused. */
  stragglers?: StragglerPolicy;
  minParticipants?: number;
  /** The round's length (its start is deadlineAt - roundTimeoutMs), for closeWhen.afterMs. */
  roundTimeoutMs?: number;
}

/** What a round's collection counted about the work behind its updates. */
export interface WorkSummary {
  /** Accepted updates with fewer steps completed than planned. */
  partial: number;
  /** Partial updates refused under 'drop'. */
  droppedPartial: number;
  stepsCompleted: number;
  stepsPlanned: number;
  closedBy: RoundClose;
  /** Updates of this job's earlier rounds read now: late in their own round (by round number). */
  lateByRound: Record<string, number>;
}

export interface PlainCollection {
  /** Every message read, accepted or not, without its payload: acknowledged by the caller once the round's result is stored. */
  held: ReceivedMessage[];
  /** Agents whose update arrived in time from a participant, with a valid proof. */
  reported: Set<string>;
  metrics: ReportedMetrics;
  work: WorkSummary;
  /** Each accepted update's sender, weight, loss and broker time. */
  arrivals: Arrival[];
}

/** An accepted update as participant selection learns from it (Oort). */
export interface Arrival {
  agentId: string;
  examples: number;
  /** Its training loss, else its score of the global model. */
  loss?: number;
  /** Its mean squared per-example training loss, when the agent reported it. */
  lossSquared?: number;
  /** Milliseconds since the epoch, when the broker accepted it. */
  publishTime: number;
}

/**
 * Reads updates until every participant reported or the deadline passed,
 * offering each to `intake`, which checks its parameters and admits it. `check`
 * vets the sender (participant, proof); `reject` counts a refused message by reason.
 */
export async function collectPlainly(
  input: PlainCollectionInput,
  consumer: Consumer,
  global: Float32Array,
  check: (message: ReceivedMessage, agentId: string) => Promise<string | undefined>,
  reject: (reason: string, agentId?: string) => void,
  intake: Pick<RoundContributions, 'offer' | 'add'>,
): Promise<PlainCollection> {
  const context = Context.current();
  const held: ReceivedMessage[] = [];
  const reported = new Set<string>();
  const metrics = new ReportedMetrics();
  const arrivals: Arrival[] = [];
  const work: WorkSummary = { partial: 0, droppedPartial: 0, stepsCompleted: 0, stepsPlanned: 0, closedBy: 'deadline', lateByRound: {} };
  const close = closeRule(input);
  let admitted = 0;
  for (;;) {
    if (reported.size >= input.participants.length) {
      work.closedBy = 'all-reported';
      break;
    }
    const early = close.satisfied(admitted, Date.now());
    if (early) {
      work.closedBy = early;
      break;
    }
    const now = Date.now();
    const until = close.cutoffAt !== undefined && now < close.cutoffAt ? Math.min(close.cutoffAt, input.deadlineAt) : input.deadlineAt;
    // Past the deadline, one more wait: an update the broker accepted in time may still be on its way.
    const draining = now >= input.deadlineAt;
    const wait = now < until ? Math.min(until - now, 500) : LATE_DRAIN_MS;
    const message = await consumer.receive(wait);
    context.heartbeat({ reported: reported.size });
    if (!message) {
      if (draining) break;
      continue;
    }
    // Kept only to be acknowledged: without its payload, so memory stays O(model), not O(updates).
    held.push({ ...message, payload: NO_BYTES });
    const header = decodeUpdateHeader(message.properties);
    if (header && header.jobId === input.jobId && header.round < input.round) {
      // Sent for a round that has closed: late there, not stale here.
      work.lateByRound[header.round] = (work.lateByRound[header.round] ?? 0) + 1;
      continue;
    }
    const mismatch = roundMismatch(header, input);
    if (mismatch || !header || !stepsWellFormed(header)) {
      reject(mismatch ?? 'malformed', header?.agentId);
      continue;
    }
    if (message.publishTime > input.deadlineAt) {
      reject('late', header.agentId);
      continue;
    }
    const refusal = await check(message, header.agentId);
    if (refusal) {
      reject(refusal, header.agentId);
      continue;
    }
    if (reported.has(header.agentId)) {
      reject('duplicate', header.agentId);
      continue;
    }
    reported.add(header.agentId);
    if (header.stepsCompleted === 0 && (header.stepsPlanned ?? 0) > 0) {
      reject('no-work', header.agentId);
      continue;
    }
    const partial = isPartial(header);
    if (partial && input.stragglers?.policy === 'drop') {
      reject('partial', header.agentId);
      work.droppedPartial++;
      continue;
    }
    const arriving: ArrivingUpdate = {
      agentId: header.agentId,
      examples: header.examples,
      payload: message.payload,
      ...(header.stepsCompleted !== undefined ? { steps: header.stepsCompleted } : {}),
    };
    const limits = { maxUpdateNorm: input.maxUpdateNorm };
    let invalid: UpdateRejection | undefined;
    if (input.privacy) {
      const update = decodeArriving(arriving);
      invalid = validateUpdate(update, global, limits);
      if (!invalid) {
        // DP-FedAvg (McMahan et al. 2018) with equal weights: the central noise
        // bounds one agent's influence only when no agent outweighs another.
        update.params = clipDelta(update.params, global, input.privacy.clipNorm);
        update.examples = 1;
        intake.add(update);
      }
    } else {
      invalid = intake.offer(arriving, global, limits);
    }
    if (invalid) {
      reject(invalid.code, header.agentId);
      continue;
    }
    admitted++;
    metrics.add(header);
    arrivals.push({
      agentId: header.agentId,
      examples: header.examples,
      loss: header.trainLoss ?? header.evalLoss,
      ...(header.trainLoss !== undefined && header.trainLossSquared !== undefined ? { lossSquared: header.trainLossSquared } : {}),
      publishTime: message.publishTime,
    });
    if (partial) work.partial++;
    if (header.stepsCompleted !== undefined && header.stepsPlanned !== undefined) {
      work.stepsCompleted += header.stepsCompleted;
      work.stepsPlanned += header.stepsPlanned;
    }
  }
  return { held, reported, metrics, work, arrivals };
}

/** Example-weighted averages of the training and evaluation figures agents report with their updates. */
export class ReportedMetrics {
  private lossSum = 0;
  private accuracySum = 0;
  private trainExamples = 0;
  private evalLossSum = 0;
  private evalAccuracySum = 0;
  private evalExamples = 0;

  add(header: UpdateHeader): void {
    if (header.trainLoss !== undefined && header.trainAccuracy !== undefined) {
      this.lossSum += header.trainLoss * header.examples;
      this.accuracySum += header.trainAccuracy * header.examples;
      this.trainExamples += header.examples;
    }
    const evalExamples = header.evalExamples ?? 0;
    if (header.evalLoss !== undefined && header.evalAccuracy !== undefined && evalExamples > 0) {
      this.evalLossSum += header.evalLoss * evalExamples;
      this.evalAccuracySum += header.evalAccuracy * evalExamples;
      this.evalExamples += evalExamples;
    }
  }

  summary(): { trainLoss?: number; trainAccuracy?: number; agentLoss?: number; agentAccuracy?: number; agentEvalExamples?: number } {
    const train = this.trainExamples;
    const evaluated = this.evalExamples;
    return {
      trainLoss: train > 0 ? this.lossSum / train : undefined,
      trainAccuracy: train > 0 ? this.accuracySum / train : undefined,
      agentLoss: evaluated > 0 ? this.evalLossSum / evaluated : undefined,
      agentAccuracy: evaluated > 0 ? this.evalAccuracySum / evaluated : undefined,
      agentEvalExamples: evaluated > 0 ? evaluated : undefined,
    };
  }
}

/** Central DP: the update's distance from the global model is clipped to clipNorm (L2). */
function clipDelta(params: Float32Array, global: Float32Array, clipNorm: number): Float32Array {
  const delta = Float32Array.from(params, (value, i) => value - global[i]);
  const clipped = clipToNorm(delta, clipNorm);
  return Float32Array.from(clipped, (value, i) => value + global[i]);
}

/** Steps, when given, are whole numbers with completed ≤ planned. */
function stepsWellFormed(header: UpdateHeader): boolean {
  const { stepsCompleted: done, stepsPlanned: planned } = header;
  if (done !== undefined && !(Number.isSafeInteger(done) && done >= 0)) return false;
  if (planned !== undefined && !(Number.isSafeInteger(planned) && planned >= 0)) return false;
  return done === undefined || planned === undefined || done <= planned;
}

/**
 * When a round may close before its deadline (OpenFL's straggler handling): once `fraction`
 * of the participants have an update that counts (and at least minParticipants), or once
 * `afterMs` has passed since the round started and minParticipants have one.
 */
function closeRule(input: PlainCollectionInput): {
  cutoffAt?: number;
  satisfied(admitted: number, now: number): RoundClose | undefined;
} {
  const when = input.stragglers?.closeWhen;
  const quorum = input.minParticipants ?? 1;
  const enough = when?.fraction !== undefined ? Math.max(quorum, Math.ceil(when.fraction * input.participants.length)) : undefined;
  const cutoffAt =
    when?.afterMs !== undefined && input.roundTimeoutMs !== undefined
      ? input.deadlineAt - input.roundTimeoutMs + when.afterMs
      : undefined;
  return {
    cutoffAt,
    satisfied(admitted, now) {
      if (enough !== undefined && admitted >= enough) return 'fraction';
      if (cutoffAt !== undefined && now >= cutoffAt && admitted >= quorum) return 'cutoff';
      return undefined;
    },
  };
}
