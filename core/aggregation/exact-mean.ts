// An example-weighted mean whose bits do not depend on the order the updates arrive in:
// Σ n_k·x_k is accumulated EXACTLY, so any arrival order gives the same exact sum, and the
// mean is rounded from it once. A retried aggregation that sees the same updates in another
// order therefore produces the same bits, for any weight and any float32 magnitude.
//
// Representation (binned summation after ReproBLAS, Demmel & Nguyen, made exact): coordinates
// are grouped in tiles of TILE; a tile has a grid exponent G chosen from the largest product
// it has seen, and each coordinate two float64 bins, offset by constants so their ulp stays fixed:
//   hi = 1.5·2^(G+52) + h,  h a multiple of 2^G,      |h| < 2^(G+51)
//   lo = 1.5·2^(G+16) + l,  l a multiple of 2^(G−36), |l| < 2^(G+15)
// Each product p = n·x (exact in float64: weights are split into halves of ≤ 26 bits when they
// do not fit 29) enters with two error-free Fast2Sum steps, p = Δh + Δl + e; the rare e ≠ 0
// (a product with bits below 2^(G−36): only a value some 2^32 or more times smaller than the
// tile's largest can have them) is added to an exact per-coordinate BigInt sum. Bins are re-based (exactly) before the largest product could
// exceed 2^(G+31) or a bin could leave its range. So for every coordinate
//   Σ n_k·x_k = h + l + spilled, exactly.
// The mean is f32(fl(Σ) / fl(Σ n)): fl(h + l) is IEEE addition of two doubles, the correctly
// rounded double of the exact sum, which is what the BigInt path computes where there are
// spills; both depend on the exact sum only.
//
// Fast path: each update is copied into one of BATCH slots in a WebAssembly memory and, while
// it is still in cache, measured per tile (largest |n·x|, least nonzero |x|); a full batch is
// then folded tile by tile by a SIMD kernel (exact-kernel.ts): where the minima show every
// product is a multiple of the low bin's ulp, by the fast fold (no remainder can arise), else
// by the checked one. Without WebAssembly SIMD the same arithmetic runs in plain JS, update
// by update, with the same result bits. Memory: O(BATCH × dimension).
import { DomainError } from '../errors';
import { exactKernelModule, foldJs, instantiateExactKernel, squaredDistanceJs, tileMaxJs, type ExactKernelExports } from './exact-kernel';
import { wasmApi, type WasmMemory } from './kernel';
import type { ModelUpdate } from './types';
import { examplesProblem, type UpdateRejection } from './validate';

/**
 * Coordinates per tile (a multiple of 8): each update of a batch is read in runs of 128 KiB,
 * long enough for the hardware prefetcher (runs of 8 KiB measured ~40% slower overall).
 */
const TILE = 32768;
/** Coordinates per call of the checked fold (a multiple of 8), which bounds its spill buffer. */
const CHECKED_SPAN = 2048;
/** Updates buffered before a fold. */
const BATCH = 8;
/** The largest product a tile takes is 2^(G + 31); the hi bin holds up to 2^19 of them. */
const A_OFFSET = 31;
const HI_FILL_MAX = 2 ** 19;
/** The lo bin holds up to 2^15 remainders of at most 2^(G−1). */
const LO_FILL_MAX = 2 ** 15;
/** Bits of head room above the largest product when a tile's grid is chosen. */
const MARGIN = 2;
const UNSET = -1 << 30;
/** Weights outside [2^-256, 2^256] are refused (their products could leave float64's exact range). */
const WEIGHT_MIN = 2 ** -256;
const WEIGHT_MAX = 2 ** 256;

/** What `offer` checks an arriving update against. */
export interface OfferChecks {
  /** The round's global model: the norm bound applies to (params − reference); unchanged while the mean is in use. */
  reference?: Float32Array;
  /** Largest accepted L2 norm, in parameter units (of params − reference, else of params). */
  maxUpdateNorm?: number;
}

export interface ExactWeightedMeanOptions {
  /** 'wasm': the SIMD kernel; 'js': plain JS; 'auto' (default): wasm where available. Same bits. */
  backend?: 'auto' | 'wasm' | 'js';
  /** Coordinates per tile, a multiple of 8 (default 32,768; tests use small ones to cross tile edges). */
  tile?: number;
}

/** A weighted mean of float32 vectors, exact until the single final rounding. */
export class ExactWeightedMean {
  readonly backend: 'wasm' | 'js';
  private readonly tile: number;
  private readonly hi: Float64Array;
  private readonly lo: Float64Array;
  private readonly tileExp: Int32Array;
  private readonly hiFill: Float64Array;
  private readonly loFill: Float64Array;
  private readonly spills = new Map<number, ExactSum>();
  private readonly total = new ExactSum();
  private count = 0;
  private failure?: Error;
  // Current batch: table entry k folds xs[k] × weights[k].
  private readonly xs: Float32Array[] = [];
  private readonly weights: number[] = [];
  /** Lowest set bit of each entry's weight. */
  private readonly lowBits: number[] = [];
  private pending = 0;
  private readonly jsMins = new Float32Array(2 * BATCH);
  private readonly wasm?: WasmState;

  constructor(
    readonly dimension: number,
    options: ExactWeightedMeanOptions = {},
  ) {
    if (!Number.isSafeInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    const wanted = options.backend ?? 'auto';
    const tile = options.tile ?? TILE;
    if (!Number.isSafeInteger(tile) || tile < 8 || tile % 8 !== 0) throw new RangeError(`tile must be a positive multiple of 8, got ${tile}`);
    this.tile = tile;
    if (wanted === 'wasm' && !exactKernelModule()) throw new Error('WebAssembly SIMD is not available in this runtime');
    if (wanted !== 'js' && exactKernelModule()) {
      try {
        this.wasm = takeIdleState(dimension, tile) ?? new WasmState(dimension, tile);
      } catch (error) {
        if (wanted === 'wasm' || !(error instanceof RangeError)) throw error;
      }
    }
    this.backend = this.wasm ? 'wasm' : 'js';
    this.hi = this.wasm?.hi ?? new Float64Array(dimension);
    this.lo = this.wasm?.lo ?? new Float64Array(dimension);
    const tiles = Math.ceil(dimension / tile);
    this.tileExp = new Int32Array(tiles).fill(UNSET);
    this.hiFill = new Float64Array(tiles);
    this.loFill = new Float64Array(tiles);
  }

  /**
   * Adds examples × params. Throws on a wrong size or a weight that is not a positive number
   * in [2^-256, 2^256]. Non-finite params make this or a later call (the fold of the batch
   * they are in) throw, and the mean unusable.
   */
  add(update: Pick<ModelUpdate, 'examples' | 'params'>): void {
    this.usable();
    const { params, examples } = update;
    if (params.length !== this.dimension) {
      throw new DomainError('INVALID_ARGUMENT', `expected ${this.dimension} parameters, got ${params.length}`);
    }
    if (!(examples >= WEIGHT_MIN && examples <= WEIGHT_MAX)) {
      throw new DomainError('INVALID_ARGUMENT', `examples must be a positive number in [2^-256, 2^256], got ${examples}`);
    }
    const parts = splitWeight(examples);
    if (this.wasm) {
      const slot = this.wasm.slot(this.pending);
      slot.set(params);
      const first = this.xs.length;
      for (const w of parts) this.entry(slot, w, this.wasm.slotAddress(this.pending));
      this.wasm.measure(first, parts.length, this.xs, this.weights);
      this.wasm.takeMaxima();
      this.pending++;
      if (this.pending === BATCH) this.flush();
    } else {
      for (const w of parts) this.entry(params, w, 0);
      this.pending++;
      this.flush(); // the JS path keeps no reference to the caller's array
    }
    this.total.add(examples);
    this.count++;
  }

  /**
   * Checks an update that arrives as little-endian float32 bytes (a message payload) as
   * validateUpdate does (size, examples a positive integer, finite parameters, the norm bound)
   * and adds it when it passes; returns why it was refused (then nothing was added). With the
   * WebAssembly kernel the bytes are copied once, straight into the kernel's memory, and the
   * checks read them there while they are still in cache; no Float32Array is made.
   * The norm is summed as squaredDistanceJs does, the same bits on both backends.
   */
  offer(bytes: Uint8Array, examples: number, checks: OfferChecks = {}): UpdateRejection | undefined {
    this.usable();
    const { dimension } = this;
    if (bytes.byteLength !== 4 * dimension) {
      return { code: 'wrong-dimension', message: `params has ${bytes.byteLength / 4} coordinates, the model has ${dimension}` };
    }
    const reason = examplesProblem(examples);
    if (reason) return { code: 'bad-examples', message: reason };
    const { reference, maxUpdateNorm } = checks;
    if (reference && reference.length !== dimension) throw new RangeError(`reference has ${reference.length} coordinates, the mean ${dimension}`);
    const wasm = this.wasm;
    if (!wasm) {
      const params = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, dimension) : new Float32Array(bytes.slice().buffer);
      const refusal = notFinite(params) ?? normRefusal(maxUpdateNorm, () => squaredDistanceJs(params, reference), reference);
      if (refusal) return refusal;
      this.add({ examples, params });
      return undefined;
    }
    const k = this.pending;
    wasm.slotBytes(k).set(bytes);
    const first = this.xs.length;
    const parts = splitWeight(examples);
    for (const w of parts) this.entry(wasm.slot(k), w, wasm.slotAddress(k));
    const maxima = wasm.measure(first, parts.length, this.xs, this.weights);
    let refusal: UpdateRejection | undefined;
    for (let t = 0; t < maxima.length && !refusal; t++) if (!(maxima[t] < Infinity)) refusal = notFinite(wasm.slot(k));
    refusal ??= normRefusal(maxUpdateNorm, () => wasm.squaredDistance(k, reference), reference);
    if (refusal) {
      this.xs.length = first;
      this.weights.length = first;
      this.lowBits.length = first;
      return refusal;
    }
    wasm.takeMaxima();
    this.pending++;
    this.total.add(examples);
    this.count++;
    if (this.pending === BATCH) this.flush();
    return undefined;
  }

  get totalExamples(): number {
    return this.total.toNumber();
  }

  get updates(): number {
    return this.count;
  }

  /** The weighted mean as float32 parameters: f32(fl(Σ n·x) / fl(Σ n)) from the exact sums. */
  mean(): Float32Array {
    return this.meanInto(new Float32Array(this.dimension));
  }

  /** The same mean rounded once to float64, for strategies that compute further with it (FedNova). */
  mean64(): Float64Array {
    return this.meanInto(new Float64Array(this.dimension));
  }

  private meanInto<T extends Float32Array | Float64Array>(out: T): T {
    this.usable();
    this.flush();
    if (this.count === 0) throw new DomainError('INVALID_ARGUMENT', 'no updates to average');
    const total = this.total.toNumber();
    const { hi, lo } = this;
    for (let t = 0; t < this.tileExp.length; t++) {
      const e = this.tileExp[t];
      if (e === UNSET) continue;
      const [chi, clo] = binOffsets(e);
      const end = Math.min(this.dimension, (t + 1) * this.tile);
      for (let i = t * this.tile; i < end; i++) out[i] = (hi[i] - chi + (lo[i] - clo)) / total;
    }
    for (const [i, spilled] of this.spills) {
      const sum = spilled.copy();
      const e = this.tileExp[Math.floor(i / this.tile)];
      if (e !== UNSET) {
        const [chi, clo] = binOffsets(e);
        sum.add(hi[i] - chi);
        sum.add(lo[i] - clo);
      }
      out[i] = sum.toNumber() / total;
    }
    return out;
  }

  /**
   * Hands this mean's working memory (about 8 updates' worth plus 16 bytes a coordinate) to
   * the next mean of the same size in this process, which then skips allocating and
   * faulting it in; this mean is unusable afterwards. One set is kept per size.
   */
  release(): void {
    if (this.wasm) keepIdleState(this.wasm);
    this.failure = new Error('this mean was released');
  }

  private usable(): void {
    if (this.failure) throw this.failure;
  }

  private entry(x: Float32Array, weight: number, address: number): void {
    const k = this.xs.length;
    this.xs.push(x);
    this.weights.push(weight);
    this.lowBits.push(lowestBit(weight));
    if (this.wasm) {
      this.wasm.ptrs[k] = address;
      this.wasm.weights[k] = weight;
    }
  }

  private flush(): void {
    const n = this.xs.length;
    if (n === 0) return;
    try {
      const { xs, weights, wasm } = this;
      const spill = (i: number, e: number): void => this.spill(i, e);
      for (let t = 0; t < this.tileExp.length; t++) {
        const c0 = t * this.tile;
        const c1 = Math.min(this.dimension, c0 + this.tile);
        const cv = wasm ? c0 + ((c1 - c0) & ~7) : c0;
        let max: number;
        let mins: Float32Array;
        if (wasm) {
          max = wasm.batchMax[t];
          mins = wasm.tileMins(t);
        } else {
          mins = this.jsMins.fill(0);
          max = tileMaxJs(xs, weights, n, c0, c1, mins);
        }
        if (max === 0) continue; // only zeros: nothing to add
        if (!(max < Infinity)) throw new DomainError('INVALID_ARGUMENT', 'an update has a non-finite parameter');
        this.prepare(t, max, n);
        if (wasm && cv > c0) {
          const { layout } = wasm;
          if (this.lowBinTakesAll(t, mins, n)) {
            wasm.kernel.foldFast(layout.hi, layout.lo, layout.ptrs, layout.weights, n, c0, cv);
          } else {
            // in spans whose spill records (at most one per group of 4 and entry) fit the buffer
            for (let a = c0; a < cv; a += CHECKED_SPAN) {
              const b = Math.min(cv, a + CHECKED_SPAN);
              const records = wasm.kernel.fold(layout.hi, layout.lo, layout.ptrs, layout.weights, n, a, b, layout.spillIdx, layout.spillRem);
              for (let r = 0; r < records; r++) {
                const c = wasm.spillIdx[r];
                for (let j = 0; j < 4; j++) {
                  const e = wasm.spillRem[4 * r + j];
                  if (e !== 0) this.spill(c + j, e);
                }
              }
            }
          }
        }
        if (cv < c1) foldJs(this.hi, this.lo, xs, weights, n, cv, c1, spill);
        this.hiFill[t] += n;
        this.loFill[t] += n;
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      this.xs.length = 0;
      this.weights.length = 0;
      this.lowBits.length = 0;
      this.pending = 0;
      this.wasm?.batchMax.fill(0);
    }
  }

  /**
   * Whether every product n·x of the batch in tile t is a multiple of the low bin's ulp
   * 2^(G−36), so the low bin takes the remainders without one of its own. A normal float32 x
   * is a multiple of 2^(⌊log2|x|⌋−23), so n·x is one of lowbit(n)·2^(⌊log2|x|⌋−23); the least
   * nonzero |x| of each update in the tile (mins) bounds that for all of them.
   */
  private lowBinTakesAll(t: number, mins: Float32Array, count: number): boolean {
    const grid = 2 ** (this.tileExp[t] - A_OFFSET - 36);
    for (let k = 0; k < count; k++) {
      const least = mins[k];
      const lowBit = this.lowBits[k];
      if (least === 0 || 2 ** -149 * lowBit >= grid) continue;
      if (!(least >= 2 ** -126 && least >= (grid * 2 ** 23) / lowBit)) return false;
    }
    return true;
  }

  private spill(i: number, e: number): void {
    let sum = this.spills.get(i);
    if (!sum) this.spills.set(i, (sum = new ExactSum()));
    sum.add(e);
  }

  /**
   * Makes tile t ready to take `count` products of magnitude ≤ max: chooses its grid on first
   * use, or re-bases its bins (exactly) on a coarser grid when max or the bins' fill need it.
   */
  private prepare(t: number, max: number, count: number): void {
    const old = this.tileExp[t];
    if (old !== UNSET && max <= 2 ** old && this.hiFill[t] + count <= HI_FILL_MAX && this.loFill[t] + count <= LO_FILL_MAX) return;
    let e = Math.max(old, ceilLog2(max) + MARGIN);
    const hiFill = (exp: number): number => (old === UNSET ? 0 : Math.ceil(this.hiFill[t] * 2 ** (old - exp)) + 1);
    while (hiFill(e) + count > HI_FILL_MAX) e++;
    const c0 = t * this.tile;
    const c1 = Math.min(this.dimension, c0 + this.tile);
    const [chi, clo] = binOffsets(e);
    const { hi, lo } = this;
    if (old === UNSET) {
      hi.fill(chi, c0, c1);
      lo.fill(clo, c0, c1);
    } else {
      const [oldHi, oldLo] = binOffsets(old);
      for (let i = c0; i < c1; i++) {
        const h = hi[i] - oldHi;
        const l = lo[i] - oldLo;
        let bh = chi;
        let bl = clo;
        for (const v of [h, l]) {
          let s = bh + v;
          const r = v - (s - bh);
          bh = s;
          s = bl + r;
          const rest = r - (s - bl);
          bl = s;
          if (rest !== 0) this.spill(i, rest);
        }
        hi[i] = bh;
        lo[i] = bl;
      }
    }
    this.tileExp[t] = e;
    this.hiFill[t] = hiFill(e);
    this.loFill[t] = old === UNSET ? 0 : 2;
  }
}

/** not-finite, naming the first such parameter, when there is one. */
function notFinite(params: Float32Array): UpdateRejection | undefined {
  for (let i = 0; i < params.length; i++) {
    const x = params[i];
    if (x - x !== 0) return { code: 'not-finite', message: `params[${i}] is ${x} (not finite)` };
  }
  return undefined;
}

/** norm-exceeded when maxNorm is given and the norm (√ of squares()) is above it. */
function normRefusal(maxNorm: number | undefined, squares: () => number, reference: Float32Array | undefined): UpdateRejection | undefined {
  if (maxNorm === undefined) return undefined;
  const norm = Math.sqrt(squares());
  if (norm <= maxNorm) return undefined;
  const what = reference ? 'update (params - global)' : 'params';
  return { code: 'norm-exceeded', message: `${what} L2 norm ${norm.toPrecision(6)} exceeds ${maxNorm}` };
}

/** The constant offsets of a tile's bins when its largest product may be 2^e (G = e − 31). */
function binOffsets(e: number): [number, number] {
  const g = e - A_OFFSET;
  return [1.5 * 2 ** (g + 52), 1.5 * 2 ** (g + 16)];
}

/** The least integer e with 2^e ≥ v (v > 0, finite). */
function ceilLog2(v: number): number {
  let e = Math.ceil(Math.log2(v));
  while (2 ** e < v) e++;
  while (2 ** (e - 1) >= v) e--;
  return e;
}

/**
 * The weight as one or two parts whose products with any float32 are exact in float64:
 * integers below 2^29 as they are, others split (Veltkamp) into two halves of ≤ 26 bits.
 */
function splitWeight(w: number): number[] {
  if (Number.isInteger(w) && w < 2 ** 29) return [w];
  const c = 134217729 * w; // 2^27 + 1
  const high = c - (c - w);
  const low = w - high;
  return low === 0 ? [high] : [high, low];
}

/** A finite double as mant × 2^exp with an integer mant (negative for negative values). */
function decompose(v: number): { mant: bigint; exp: number } {
  f64[0] = v;
  const bits = u64[0];
  const biased = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & 0xfffffffffffffn;
  let exp = -1074;
  if (biased !== 0) {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  return { mant: bits >> 63n ? -mant : mant, exp };
}

/** The lowest set bit of a positive finite double, as a power of two. */
function lowestBit(w: number): number {
  let { mant, exp } = decompose(w);
  while ((mant & 1n) === 0n) {
    mant >>= 1n;
    exp++;
  }
  return 2 ** exp;
}

/** The memory of the WebAssembly path and views into it. */
class WasmState {
  readonly memory: WasmMemory;
  readonly kernel: ExactKernelExports;
  readonly layout: {
    ptrs: number;
    weights: number;
    mins: number;
    hi: number;
    lo: number;
    spillIdx: number;
    spillRem: number;
    partials: number;
    reference: number;
    slot0: number;
    stride: number;
  };
  /** Per tile and table entry: the least nonzero |x| of the entry's update in the tile. */
  readonly mins: Float32Array;
  /** Per tile: the largest |n·x| of the batch so far (NaN if a parameter was NaN). */
  readonly batchMax: Float64Array;
  /** Per tile: the largest |n·x| of the update measured last, until takeMaxima merges it into batchMax. */
  private readonly updateMax: Float64Array;
  /** The squared-distance partial sums, and the reference (global model) the distance is to. */
  private readonly partials: Float64Array;
  private readonly reference: Float32Array;
  /** The reference last copied in (undefined: zeros). */
  private referenceSource?: Float32Array;
  private readonly entries: number;
  readonly ptrs: Int32Array;
  readonly weights: Float64Array;
  readonly hi: Float64Array;
  readonly lo: Float64Array;
  readonly spillIdx: Int32Array;
  readonly spillRem: Float64Array;
  private readonly slots: Float32Array[] = [];
  private readonly slotsAsBytes: Uint8Array[] = [];

  constructor(
    readonly dimension: number,
    readonly tile: number,
  ) {
    const align = (n: number): number => Math.ceil(n / 64) * 64;
    const entries = 2 * BATCH;
    const records = (CHECKED_SPAN / 4) * entries;
    const ptrs = 64;
    const weights = align(ptrs + 4 * entries);
    const tiles = Math.ceil(dimension / tile);
    const mins = align(weights + 8 * entries);
    const hi = align(mins + 4 * entries * tiles);
    const lo = align(hi + 8 * dimension);
    const spillIdx = align(lo + 8 * dimension);
    const spillRem = align(spillIdx + 4 * records);
    const partials = align(spillRem + 32 * records);
    const reference = align(partials + 64);
    const slot0 = align(reference + 4 * dimension);
    const stride = align(4 * dimension);
    const end = slot0 + BATCH * stride;
    const pages = Math.ceil(end / 65536);
    if (pages > 65536 || !wasmApi) throw new RangeError(`an exact mean of ${dimension} coordinates exceeds the 4 GiB of wasm32 memory`);
    this.memory = new wasmApi.Memory({ initial: pages, maximum: pages });
    this.kernel = instantiateExactKernel(this.memory);
    this.layout = { ptrs, weights, mins, hi, lo, spillIdx, spillRem, partials, reference, slot0, stride };
    const buffer = this.memory.buffer;
    this.ptrs = new Int32Array(buffer, ptrs, entries);
    this.weights = new Float64Array(buffer, weights, entries);
    this.mins = new Float32Array(buffer, mins, entries * tiles);
    this.batchMax = new Float64Array(tiles);
    this.updateMax = new Float64Array(tiles);
    this.partials = new Float64Array(buffer, partials, 8);
    this.reference = new Float32Array(buffer, reference, dimension);
    this.entries = entries;
    this.hi = new Float64Array(buffer, hi, dimension);
    this.lo = new Float64Array(buffer, lo, dimension);
    this.spillIdx = new Int32Array(buffer, spillIdx, records);
    this.spillRem = new Float64Array(buffer, spillRem, 4 * records);
    for (let i = 0; i < BATCH; i++) {
      this.slots.push(new Float32Array(buffer, slot0 + i * stride, dimension));
      this.slotsAsBytes.push(new Uint8Array(buffer, slot0 + i * stride, 4 * dimension));
    }
  }

  slotBytes(i: number): Uint8Array {
    return this.slotsAsBytes[i];
  }

  /** Σ (x − reference)² over slot i, summed as squaredDistanceJs does (reference undefined: zeros). */
  squaredDistance(i: number, reference: Float32Array | undefined): number {
    if (reference !== this.referenceSource) {
      if (reference) this.reference.set(reference);
      else this.reference.fill(0);
      this.referenceSource = reference;
    }
    const { dimension, layout } = this;
    const vectorised = dimension & ~7;
    this.kernel.squaredDistance(this.slotAddress(i), layout.reference, vectorised, layout.partials);
    return squaredDistanceJs(this.slots[i], reference, vectorised, this.partials);
  }

  /** Merges the maxima of the update measured last into the batch's. */
  takeMaxima(): void {
    const { batchMax, updateMax } = this;
    for (let t = 0; t < batchMax.length; t++) batchMax[t] = Math.max(batchMax[t], updateMax[t]);
  }

  slot(i: number): Float32Array {
    return this.slots[i];
  }

  /** The minima of tile t, by table entry. */
  tileMins(t: number): Float32Array {
    return this.mins.subarray(t * this.entries, (t + 1) * this.entries);
  }

  /**
   * Folds table entries [first, first + count) (one update, just copied, still in cache) into
   * each tile's maximum (for takeMaxima; also returned) and minima, so the fold needs no pass
   * of its own for them.
   */
  measure(first: number, count: number, xs: Float32Array[], weights: number[]): Float64Array {
    const { dimension, layout, entries, tile } = this;
    for (let t = 0; t < this.batchMax.length; t++) {
      const c0 = t * tile;
      const c1 = Math.min(dimension, c0 + tile);
      const cv = c0 + ((c1 - c0) & ~7);
      const at = t * entries + first;
      let max = 0;
      if (cv > c0) max = this.kernel.tileMax(layout.ptrs + 4 * first, layout.weights + 8 * first, count, c0, cv, layout.mins + 4 * at);
      else this.mins.fill(0, at, at + count);
      if (cv < c1) {
        const tail = tileMaxJs(xs.slice(first, first + count), weights.slice(first, first + count), count, cv, c1, this.mins.subarray(at, at + count));
        max = Math.max(max, tail);
      }
      this.updateMax[t] = max;
    }
    return this.updateMax;
  }

  /** The reference memory may be stale now (the next user is another mean): copy it in again. */
  forgetReference(): void {
    this.referenceSource = undefined;
    this.reference.fill(0);
  }

  slotAddress(i: number): number {
    return this.layout.slot0 + i * this.layout.stride;
  }
}

/** One released working memory per (dimension, tile): a worker aggregates rounds of one model after another. */
const idleStates = new Map<string, WasmState>();

function keepIdleState(state: WasmState): void {
  idleStates.set(`${state.dimension}/${state.tile}`, state);
}

/** A released working memory of this size, cleared as a new one would be; undefined when none is kept. */
function takeIdleState(dimension: number, tile: number): WasmState | undefined {
  const key = `${dimension}/${tile}`;
  const state = idleStates.get(key);
  if (!state) return undefined;
  idleStates.delete(key);
  // The bins and per-tile minima start at zero, as in fresh memory; update slots and the
  // spill area are written before they are read.
  state.hi.fill(0);
  state.lo.fill(0);
  state.mins.fill(0);
  state.batchMax.fill(0);
  state.forgetReference();
  return state;
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** An exact sum of doubles, m × 2^e with m a BigInt. */
export class ExactSum {
  private m = 0n;
  private e = 0;

  /** Adds a finite double exactly. */
  add(v: number): void {
    if (v === 0) return;
    if (!Number.isFinite(v)) throw new RangeError(`cannot add ${v} exactly`);
    const { mant, exp } = decompose(v);
    if (this.m === 0n) {
      this.m = mant;
      this.e = exp;
      return;
    }
    if (exp < this.e) {
      this.m <<= BigInt(this.e - exp);
      this.e = exp;
    }
    this.m += mant << BigInt(exp - this.e);
  }

  copy(): ExactSum {
    const c = new ExactSum();
    c.m = this.m;
    c.e = this.e;
    return c;
  }

  /** The sum rounded once to the nearest double (ties to even). */
  toNumber(): number {
    if (this.m === 0n) return 0;
    const negative = this.m < 0n;
    let a = negative ? -this.m : this.m;
    let exp = this.e;
    const bits = a.toString(2).length;
    if (bits > 64) {
      // keep 64 bits and a sticky bit: Number() then rounds as the full value would
      const shift = BigInt(bits - 64);
      const sticky = (a & ((1n << shift) - 1n)) !== 0n ? 1n : 0n;
      a = (a >> shift) | sticky;
      exp += bits - 64;
    }
    let v = Number(a);
    while (exp > 1000) {
      v *= 2 ** 1000;
      exp -= 1000;
    }
    while (exp < -1000) {
      v *= 2 ** -1000;
      exp += 1000;
    }
    v *= 2 ** exp;
    return negative ? -v : v;
  }
}
