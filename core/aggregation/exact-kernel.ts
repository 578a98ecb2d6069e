// The exact mean's inner loops (see exact-mean.ts for the representation): a hand-assembled
// WebAssembly SIMD module with three functions, and the plain-JS code that does the same
// arithmetic where WebAssembly SIMD is missing (and for the few coordinates past the last
// multiple of eight).
//
//   tileMax(ptrs, weights, count, lo, hi, mins) -> f64
//     max over k < count of weights[k] · max_{lo <= i < hi} |x_k[i]|, x_k the float32 vector at
//     byte address ptrs[k]; NaN if any x is NaN. Writes mins[k] = the least nonzero |x_k[i]|
//     (float32; 0 when all are zero). (hi - lo) must be a multiple of 4.
//   foldFast(hiBins, loBins, ptrs, weights, count, lo, hi)
//     fold's first step, then loBins[i] += r: exact (e = 0) when every product is a multiple of
//     the low bin's ulp, which the caller checks from mins. (hi - lo) a multiple of 8.
//   fold(hiBins, loBins, ptrs, weights, count, lo, hi, spillIdx, spillRem) -> i32
//     for i in [lo, hi) (a multiple of 4 long) and every k < count, in order:
//       p = weights[k] · x_k[i]                      (exact: see the weight split)
//       s = hiBins[i] + p; r = p - (s - hiBins[i]); hiBins[i] = s       (Fast2Sum: p = Δhi + r)
//       s = loBins[i] + r; e = r - (s - loBins[i]); loBins[i] = s       (r = Δlo + e)
//     and when some e of a group of four coordinates is not zero, appends a spill record: the
//     group's first coordinate at spillIdx (i32) and its four e at spillRem (f64 × 4). Returns
//     the number of records. Each step is an error-free transformation, so
//     p = Δhi + Δlo + e exactly; the caller keeps the bins in the range where that holds.
//
// No fused multiply-add is involved and every operation is IEEE-754 double arithmetic, so the
// JS code gives the same bits as the module.
import { asm, kernelModule, wasmApi, type WasmMemory, type WasmModule } from './kernel';

const { vec, section, codeEntry, get, set, i32c, simd, op, name, uleb, memarg, I32, F64, V128 } = asm;

const x = {
  f64Max: [0xa5],
  f32Max: [0x97],
  f32x4Abs: simd(0xe0),
  f32x4Max: simd(0xe9),
  f32x4Lane: (lane: number) => [...simd(0x1f), lane],
  i32x4Splat: simd(0x11),
  f64x2Sub: simd(0xf1),
  f64x2Ne: simd(0x48),
  v128Or: simd(0x50),
  v128AnyTrue: simd(0x53),
  i32Store: (offset: number) => [0x36, ...memarg(2, offset)],
  i32x4Sub: simd(0xb1),
  i32x4MinU: simd(0xb7),
  i32x4MaxU: simd(0xb9),
  v128And: simd(0x4e),
  i32x4Lane0: [...simd(0x1b), 0],
  /** i8x16.shuffle of a vector with itself, picking 32-bit lanes. */
  shuffle32: (lanes: number[]) => [...simd(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])],
};

function tileMaxBody(): number[] {
  const ptrs = 0, wts = 1, count = 2, lo = 3, hi = 4, mins = 5;
  const k = 6, a = 7, end = 8, end4 = 9, m = 10, y = 11, ones = 12;
  // four pairs of accumulators (max of |x| bits, min of |x| bits − 1), so no chain limits the loop
  const v = [13, 14, 15, 16], mn = [17, 18, 19, 20], absMask = 21;
  // The bits of |x| (sign cleared) order as the values do, NaNs above ∞: an unsigned integer
  // maximum is the float maximum (NaN when there is one) in one instruction, where f32x4.max
  // costs several for its NaN and ±0 rules.
  const absMaxMin = (offset: number, j: number): number[] => [
    ...get(a), ...op.v128Load(offset), ...get(absMask), ...x.v128And, ...set(y),
    ...get(v[j]), ...get(y), ...x.i32x4MaxU, ...set(v[j]),
    // |x| bits − 1 as unsigned: zero wraps to the largest, so the minimum skips zeros
    ...get(mn[j]), ...get(y), ...get(ones), ...x.i32x4Sub, ...x.i32x4MinU, ...set(mn[j]),
  ];
  const init: number[] = [];
  for (let j = 0; j < 4; j++) init.push(...i32c(0), ...x.i32x4Splat, ...set(v[j]), ...i32c(-1), ...x.i32x4Splat, ...set(mn[j]));
  const combine: number[] = [];
  for (let j = 1; j < 4; j++) {
    combine.push(...get(v[0]), ...get(v[j]), ...x.i32x4MaxU, ...set(v[0]), ...get(mn[0]), ...get(mn[j]), ...x.i32x4MinU, ...set(mn[0]));
  }
  return [
    ...i32c(1), ...x.i32x4Splat, ...set(ones),
    ...i32c(0x7fffffff), ...x.i32x4Splat, ...set(absMask),
    ...i32c(0), ...set(k),
    ...op.block, ...op.loop,
    ...get(k), ...get(count), ...op.i32GeU, ...op.brIf(1),
    // a = ptrs[k] + 4·lo, end = ptrs[k] + 4·hi
    ...get(ptrs), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.i32Load(0), ...set(a),
    ...get(a), ...get(hi), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...set(end),
    ...get(a), ...get(lo), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...set(a),
    // end4 = a + 64·⌊(end − a) / 64⌋
    ...get(a), ...get(end), ...get(a), ...op.i32Sub, ...i32c(-64), ...op.i32And, ...op.i32Add, ...set(end4),
    ...init,
    ...op.block, ...op.loop,
    ...get(a), ...get(end4), ...op.i32GeU, ...op.brIf(1),
    ...absMaxMin(0, 0), ...absMaxMin(16, 1), ...absMaxMin(32, 2), ...absMaxMin(48, 3),
    ...get(a), ...i32c(64), ...op.i32Add, ...set(a),
    ...op.br(0),
    ...op.end, ...op.end,
    ...op.block, ...op.loop,
    ...get(a), ...get(end), ...op.i32GeU, ...op.brIf(1),
    ...absMaxMin(0, 0),
    ...get(a), ...i32c(16), ...op.i32Add, ...set(a),
    ...op.br(0),
    ...op.end, ...op.end,
    ...combine,
    // mins[k] = (min over lanes of mn) + 1: the bits of the least nonzero |x|, or 0 if none
    ...get(mn[0]), ...get(mn[0]), ...get(mn[0]), ...x.shuffle32([2, 3, 0, 1]), ...x.i32x4MinU, ...set(mn[0]),
    ...get(mn[0]), ...get(mn[0]), ...get(mn[0]), ...x.shuffle32([1, 0, 3, 2]), ...x.i32x4MinU, ...set(mn[0]),
    ...get(mins), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add,
    ...get(mn[0]), ...x.i32x4Lane0, ...i32c(1), ...op.i32Add, ...x.i32Store(0),
    // m = max(m, f64(max lane of v, as a float) · weights[k])
    ...get(v[0]), ...get(v[0]), ...get(v[0]), ...x.shuffle32([2, 3, 0, 1]), ...x.i32x4MaxU, ...set(v[0]),
    ...get(v[0]), ...get(v[0]), ...get(v[0]), ...x.shuffle32([1, 0, 3, 2]), ...x.i32x4MaxU, ...set(v[0]),
    ...get(m),
    ...get(v[0]), ...x.f32x4Lane(0),
    ...op.f64PromoteF32,
    ...get(wts), ...get(k), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(0),
    ...op.f64Mul, ...x.f64Max, ...set(m),
    ...get(k), ...i32c(1), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    ...get(m),
  ];
}

/**
 * foldFast: fold without the low remainder, lo += r. Exact when every product is a multiple
 * of the low bin's ulp (the caller checks that from tileMax's minima). Groups of 8 coordinates.
 */
function foldFastBody(): number[] {
  const hiB = 0, loB = 1, ptrs = 2, wts = 3, count = 4, lo = 5, hi = 6;
  const c = 7, k = 8, p = 9, ih = 10, il = 11, ix = 12;
  const h = [13, 14, 15, 16], l = [17, 18, 19, 20], w = 21, s = 22, r = 23;
  const lanes: number[] = [];
  for (let j = 0; j < 4; j++) {
    lanes.push(
      ...get(p), ...op.v128Load64Zero(8 * j), ...op.f64x2PromoteLow, ...get(w), ...op.f64x2Mul, ...set(r),
      ...get(h[j]), ...get(r), ...op.f64x2Add, ...set(s),
      ...get(l[j]), ...get(r), ...get(s), ...get(h[j]), ...x.f64x2Sub, ...x.f64x2Sub, ...op.f64x2Add, ...set(l[j]),
      ...get(s), ...set(h[j]),
    );
  }
  const loadState: number[] = [];
  const storeState: number[] = [];
  for (let j = 0; j < 4; j++) {
    loadState.push(...get(ih), ...op.v128Load(16 * j), ...set(h[j]), ...get(il), ...op.v128Load(16 * j), ...set(l[j]));
    storeState.push(...get(ih), ...get(h[j]), ...op.v128Store(16 * j), ...get(il), ...get(l[j]), ...op.v128Store(16 * j));
  }
  return [
    ...get(lo), ...set(c),
    ...op.block, ...op.loop,
    ...get(c), ...get(hi), ...op.i32GeU, ...op.brIf(1),
    ...get(hiB), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(ih),
    ...get(loB), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(il),
    ...get(c), ...i32c(2), ...op.i32Shl, ...set(ix),
    ...loadState,
    ...i32c(0), ...set(k),
    ...op.block, ...op.loop,
    ...get(k), ...get(count), ...op.i32GeU, ...op.brIf(1),
    ...get(ptrs), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.i32Load(0), ...get(ix), ...op.i32Add, ...set(p),
    ...get(wts), ...get(k), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(0), ...op.f64x2Splat, ...set(w),
    ...lanes,
    ...get(k), ...i32c(1), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    ...storeState,
    ...get(c), ...i32c(8), ...op.i32Add, ...set(c),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

function foldBody(): number[] {
  const hiB = 0, loB = 1, ptrs = 2, wts = 3, count = 4, lo = 5, hi = 6, spIdx = 7, spRem = 8;
  // i32 locals
  const c = 9, k = 10, n = 11, p = 12, ih = 13, il = 14, ix = 15;
  // v128 locals (zero is never written: the zero vector)
  const h0 = 16, h1 = 17, l0 = 18, l1 = 19, w = 20, s = 21, r0 = 22, r1 = 23, zero = 24;

  // r = w · promote(x at p + offset); then the two error-free steps on (h, l); leaves e in r.
  const lane = (offset: number, h: number, l: number, r: number): number[] => [
    ...get(p), ...op.v128Load64Zero(offset), ...op.f64x2PromoteLow, ...get(w), ...op.f64x2Mul, ...set(r),
    // s = h + r; r = r - (s - h); h = s
    ...get(h), ...get(r), ...op.f64x2Add, ...set(s),
    ...get(r), ...get(s), ...get(h), ...x.f64x2Sub, ...x.f64x2Sub, ...set(r),
    ...get(s), ...set(h),
    // s = l + r; r = r - (s - l); l = s
    ...get(l), ...get(r), ...op.f64x2Add, ...set(s),
    ...get(r), ...get(s), ...get(l), ...x.f64x2Sub, ...x.f64x2Sub, ...set(r),
    ...get(s), ...set(l),
  ];

  return [
    ...get(lo), ...set(c),
    ...op.block, ...op.loop,
    ...get(c), ...get(hi), ...op.i32GeU, ...op.brIf(1),
    ...get(hiB), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(ih),
    ...get(loB), ...get(c), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...set(il),
    ...get(c), ...i32c(2), ...op.i32Shl, ...set(ix),
    ...get(ih), ...op.v128Load(0), ...set(h0),
    ...get(ih), ...op.v128Load(16), ...set(h1),
    ...get(il), ...op.v128Load(0), ...set(l0),
    ...get(il), ...op.v128Load(16), ...set(l1),
    ...i32c(0), ...set(k),
    ...op.block, ...op.loop,
    ...get(k), ...get(count), ...op.i32GeU, ...op.brIf(1),
    ...get(ptrs), ...get(k), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...op.i32Load(0), ...get(ix), ...op.i32Add, ...set(p),
    ...get(wts), ...get(k), ...i32c(3), ...op.i32Shl, ...op.i32Add, ...op.f64Load(0), ...op.f64x2Splat, ...set(w),
    ...lane(0, h0, l0, r0),
    ...lane(8, h1, l1, r1),
    // a remainder below the low bin: record the group
    ...get(r0), ...get(zero), ...x.f64x2Ne, ...get(r1), ...get(zero), ...x.f64x2Ne, ...x.v128Or, ...x.v128AnyTrue,
    ...op.if,
    ...get(spIdx), ...get(n), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...get(c), ...x.i32Store(0),
    ...get(spRem), ...get(n), ...i32c(5), ...op.i32Shl, ...op.i32Add, ...set(p),
    ...get(p), ...get(r0), ...op.v128Store(0),
    ...get(p), ...get(r1), ...op.v128Store(16),
    ...get(n), ...i32c(1), ...op.i32Add, ...set(n),
    ...op.end,
    ...get(k), ...i32c(1), ...op.i32Add, ...set(k),
    ...op.br(0),
    ...op.end, ...op.end,
    ...get(ih), ...get(h0), ...op.v128Store(0),
    ...get(ih), ...get(h1), ...op.v128Store(16),
    ...get(il), ...get(l0), ...op.v128Store(0),
    ...get(il), ...get(l1), ...op.v128Store(16),
    ...get(c), ...i32c(4), ...op.i32Add, ...set(c),
    ...op.br(0),
    ...op.end, ...op.end,
    ...get(n),
  ];
}

/**
 * squaredDistance: for i in [0, count) (a multiple of 8), d = f64(x[i]) − f64(g[i]) and
 * partial[i mod 8] += d·d, each partial summed in index order; stores the 8 partials (f64)
 * at out. The caller adds them in a fixed order, so the plain-JS code gets the same bits.
 */
function squaredDistanceBody(): number[] {
  const xp = 0, gp = 1, count = 2, out = 3;
  const end = 4;
  const acc = [5, 6, 7, 8], d = 9;
  const lanes: number[] = [];
  for (let q = 0; q < 4; q++) {
    lanes.push(
      ...get(xp), ...op.v128Load64Zero(8 * q), ...op.f64x2PromoteLow,
      ...get(gp), ...op.v128Load64Zero(8 * q), ...op.f64x2PromoteLow,
      ...x.f64x2Sub, ...set(d),
      ...get(acc[q]), ...get(d), ...get(d), ...op.f64x2Mul, ...op.f64x2Add, ...set(acc[q]),
    );
  }
  const store: number[] = [];
  for (let q = 0; q < 4; q++) store.push(...get(out), ...get(acc[q]), ...op.v128Store(16 * q));
  return [
    ...get(xp), ...get(count), ...i32c(2), ...op.i32Shl, ...op.i32Add, ...set(end),
    ...op.block, ...op.loop,
    ...get(xp), ...get(end), ...op.i32GeU, ...op.brIf(1),
    ...lanes,
    ...get(xp), ...i32c(32), ...op.i32Add, ...set(xp),
    ...get(gp), ...i32c(32), ...op.i32Add, ...set(gp),
    ...op.br(0),
    ...op.end, ...op.end,
    ...store,
  ];
}

/** The exact kernel module's bytes (private memory imported as env.memory). */
export function exactModuleBytes(): Uint8Array {
  const tileMaxType = [0x60, ...vec(Array.from({ length: 6 }, () => [I32])), ...vec([[F64]])];
  const foldType = [0x60, ...vec(Array.from({ length: 9 }, () => [I32])), ...vec([[I32]])];
  const foldFastType = [0x60, ...vec(Array.from({ length: 7 }, () => [I32])), ...vec([])];
  const squaredDistanceType = [0x60, ...vec(Array.from({ length: 4 }, () => [I32])), ...vec([])];
  const memoryType = [0x02, 0x01, ...uleb(1), ...uleb(65536)];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([tileMaxType, foldType, foldFastType, squaredDistanceType])),
    ...section(2, vec([[...name('env'), ...name('memory'), ...memoryType]])),
    ...section(3, vec([uleb(0), uleb(1), uleb(2), uleb(3)])),
    ...section(7, vec([
      [...name('tileMax'), 0x00, ...uleb(0)],
      [...name('fold'), 0x00, ...uleb(1)],
      [...name('foldFast'), 0x00, ...uleb(2)],
      [...name('squaredDistance'), 0x00, ...uleb(3)],
    ])),
    ...section(10, vec([
      codeEntry([[4, I32], [1, F64], [11, V128]], tileMaxBody()),
      codeEntry([[7, I32], [9, V128]], foldBody()),
      codeEntry([[6, I32], [11, V128]], foldFastBody()),
      codeEntry([[1, I32], [5, V128]], squaredDistanceBody()),
    ])),
  ];
  return Uint8Array.from(bytes);
}

export interface ExactKernelExports {
  tileMax(ptrs: number, weights: number, count: number, lo: number, hi: number, mins: number): number;
  foldFast(hiBins: number, loBins: number, ptrs: number, weights: number, count: number, lo: number, hi: number): void;
  fold(hiBins: number, loBins: number, ptrs: number, weights: number, count: number, lo: number, hi: number, spillIdx: number, spillRem: number): number;
  squaredDistance(x: number, g: number, count: number, out: number): void;
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or undefined where the runtime lacks WebAssembly SIMD. */
export function exactKernelModule(): WasmModule | undefined {
  if (compiled === undefined) {
    try {
      const bytes = exactModuleBytes();
      compiled = kernelModule() && wasmApi?.validate(bytes) ? new wasmApi.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled ?? undefined;
}

/** An instance of the module over `memory`. */
export function instantiateExactKernel(memory: WasmMemory): ExactKernelExports {
  const module = exactKernelModule();
  if (!module || !wasmApi) throw new Error('WebAssembly SIMD is not available in this runtime');
  return new wasmApi.Instance(module, { env: { memory } }).exports as ExactKernelExports;
}

/**
 * tileMax in plain JS over float32 vectors, any range length; lowers mins[k] to the least
 * nonzero |x_k[i]| (0 standing for none yet).
 */
export function tileMaxJs(
  xs: readonly Float32Array[],
  weights: ArrayLike<number>,
  count: number,
  lo: number,
  hi: number,
  mins?: Float32Array,
): number {
  let m = 0;
  for (let k = 0; k < count; k++) {
    const v = xs[k];
    let a = 0;
    let least = mins ? mins[k] : 0;
    for (let i = lo; i < hi; i++) {
      const y = Math.abs(v[i]);
      a = Math.max(a, y); // NaN propagates, as in the module
      if (y > 0 && (least === 0 || y < least)) least = y;
    }
    if (mins) mins[k] = least;
    m = Math.max(m, a * weights[k]);
  }
  return m;
}

/**
 * fold in plain JS over float32 vectors, any range length; calls spill(i, e) for each
 * nonzero remainder e instead of writing records.
 */
export function foldJs(
  hiBins: Float64Array,
  loBins: Float64Array,
  xs: readonly Float32Array[],
  weights: ArrayLike<number>,
  count: number,
  lo: number,
  hi: number,
  spill: (i: number, e: number) => void,
): void {
  for (let i = lo; i < hi; i++) {
    let h = hiBins[i];
    let l = loBins[i];
    for (let k = 0; k < count; k++) {
      const p = weights[k] * xs[k][i];
      let s = h + p;
      const r = p - (s - h);
      h = s;
      s = l + r;
      const e = r - (s - l);
      l = s;
      if (e !== 0) spill(i, e);
    }
    hiBins[i] = h;
    loBins[i] = l;
  }
}

/**
 * The squared L2 distance Σ (x[i] − g[i])² in float64 over [0, x.length), in the module's
 * order: 8 partial sums by i mod 8 (the module's part, a multiple of 8 long, given as
 * `partials`), then the rest, combined in one fixed order, so both paths give the same bits.
 * Without g, the squared norm of x.
 */
export function squaredDistanceJs(x: Float32Array, g: Float32Array | undefined, from = 0, partials?: Float64Array): number {
  const p = partials ? Float64Array.from(partials) : new Float64Array(8);
  for (let i = from; i < x.length; i++) {
    const d = g ? x[i] - g[i] : x[i];
    p[i & 7] += d * d;
  }
  return p[0] + p[1] + (p[2] + p[3]) + (p[4] + p[5] + (p[6] + p[7]));
}
