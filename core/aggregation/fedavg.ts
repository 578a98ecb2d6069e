// FedAvg (McMahan et al. 2017) as Flower's server does it: the example-weighted mean of the
// parameters agents return, Σ n_k·x_k / Σ n_k. FedProx (Li et al. 2020) is the same on the
// server; its proximal term mu is sent to agents with the round's config.
//
// Streaming: memory stays O(model) however many updates arrive — a float64 running sum
// (8 B/coordinate) plus, on the WebAssembly path, a ring of `ring` float32 slots the
// updates are copied into (or decoded straight into, see `reserve`) and folded from in
// blocks by the SIMD kernel. Nothing keeps an update after `add` returns.
import { DomainError } from '../errors';
import { KERNEL_BLOCK, WeightedSumArena, finishJs, kernelModule, weightedSumJs } from './kernel';
import type { ModelUpdate, RoundAggregator, ServerState, Strategy } from './types';
import { assertFoldable, assertNotEmpty } from './validate';

/** 'wasm': the SIMD kernel; 'js': the plain loop; 'auto': wasm where the runtime has SIMD. */
export type WeightedSumBackend = 'auto' | 'wasm' | 'js';

export interface WeightedMeanOptions {
  backend?: WeightedSumBackend;
  /** Updates buffered before one blocked fold (wasm path). Four 4 MB slots stay in L3; larger rings measured slower. */
  ring?: number;
}

/** Running Σ w·x (float64) over float32 vectors of one dimension, in arrival order. */
export class WeightedMean {
  readonly dimension: number;
  readonly backend: 'wasm' | 'js';
  /** Sum of the weights folded so far (the weights' unit, e.g. examples). */
  total = 0;
  /** Vectors folded so far. */
  count = 0;
  private readonly arena?: WeightedSumArena;
  private readonly jsSums?: Float64Array;
  private readonly order: number[] = [];
  private readonly pendingWeights: number[] = [];
  private started = false;

  constructor(dimension: number, options: WeightedMeanOptions = {}) {
    this.dimension = dimension;
    const wanted = options.backend ?? 'auto';
    if (wanted === 'wasm' && kernelModule() === undefined) throw new Error('WebAssembly SIMD is not available in this runtime');
    if (wanted !== 'js' && kernelModule() !== undefined) {
      const ring = Math.max(1, Math.floor(options.ring ?? 4));
      try {
        this.arena = new WeightedSumArena(dimension, ring);
        for (let i = 0; i < ring; i++) this.order.push(i);
      } catch (error) {
        // 'auto' falls back to the JS loop when the arena cannot be had (past wasm32's 4 GiB).
        if (wanted === 'wasm' || !(error instanceof RangeError)) throw error;
      }
    }
    this.backend = this.arena ? 'wasm' : 'js';
    if (!this.arena) this.jsSums = new Float64Array(dimension);
  }

  /**
   * The buffer to decode the next vector into before `add`ing it (wasm path, saves a copy),
   * or undefined on the JS path. Valid until the next `add`.
   */
  reserve(): Float32Array | undefined {
    return this.arena?.slot(this.pendingWeights.length);
  }

  /** Folds `weight` (e.g. training examples) × `params` into the sums. */
  add(params: Float32Array, weight: number): void {
    if (params.length !== this.dimension) throw new RangeError(`expected ${this.dimension} coordinates, got ${params.length}`);
    if (this.arena) {
      const slot = this.arena.slot(this.pendingWeights.length);
      if (params !== slot) slot.set(params);
      this.pendingWeights.push(weight);
      if (this.pendingWeights.length === this.order.length) this.flush();
    } else {
      weightedSumJs(this.jsSums as Float64Array, params, weight);
    }
    this.total += weight;
    this.count++;
  }

  /** Σ w·x per coordinate (float64); a view that lives as long as this object. */
  sums(): Float64Array {
    if (this.arena) {
      this.flush();
      if (!this.started) this.arena.accumulator.fill(0);
      return this.arena.accumulator;
    }
    return this.jsSums as Float64Array;
  }

  /** The weighted mean Σ w·x / Σ w, rounded once to float32 (a fresh array). */
  mean(): Float32Array {
    const sums = this.sums();
    if (this.arena) return this.arena.finish(this.total).slice();
    return finishJs(sums, this.total);
  }

  private flush(): void {
    const arena = this.arena;
    const pending = this.pendingWeights.length;
    if (!arena || pending === 0) return;
    arena.setTable(this.order.slice(0, pending), this.pendingWeights);
    arena.foldRange(pending, 0, this.dimension, !this.started, KERNEL_BLOCK);
    this.started = true;
    this.pendingWeights.length = 0;
  }
}

/** Shared by the streaming strategies: validates shape, folds examples × params, refuses use after finish. */
export abstract class StreamingRound implements RoundAggregator {
  protected readonly sum: WeightedMean;
  private finished = false;

  constructor(
    protected readonly global: Float32Array,
    protected readonly state: ServerState,
    options: WeightedMeanOptions,
  ) {
    this.sum = new WeightedMean(global.length, options);
  }

  /** The buffer to decode the next update's params into, saving a copy (see WeightedMean.reserve). */
  reserve(): Float32Array | undefined {
    return this.sum.reserve();
  }

  add(update: ModelUpdate): void {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertFoldable(update, this.global.length);
    this.sum.add(update.params, update.examples);
  }

  finish(): { params: Float32Array; state: ServerState } {
    if (this.finished) throw new DomainError('CONFLICT', 'the round was already aggregated');
    assertNotEmpty(this.sum.count);
    this.finished = true;
    return this.complete();
  }

  protected abstract complete(): { params: Float32Array; state: ServerState };
}

class FedAvgRound extends StreamingRound {
  protected complete(): { params: Float32Array; state: ServerState } {
    return { params: this.sum.mean(), state: { round: this.state.round + 1, vectors: this.state.vectors } };
  }
}

/** FedAvg (or FedProx, identical on the server): the example-weighted mean, streaming. */
export function createFedAvg(name: 'fedavg' | 'fedprox' = 'fedavg', options: WeightedMeanOptions = {}): Strategy {
  return {
    name,
    streaming: true,
    start: (global, state) => new FedAvgRound(global, state, options),
  };
}
