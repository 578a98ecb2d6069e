// The updates a plain or secure round admits, held as its strategy needs them.
import { validateUpdate, type UpdateLimits, type UpdateRejection } from '../core/aggregation';
import { ExactWeightedMean } from '../core/aggregation/exact-mean';
import { FedNovaAccumulator } from '../core/aggregation/fednova';
import type { ModelUpdate, ServerState, Strategy } from '../core/aggregation/types';
import { bytesToParams } from '../core/tuning';

/** An update as it arrives: its sender and weight from the message header, its parameters as the payload's float32 bytes. */
export interface ArrivingUpdate {
  agentId: string;
  examples: number;
  /** Local steps completed, when the agent reported them (FedNova). */
  steps?: number;
  payload: Uint8Array;
}

/**
 * The updates a round admits, held as the strategy needs them: streaming
 * strategies fold them into an order-independent weighted mean (memory
 * O(model)); robust ones keep them and see them in agent-id order.
 */
export class RoundContributions {
  private readonly mean: ExactWeightedMean;
  private readonly buffered: ModelUpdate[] = [];
  /** FedNova folds step-normalised updates into its own exact mean. */
  private readonly normalised?: FedNovaAccumulator;

  constructor(
    private readonly strategy: Strategy,
    dimension: number,
  ) {
    this.mean = new ExactWeightedMean(dimension);
    if (strategy.name === 'fednova') this.normalised = new FedNovaAccumulator(dimension);
  }

  /**
   * Checks an arriving update as validateUpdate does (against the round's global model) and
   * admits it when it passes; returns why it was refused. For streaming strategies the payload
   * goes straight into the exact mean's kernel memory, checked there in the same pass.
   */
  offer(update: ArrivingUpdate, global: Float32Array, limits: UpdateLimits): UpdateRejection | undefined {
    if (!this.normalised && this.strategy.streaming) {
      if (update.agentId.length === 0) return { code: 'invalid', message: 'agentId is missing' };
      return this.mean.offer(update.payload, update.examples, { reference: global, maxUpdateNorm: limits.maxUpdateNorm });
    }
    const decoded = decodeArriving(update);
    const invalid = validateUpdate(decoded, global, limits);
    if (!invalid) this.add(decoded);
    return invalid;
  }

  /** Admits an update that was checked already. */
  add(update: ModelUpdate): void {
    if (this.normalised) this.normalised.add(update);
    else if (this.strategy.streaming) this.mean.add(update);
    else this.buffered.push(update);
  }

  get count(): number {
    if (this.normalised) return this.normalised.count;
    return this.strategy.streaming ? this.mean.updates : this.buffered.length;
  }

  get examples(): number {
    if (this.normalised) return this.normalised.totalExamples;
    return this.strategy.streaming ? this.mean.totalExamples : this.buffered.reduce((n, u) => n + u.examples, 0);
  }

  aggregate(global: Float32Array, state: ServerState): { params: Float32Array; state: ServerState } {
    if (this.normalised) {
      const params = this.normalised.combine(global);
      this.normalised.release();
      return { params, state: { round: state.round + 1, vectors: state.vectors } };
    }
    const aggregator = this.strategy.start(global, state);
    if (this.strategy.streaming) {
      aggregator.add({ agentId: '(weighted mean)', examples: this.mean.totalExamples, params: this.mean.mean() });
      this.mean.release(); // the next round's mean reuses its working memory
    } else {
      const ordered = [...this.buffered].sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
      for (const update of ordered) aggregator.add(update);
    }
    return aggregator.finish();
  }
}

/** The update with its payload decoded into its own Float32Array (kept beyond the message). */
export function decodeArriving(update: ArrivingUpdate): ModelUpdate {
  const { payload, steps, ...rest } = update;
  const params = payload.byteLength % 4 === 0 ? Float32Array.from(bytesToParams(payload)) : new Float32Array(0);
  return { ...rest, params, ...(steps !== undefined ? { steps } : {}) };
}
