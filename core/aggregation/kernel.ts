// The weighted-sum kernel behind streaming FedAvg: acc[i] += w_k * x_k[i], folded in
// float64 over float32 updates, as a small hand-assembled WebAssembly module with
// 128-bit SIMD, plus the plain-JS reference it must equal bit for bit.
//
// Why bit-identical: each coordinate sees the same IEEE-754 double operations in the
// same order in both paths — promote x to f64, multiply by w, add to the running sum,
// update by update in arrival order — and WebAssembly has no fused multiply-add in its
// base SIMD set. Lanes, output blocking, update grouping and thread splits change only
// which coordinates run together, never the order of operations on one coordinate.
// So the same updates in the same order give the same bits on any path.
//
// Why float64 accumulation: a float32 running sum over hundreds of updates with
// example weights up to ~1e6 loses several digits; in float64 each product n·x is exact
// (n < 2^29) and each addition rounds at 2^-53. The price is a convert per pair of floats
// and half-width lanes: with data in cache one core folds ~32 GB/s of float32 input
// (measured on the project's 2-core Zen 5 VM, Node 20 / V8 11.3), about what one core
// streams from DRAM, so two cores stay close to memory speed.
//
// Memory layout of an arena (byte offsets, all 64-byte aligned, see `arenaLayout`):
//   [table: update pointers i32 × slots][weights f64 × slots][acc f64 × D][out f32 × D][slot 0 f32 × D]…
// The module imports its memory, so the same bytes run over a private memory here or a
// shared one across worker threads (bench/support/parallel-weighted-sum.ts, a benchmark's 2-thread runner).

// The project's lib setting (ES2022, no DOM) carries no WebAssembly types, and @types/node 20
// declares none: the little used here is typed locally instead of declaring globals that could
// clash with a later lib change.
/** A compiled WebAssembly module (structured-cloneable to worker threads). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
/** A WebAssembly linear memory; `buffer` is a SharedArrayBuffer when it was created shared. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
/** The runtime's WebAssembly object, or undefined where there is none. */
export const wasmApi: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * Output coordinates folded per block (count): 32,768 × 8 B = 256 KiB of accumulator, which
 * stays in L2 while every update of the pass streams by (measured best on a 1 MiB-L2 core;
 * 8,192 cost ~15% and 1,024 ~45% there).
 */
export const KERNEL_BLOCK = 32768;

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function name(text: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(text));
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

// Instruction helpers (only what the two functions need).
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  select: [0x1b],
  i32Load: (offset: number) => [0x28, ...memarg(2, offset)],
  f32Load: (offset: number) => [0x2a, ...memarg(2, offset)],
  f64Load: (offset: number) => [0x2b, ...memarg(3, offset)],
  f32Store: (offset: number) => [0x38, ...memarg(2, offset)],
  f64Store: (offset: number) => [0x39, ...memarg(3, offset)],
  i32GeU: [0x4f],
  i32GtU: [0x4b],
  i32LtU: [0x49],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32And: [0x71],
  i32Shl: [0x74],
  f64Add: [0xa0],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f32DemoteF64: [0xb6],
  f64PromoteF32: [0xbb],
  memoryFill: [0xfc, ...uleb(11), 0x00],
  v128Load: (offset: number) => [...simd(0x00), ...memarg(4, offset)],
  v128Store: (offset: number) => [...simd(0x0b), ...memarg(4, offset)],
  v128Load64Zero: (offset: number) => [...simd(0x5d), ...memarg(3, offset)],
  v128Store64Lane0: (offset: number) => [...simd(0x5b), ...memarg(3, offset), 0],
  f64x2Splat: simd(0x14),
  f64x2PromoteLow: simd(0x5f),
  f32x4DemoteZero: simd(0x5e),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
  f64x2Div: simd(0xf3),
};

/** Pairs of coordinates handled per inner-loop iteration (unroll factor). */
const UNROLL = 4;

// fold(acc, ptrs, weights, count, lo, hi, block, init): for every coordinate i in [lo, hi),
// acc[i] (+)= Σ_k weights[k] · x_k[i] over k = 0..count-1 in order, where x_k starts at the
// byte address ptrs[k]; acc, ptrs and weights are byte addresses; init zeroes acc first.
function foldBody(): number[] {
  // params
  const acc = 0, ptrs = 1, wts = 2, count = 3, lo = 4, hi = 5, block = 6, init = 7;
  // locals
  const c = 8, e = 9, m = 10, k = 11, ia = 12, iaEnd = 13, ix = 14, p = [15, 16, 17, 18], j = 19, t = 20;
  const w = [21, 22, 23, 24];
  const step = 2 * UNROLL; // coordinates per inner iteration

  // Inner vector loop over [c, m) for `g` updates held in p[0..g) / w[0..g).
  const vectorLoop = (g: number): number[] => {
    const body: number[] = [];
    for (let u = 0; u < UNROLL; u++) {
      body.push(...get(ia), ...get(ia), ...op.v128Load(16 * u));
      for (let q = 0; q < g; q++) {
        body.push(...get(p[q]), ...get(ix), ...op.i32Add, ...op.v128Load64Zero(8 * u), ...op.f64x2PromoteLow);
        body.push(...get(w[q]), ...op.f64x2Mul, ...op.f64x2Add);
      }
      body.push(...op.v128Store(16 * u));
    }
    return [
      // ia = acc + 8c; iaEnd = acc + 8m; ix = 4c
      ...get(acc), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(ia),
      ...get(acc), ...get(m), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(iaEnd),
      ...get(c), ...i32c(2), ...op.i32Shl, ...set(ix),
      ...op.block,
      ...get(ia), ...get(iaEnd), ...op.i32GeU, ...op.brIf(0),
      ...op.loop,
      ...body,
      ...get(ia), ...i32c(16 * UNROLL), ...op.i32Add, ...set(ia),
      ...get(ix), ...i32c(8 * UNROLL), ...op.i32Add, ...set(ix),
      ...get(ia), ...get(iaEnd), ...op.i32LtU, ...op.brIf(0),
      ...op.end,
      ...op.end,
    ];
  };

  // Load p[q] = ptrs[k + q], w[q] = splat(weights[k + q]) for q < g.
  const loadGroup = (g: number): number[] => {
    const out: number[] = [];
    for (let q = 0; q < g; q++) {
      out.push(...get(ptrs), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.i32Load(4 * q), ...set(p[q]));
      out.push(...get(wts), ...get(k), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(8 * q), ...op.f64x2Splat, ...set(w[q]));
    }
    return out;
  };

  return [
    ...get(lo), ...set(c),
    ...op.block, // $done
    ...op.loop, // $blocks
    ...get(c), ...get(hi), ...op.i32GeU, ...op.brIf(1),
    // e = min(c + block, hi)
    ...get(c), ...get(block), ...op.i32Add, ...set(t),
    ...get(hi), ...get(t), ...get(t), ...get(hi), ...op.i32GtU, ...op.select, ...set(e),
    // m = c + ((e - c) & -step)
    ...get(c), ...get(e), ...get(c), ...op.i32Sub, ...i32c(-step), ...op.i32And, ...op.i32Add, ...set(m),
    // if init: zero acc[c..e) while it is about to be used (stays in cache)
    ...get(init), ...op.if,
    ...get(acc), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...i32c(0),
    ...get(e), ...get(c), ...op.i32Sub, ...i32c(3), ...op.i32Shl, ...op.memoryFill,
    ...op.end,
    ...i32c(0), ...set(k),
    // groups of four updates: one accumulator load/store per four products
    ...op.block, ...op.loop,
    ...get(k), ...i32c(4), ...op.i32Add, ...get(count), ...op.i32GtU, ...op.brIf(1),
    ...loadGroup(4),
    ...vectorLoop(4),
    ...get(k), ...i32c(4), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    // the remaining updates one by one
    ...op.block, ...op.loop,
    ...get(k), ...get(count), ...op.i32GeU, ...op.brIf(1),
    ...loadGroup(1),
    ...vectorLoop(1),
    ...get(k), ...i32c(1), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    // scalar tail [m, e): every update, in order, per coordinate
    ...get(m), ...set(j),
    ...op.block, ...op.loop,
    ...get(j), ...get(e), ...op.i32GeU, ...op.brIf(1),
    ...i32c(0), ...set(k),
    ...op.block, ...op.loop,
    ...get(k), ...get(count), ...op.i32GeU, ...op.brIf(1),
    // address of acc[j], kept on the stack for the store
    ...get(acc), ...get(j), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(t),
    ...get(t),
    ...get(t), ...op.f64Load(0),
    ...get(ptrs), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.i32Load(0),
    ...get(j), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.f32Load(0), ...op.f64PromoteF32,
    ...get(wts), ...get(k), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(0),
    ...op.f64Mul, ...op.f64Add, ...op.f64Store(0),
    ...get(k), ...i32c(1), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    ...get(j), ...i32c(1), ...op.i32Add, ...set(j),
    ...op.br(0),
    ...op.end, ...op.end,
    ...get(e), ...set(c),
    ...op.br(0),
    ...op.end, // loop $blocks
    ...op.end, // block $done
  ];
}

// finish(acc, out, lo, hi, total): out[i] = f32(acc[i] / total) for i in [lo, hi).
function finishBody(): number[] {
  const acc = 0, out = 1, lo = 2, hi = 3, total = 4;
  const i = 5, m = 6, tv = 7;
  return [
    ...get(total), ...op.f64x2Splat, ...set(tv),
    ...get(lo), ...get(hi), ...get(lo), ...op.i32Sub, ...i32c(-2), ...op.i32And, ...op.i32Add, ...set(m),
    ...get(lo), ...set(i),
    ...op.block, ...op.loop,
    ...get(i), ...get(m), ...op.i32GeU, ...op.brIf(1),
    ...get(out), ...get(i), ...i32c(2), ...op.i32Shl, ...op.i32Add,
    ...get(acc), ...get(i), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.v128Load(0),
    ...get(tv), ...op.f64x2Div, ...op.f32x4DemoteZero, ...op.v128Store64Lane0(0),
    ...get(i), ...i32c(2), ...op.i32Add, ...set(i),
    ...op.br(0),
    ...op.end, ...op.end,
    ...op.block, ...op.loop,
    ...get(i), ...get(hi), ...op.i32GeU, ...op.brIf(1),
    ...get(out), ...get(i), ...i32c(2), ...op.i32Shl, ...op.i32Add,
    ...get(acc), ...get(i), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(0),
    ...get(total), ...op.f64Div, ...op.f32DemoteF64, ...op.f32Store(0),
    ...get(i), ...i32c(1), ...op.i32Add, ...set(i),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

function codeEntry(locals: Array<[number, number]>, body: number[]): number[] {
  const fn = [...vec(locals.map(([n, type]) => [...uleb(n), type])), ...body, ...op.end];
  return [...uleb(fn.length), ...fn];
}

/**
 * The assembler pieces above, for the project's other hand-assembled kernels (the exact mean in
 * exact-kernel.ts): LEB128 encoders, sections, and the instruction helpers.
 */
export const asm = { uleb, sleb, name, vec, section, codeEntry, get, set, i32c, memarg, simd, op, I32, F64, V128 } as const;

/** The kernel module's bytes; `shared` makes it import a shared memory (for worker threads). */
export function weightedSumModuleBytes(shared: boolean): Uint8Array {
  const foldType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])];
  const finishType = [0x60, ...vec([[I32], [I32], [I32], [I32], [F64]]), ...vec([])];
  // limits: min 1 page, max 65,536 pages (4 GiB); flag 3 = shared with max, 1 = max only
  const memoryType = [0x02, shared ? 0x03 : 0x01, ...uleb(1), ...uleb(65536)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([foldType, finishType])),
    ...section(2, vec([[...name('env'), ...name('memory'), ...memoryType]])),
    ...section(3, vec([uleb(0), uleb(1)])),
    ...section(7, vec([
      [...name('fold'), 0x00, ...uleb(0)],
      [...name('finish'), 0x00, ...uleb(1)],
    ])),
    ...section(10, vec([
      codeEntry([[13, I32], [4, V128]], foldBody()),
      codeEntry([[2, I32], [1, V128]], finishBody()),
    ])),
  ];
  return Uint8Array.from(bytes);
}

export interface KernelExports {
  fold(acc: number, ptrs: number, weights: number, count: number, lo: number, hi: number, block: number, init: number): void;
  finish(acc: number, out: number, lo: number, hi: number, total: number): void;
}

const compiled: { private?: WasmModule | null; shared?: WasmModule | null } = {};

/** The compiled kernel module, or undefined where this runtime lacks WebAssembly SIMD (or shared memory). */
export function kernelModule(shared = false): WasmModule | undefined {
  const key = shared ? 'shared' : 'private';
  if (compiled[key] === undefined) {
    try {
      const bytes = weightedSumModuleBytes(shared);
      compiled[key] = wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
    } catch {
      compiled[key] = null;
    }
  }
  return compiled[key] ?? undefined;
}

/** Byte offsets of an arena holding `slots` float32 updates of `dimension` coordinates. */
export interface ArenaLayout {
  dimension: number;
  slots: number;
  table: number;
  weights: number;
  acc: number;
  out: number;
  slot0: number;
  /** Bytes between consecutive slots. */
  slotStride: number;
  /** Total bytes, rounded up to whole 64 KiB wasm pages. */
  bytes: number;
  pages: number;
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;
const WASM_PAGE = 65536;
const MAX_BYTES = 65536 * WASM_PAGE;

/** Lays out an arena for `slots` updates of `dimension` float32 coordinates; throws past wasm32's 4 GiB. */
export function arenaLayout(dimension: number, slots: number): ArenaLayout {
  if (!Number.isSafeInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
  if (!Number.isSafeInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`);
  const table = 64;
  const weights = align64(table + 4 * slots);
  const acc = align64(weights + 8 * slots);
  const out = align64(acc + 8 * dimension);
  const slot0 = align64(out + 4 * dimension);
  const slotStride = align64(4 * dimension);
  const end = slot0 + slots * slotStride;
  const pages = Math.ceil(end / WASM_PAGE);
  if (pages * WASM_PAGE > MAX_BYTES) throw new RangeError(`arena of ${end} bytes exceeds the 4 GiB of wasm32 memory`);
  return { dimension, slots, table, weights, acc, out, slot0, slotStride, bytes: pages * WASM_PAGE, pages };
}

/**
 * Float32 updates and a float64 accumulator in one WebAssembly memory, folded by the SIMD
 * kernel. Write an update into `slot(i)` (zero-copy: decode straight into it), then `fold`.
 */
export class WeightedSumArena {
  readonly layout: ArenaLayout;
  readonly memory: WasmMemory;
  /** Running weighted sums (f64 per coordinate). */
  readonly accumulator: Float64Array;
  /** Where `finish` writes the mean (f32 per coordinate). */
  readonly output: Float32Array;
  private readonly kernel: KernelExports;
  private readonly ptrs: Int32Array;
  private readonly weightTable: Float64Array;
  private readonly slots: Float32Array[] = [];

  /** Throws when WebAssembly SIMD is unavailable; check `kernelModule()` first. */
  constructor(dimension: number, slots: number, memory?: WasmMemory) {
    this.layout = arenaLayout(dimension, slots);
    const shared = memory !== undefined && memory.buffer instanceof SharedArrayBuffer;
    const module = kernelModule(shared);
    if (!module || !wasmApi) throw new Error('WebAssembly SIMD is not available in this runtime');
    this.memory = memory ?? new wasmApi.Memory({ initial: this.layout.pages, maximum: this.layout.pages });
    if (this.memory.buffer.byteLength < this.layout.bytes) {
      throw new RangeError(`memory holds ${this.memory.buffer.byteLength} bytes, the arena needs ${this.layout.bytes}`);
    }
    this.kernel = new wasmApi.Instance(module, { env: { memory: this.memory } }).exports as KernelExports;
    const buffer = this.memory.buffer;
    const { table, weights, acc, out, slot0, slotStride } = this.layout;
    this.ptrs = new Int32Array(buffer, table, slots);
    this.weightTable = new Float64Array(buffer, weights, slots);
    this.accumulator = new Float64Array(buffer, acc, dimension);
    this.output = new Float32Array(buffer, out, dimension);
    for (let i = 0; i < slots; i++) this.slots.push(new Float32Array(buffer, slot0 + i * slotStride, dimension));
  }

  /** The float32 view of slot `i`, inside the kernel's memory. */
  slot(i: number): Float32Array {
    const view = this.slots[i];
    if (!view) throw new RangeError(`slot ${i} out of range 0..${this.slots.length - 1}`);
    return view;
  }

  /** Byte address of slot `i` in the kernel's memory. */
  slotAddress(i: number): number {
    return this.layout.slot0 + i * this.layout.slotStride;
  }

  /**
   * Writes the fold table: update k of the next fold is slot `order[k]` with weight `weights[k]`
   * (dimensionless, e.g. training examples). Separate from `fold` so other threads sharing the
   * memory can fold their coordinate ranges with the same table.
   */
  setTable(order: ArrayLike<number>, weights: ArrayLike<number>): number {
    if (order.length !== weights.length || order.length > this.layout.slots) {
      throw new RangeError(`table of ${order.length} slots and ${weights.length} weights for ${this.layout.slots} slots`);
    }
    for (let k = 0; k < order.length; k++) {
      this.ptrs[k] = this.slotAddress(order[k]);
      this.weightTable[k] = weights[k];
    }
    return order.length;
  }

  /** Folds the first `count` table entries into acc[lo, hi) (coordinates); `init` starts the sums from zero. */
  foldRange(count: number, lo: number, hi: number, init: boolean, block = KERNEL_BLOCK): void {
    const { table, weights, acc } = this.layout;
    this.kernel.fold(acc, table, weights, count, lo, hi, block, init ? 1 : 0);
  }

  /** acc += Σ weights[k] · slot(order[k]) over all coordinates; `init` starts the sums from zero. */
  fold(order: ArrayLike<number>, weights: ArrayLike<number>, init: boolean): void {
    const count = this.setTable(order, weights);
    this.foldRange(count, 0, this.layout.dimension, init);
  }

  /** output[lo, hi) = f32(acc / total) (total in the weights' unit, e.g. examples); returns `output`. */
  finishRange(total: number, lo: number, hi: number): void {
    this.kernel.finish(this.layout.acc, this.layout.out, lo, hi, total);
  }

  /** output = f32(acc / total) over all coordinates; returns the `output` view (copy it to keep it). */
  finish(total: number): Float32Array {
    this.finishRange(total, 0, this.layout.dimension);
    return this.output;
  }
}

/** Reference fold: acc[i] += weight · params[i] (float64), the exact arithmetic the kernel performs. */
export function weightedSumJs(acc: Float64Array, params: Float32Array, weight: number): void {
  const n = acc.length;
  for (let i = 0; i < n; i++) acc[i] += weight * params[i];
}

/** Reference finish: out[i] = f32(acc[i] / total), total in the weights' unit. */
export function finishJs(acc: Float64Array, total: number, out = new Float32Array(acc.length)): Float32Array {
  const n = acc.length;
  for (let i = 0; i < n; i++) out[i] = acc[i] / total;
  return out;
}
