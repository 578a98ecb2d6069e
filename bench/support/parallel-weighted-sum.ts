// FedAvg's weighted sum on several cores: one SharedArrayBuffer-backed WebAssembly.Memory
// holds the updates (each written once, straight into its slot, never copied again), the
// float64 accumulator and the mean; every thread runs the same SIMD kernel
// (core/aggregation/kernel.ts) on blocks of output coordinates, folding all updates into a
// block of the accumulator while it sits in L2, then writing that block's mean while it is
// still there.
//
// Threads claim blocks from a shared atomic counter rather than owning a fixed half: on a
// shared, noisy machine a thread that loses its core for a while just claims fewer blocks
// and the other finishes the pass. The calling thread claims blocks too, so `threads: 2`
// uses both cores of a 2-core machine with one worker. Commands go through a small shared
// control block with Atomics (no postMessage per call, no copies).
//
// Results are bit-identical to the single-thread kernel and to the plain-JS reference:
// threads split coordinates, never the order of updates on one coordinate.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { KERNEL_BLOCK, WeightedSumArena, arenaLayout, kernelModule, wasmApi, type ArenaLayout, type WasmMemory } from '../../core/aggregation/kernel';

// Control block (Int32 indices), one per worker.
const SEQ = 0; // bumped by the caller for each command
const DONE = 1; // set to SEQ by the worker when the command finished
const OP = 2; // 0 stop, bit 1 fold, bit 2 finish
const COUNT = 3;
const DIMENSION = 4;
const INIT = 6;
const BLOCK = 7;
const FAILED = 8;
const TOTAL_BYTE = 64; // float64 total for finish
const CONTROL_BYTES = 128;

const OP_STOP = 0;
const OP_FOLD = 1;
const OP_FINISH = 2;

// Plain CommonJS, run with `eval: true`, so it needs no TypeScript loader under tsx, jest or node.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, counter, layout } = workerData;
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control, 0, 16);
const total = new Float64Array(control, ${TOTAL_BYTE}, 1);
const next = new Int32Array(counter, 0, 1);
parentPort.postMessage({ ready: true });
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  const op = ctl[${OP}];
  if (op === ${OP_STOP}) break;
  try {
    const count = ctl[${COUNT}], dimension = ctl[${DIMENSION}], init = ctl[${INIT}], block = ctl[${BLOCK}];
    for (;;) {
      const lo = Atomics.add(next, 0, 1) * block;
      if (lo >= dimension) break;
      const hi = Math.min(lo + block, dimension);
      if (op & ${OP_FOLD}) kernel.fold(layout.acc, layout.table, layout.weights, count, lo, hi, block, init);
      if (op & ${OP_FINISH}) kernel.finish(layout.acc, layout.out, lo, hi, total[0]);
    }
    ctl[${FAILED}] = 0;
  } catch (error) {
    ctl[${FAILED}] = 1;
    parentPort.postMessage({ error: String((error && error.stack) || error) });
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
// ES2024's Atomics.waitAsync (Node >= 16); the project's lib setting stops at ES2022.
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

export interface ParallelWeightedSumOptions {
  /** Coordinates per update. */
  dimension: number;
  /** Update slots in shared memory (all of a round's updates, or a ring of a few). */
  slots: number;
  /** Threads in all, the caller's included (default: min(2, available cores)). */
  threads?: number;
  /** Output coordinates per cache block (default KERNEL_BLOCK). */
  block?: number;
}

interface Helper {
  worker: Worker;
  control: Int32Array;
  total: Float64Array;
  lastError?: string;
}

/** A multi-threaded FedAvg weighted sum over float32 updates in shared memory. */
export class ParallelWeightedSum {
  readonly layout: ArenaLayout;
  readonly threads: number;
  private readonly arena: WeightedSumArena;
  private readonly helpers: Helper[];
  /** Next block to claim, shared by all threads. */
  private readonly next: Int32Array;
  private readonly block: number;
  private busy = false;
  private closed = false;
  private failure?: Error;

  private constructor(arena: WeightedSumArena, helpers: Helper[], next: Int32Array, block: number) {
    this.arena = arena;
    this.layout = arena.layout;
    this.helpers = helpers;
    this.next = next;
    this.block = block;
    this.threads = helpers.length + 1;
    for (const helper of helpers) {
      helper.worker.on('message', (message: { error?: string }) => {
        if (message.error) helper.lastError = message.error;
      });
      helper.worker.on('error', (error) => {
        this.failure ??= error;
      });
      helper.worker.on('exit', (code) => {
        if (!this.closed) this.failure ??= new Error(`aggregation worker exited with code ${code}`);
      });
    }
  }

  /** Allocates the shared memory and starts `threads - 1` workers; resolves when they are ready. */
  static async create(options: ParallelWeightedSumOptions): Promise<ParallelWeightedSum> {
    const module = kernelModule(true);
    if (!module || !wasmApi) throw new Error('WebAssembly SIMD with shared memory is not available in this runtime');
    const layout = arenaLayout(options.dimension, options.slots);
    const threads = Math.max(1, Math.min(options.threads ?? 2, availableParallelism()));
    // Blocks start on multiples of 8 coordinates, so all but the last run entirely in the
    // kernel's vector loop.
    const block = Math.max(8, Math.ceil((options.block ?? KERNEL_BLOCK) / 8) * 8);
    const memory = new wasmApi.Memory({ initial: layout.pages, maximum: layout.pages, shared: true });
    const arena = new WeightedSumArena(layout.dimension, layout.slots, memory);

    const counter = new SharedArrayBuffer(64);
    const helpers: Helper[] = [];
    const ready: Promise<void>[] = [];
    for (let t = 1; t < threads; t++) {
      const control = new SharedArrayBuffer(CONTROL_BYTES);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, counter, layout } });
      worker.unref(); // a runner nobody closed must not keep the process alive
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        }),
      );
      helpers.push({ worker, control: new Int32Array(control, 0, 16), total: new Float64Array(control, TOTAL_BYTE, 1) });
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await Promise.all(helpers.map((h) => h.worker.terminate()));
      throw error;
    }
    return new ParallelWeightedSum(arena, helpers, new Int32Array(counter, 0, 1), block);
  }

  /** The float32 view of slot `i` in shared memory: write update `i` here, once. */
  slot(i: number): Float32Array {
    return this.arena.slot(i);
  }

  /** The shared memory (e.g. for a single-thread WeightedSumArena over the same slots). */
  get memory(): WasmMemory {
    return this.arena.memory;
  }

  /** The float64 running sums (valid between commands). */
  get accumulator(): Float64Array {
    return this.arena.accumulator;
  }

  /**
   * acc (+)= Σ_k weights[k] · slot(order[k]), weights dimensionless (e.g. training examples),
   * summed per coordinate in the order given; `init` starts the sums from zero.
   */
  async fold(order: ArrayLike<number>, weights: ArrayLike<number>, init: boolean): Promise<void> {
    const count = this.arena.setTable(order, weights);
    await this.run(OP_FOLD, count, init, 0);
  }

  /** The mean acc / total (total in the weights' unit) as a view into shared memory; copy it to keep it. */
  async finish(total: number): Promise<Float32Array> {
    await this.run(OP_FINISH, 0, false, total);
    return this.arena.output;
  }

  /** fold(order, weights, init = true) then finish(Σ weights) in one pass of every thread. */
  async weightedMean(order: ArrayLike<number>, weights: ArrayLike<number>): Promise<Float32Array> {
    const count = this.arena.setTable(order, weights);
    let total = 0;
    for (let k = 0; k < count; k++) total += weights[k];
    await this.run(OP_FOLD | OP_FINISH, count, true, total);
    return this.arena.output;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const helper of this.helpers) this.post(helper, OP_STOP, 0, false, 0);
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }

  private post(helper: Helper, op: number, count: number, init: boolean, total: number): number {
    const ctl = helper.control;
    ctl[OP] = op;
    ctl[COUNT] = count;
    ctl[DIMENSION] = this.layout.dimension;
    ctl[INIT] = init ? 1 : 0;
    ctl[BLOCK] = this.block;
    helper.total[0] = total;
    const seq = Atomics.add(ctl, SEQ, 1) + 1; // seq-cst: publishes the fields and the fold table
    Atomics.notify(ctl, SEQ);
    return seq;
  }

  private async run(op: number, count: number, init: boolean, total: number): Promise<void> {
    if (this.closed) throw new Error('ParallelWeightedSum is closed');
    if (this.failure) throw this.failure;
    if (this.busy) throw new Error('ParallelWeightedSum runs one command at a time');
    this.busy = true;
    try {
      Atomics.store(this.next, 0, 0); // published to the helpers by post()'s Atomics.add
      const seqs = this.helpers.map((h) => this.post(h, op, count, init, total));
      const { dimension } = this.layout;
      const block = this.block;
      let ownFailure: unknown;
      try {
        for (;;) {
          const lo = Atomics.add(this.next, 0, 1) * block;
          if (lo >= dimension) break;
          const hi = Math.min(lo + block, dimension);
          if (op & OP_FOLD) this.arena.foldRange(count, lo, hi, init, block);
          if (op & OP_FINISH) this.arena.finishRange(total, lo, hi);
        }
      } catch (error) {
        ownFailure = error; // still wait for the helpers: they write the same memory
      }
      await Promise.all(this.helpers.map((h, i) => this.awaitDone(h, seqs[i])));
      if (ownFailure !== undefined) throw ownFailure;
      const failed = this.helpers.find((h) => h.control[FAILED] !== 0);
      if (failed) throw new Error(`aggregation worker failed: ${failed.lastError ?? 'unknown error'}`);
    } finally {
      this.busy = false;
    }
  }

  private async awaitDone(helper: Helper, seq: number): Promise<void> {
    const ctl = helper.control;
    // Our own claims ran out, so the helper is at most one block from done:
    // spin briefly before parking on the event loop.
    const spinUntil = performance.now() + 2; // milliseconds
    while (Atomics.load(ctl, DONE) !== seq && performance.now() < spinUntil);
    while (Atomics.load(ctl, DONE) !== seq) {
      if (this.failure) throw this.failure;
      const seen = Atomics.load(ctl, DONE);
      if (seen === seq) break;
      if (waitAsync) {
        const result = waitAsync(ctl, DONE, seen);
        if (result.async) await Promise.race([result.value, delay(50)]);
      } else {
        await delay(0);
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  // Not unref'd: while a command is pending, this timer keeps the event loop alive.
  return new Promise((resolve) => setTimeout(resolve, ms));
}
