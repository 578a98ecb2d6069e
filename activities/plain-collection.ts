// The manager's side of a plain (not secure) round over messaging: each
// participant publishes its update on the round's updates topic; the updates
// that pass the checks are handed on one by one, the rest counted by reason.
import { Context } from '@temporalio/activity';
import { validateUpdate } from '../core/aggregation';
import type { ModelUpdate } from '../core/aggregation/types';
import { clipToNorm } from '../core/privacy/gaussian';
import { bytesToParams, decodeUpdateHeader, roundMismatch, type RoundInput, type UpdateHeader } from '../core/tuning';
import type { Consumer, ReceivedMessage } from '../adapters/ports';

const NO_BYTES = new Uint8Array(0);
/** After the deadline, how long to keep draining updates that were published in time. */
const LATE_DRAIN_MS = 300;

export interface PlainCollectionInput extends RoundInput {
  maxUpdateNorm?: number;
  /** Central DP: each update's change is clipped to clipNorm and weighted equally. */
  privacy?: { clipNorm: number; noiseMultiplier: number };
}

export interface PlainCollection {
  /** Every message read, accepted or not, without its payload: acknowledged by the caller once the round's result is stored. */
  held: ReceivedMessage[];
  /** Agents whose update arrived in time from a participant, with a valid proof. */
  reported: Set<string>;
  metrics: ReportedMetrics;
  /** Each accepted update's sender, weight, loss and broker time. */
  arrivals: Arrival[];
}

/** An accepted update as participant selection learns from it (Oort). */
export interface Arrival {
  agentId: string;
  examples: number;
  /** Its training loss, else its score of the global model. */
  loss?: number;
  /** Milliseconds since the epoch, when the broker accepted it. */
  publishTime: number;
}

/**
 * Reads updates until every participant reported or the deadline passed,
 * passing each acceptable one to `admit`. `check` vets the sender (participant,
 * proof); `reject` counts a refused message by reason.
 */
export async function collectPlainly(
  input: PlainCollectionInput,
  consumer: Consumer,
  global: Float32Array,
  check: (message: ReceivedMessage, agentId: string) => Promise<string | undefined>,
  reject: (reason: string) => void,
  admit: (update: ModelUpdate) => void,
): Promise<PlainCollection> {
  const context = Context.current();
  const held: ReceivedMessage[] = [];
  const reported = new Set<string>();
  const metrics = new ReportedMetrics();
  const arrivals: Arrival[] = [];
  while (reported.size < input.participants.length) {
    const now = Date.now();
    const wait = now < input.deadlineAt ? Math.min(input.deadlineAt - now, 500) : LATE_DRAIN_MS;
    const message = await consumer.receive(wait);
    context.heartbeat({ reported: reported.size });
    if (!message) {
      if (Date.now() >= input.deadlineAt) break;
      continue;
    }
    // Kept only to be acknowledged: without its payload, so memory stays O(model), not O(updates).
    held.push({ ...message, payload: NO_BYTES });
    const header = decodeUpdateHeader(message.properties);
    const mismatch = roundMismatch(header, input);
    if (mismatch || !header) {
      reject(mismatch ?? 'malformed');
      continue;
    }
    if (message.publishTime > input.deadlineAt) {
      reject('late');
      continue;
    }
    const refusal = await check(message, header.agentId);
    if (refusal) {
      reject(refusal);
      continue;
    }
    if (reported.has(header.agentId)) {
      reject('duplicate');
      continue;
    }
    reported.add(header.agentId);
    const update: ModelUpdate = {
      agentId: header.agentId,
      examples: header.examples,
      params: Float32Array.from(bytesToParams(message.payload)),
    };
    const invalid = validateUpdate(update, global, { maxUpdateNorm: input.maxUpdateNorm });
    if (invalid) {
      reject(invalid.code);
      continue;
    }
    if (input.privacy) {
      // DP-FedAvg (McMahan et al. 2018) with equal weights: the central noise
      // bounds one agent's influence only when no agent outweighs another.
      update.params = clipDelta(update.params, global, input.privacy.clipNorm);
      update.examples = 1;
    }
    admit(update);
    metrics.add(header);
    arrivals.push({ agentId: header.agentId, examples: header.examples, loss: header.trainLoss ?? header.evalLoss, publishTime: message.publishTime });
  }
  return { held, reported, metrics, arrivals };
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
