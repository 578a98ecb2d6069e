// FedAvg aggregation throughput, side by side in one run on the same sizes:
//   (p) ours, the PRODUCT PATH: what the aggregation activity runs for a plain FedAvg round
//       (activities/round-contributions.ts): a RoundContributions per round, each update offered
//       as its message payload's bytes (checked: size, examples, finite; copied once into the
//       exact mean's kernel memory), then aggregate() through the strategy; printed as
//       ours_product_path. ours_product_path_norm_bound adds the maxUpdateNorm check (a squared
//       distance to the global model in the same pass). ours_exact_mean_add_float32 is the exact
//       mean fed separate Float32Arrays (ExactWeightedMean.add, the way FedBuff/FedNova feed it).
//   (a) ours, 2 threads over shared memory (bench/support/parallel-weighted-sum.ts)
//   (b) ours, the single-thread SIMD kernel over the same bytes (core/aggregation/kernel.ts)
//   (b') ours, the streaming FedAvg round that createStrategy('fedavg') returns (ring of 4 slots)
//   (c) ours, the plain-JS streaming FedAvg (the fallback without WebAssembly SIMD)
//   (d) Flower: flwr.server.strategy.aggregate.aggregate and FedAvg.aggregate_fit (its default
//       path: FitRes parameters deserialized, aggregate_inplace, result serialized), in a
//       Python subprocess with flwr pinned in a venv under ~/.cache/qp-manager/venvs/flwr
//   (e) floors: one numpy pass summing the stacked (N, D) array, one JS pass summing the
//       Float32Arrays; and, for reference, numpy's weighted sum as a BLAS gemv.
// Throughput = N × D × 4 bytes of float32 input / seconds; each figure is the best (shortest)
// of --repeats runs (default 7) after warm-up: on a shared machine, interference only ever
// slows a run down, so the best run is the closest to what the code itself costs; the medians
// follow on a comment line. Flower's data is generated in Python with the same shape
// (identical values are not needed for throughput).
//   npx tsx bench/aggregation.ts [--n 100] [--d 1000000] [--repeats 7]
import { spawnSync } from 'node:child_process';
import { ParallelWeightedSum } from './support/parallel-weighted-sum';
import { ExactWeightedMean } from '../core/aggregation/exact-mean';
import { createStrategy } from '../core/aggregation';
import { RoundContributions } from '../activities/round-contributions';
import { createFedAvg } from '../core/aggregation/fedavg';
import { WeightedSumArena } from '../core/aggregation/kernel';
import type { ModelUpdate, Strategy } from '../core/aggregation/types';
import { ensureFlower, PYTHON } from './support/flower';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('n', 100);
const D = arg('d', 1_000_000);
const REPEATS = arg('repeats', 7);
const BYTES = N * D * 4;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const gbps = (seconds: number): number => BYTES / seconds / 1e9;

interface Timing {
  best: number;
  median: number;
}

/** Best and median seconds of `repeats` runs of `fn`, after two warm-up runs. */
async function time(fn: () => unknown | Promise<unknown>, repeats = REPEATS): Promise<Timing> {
  await fn();
  await fn();
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await fn();
    runs.push((performance.now() - t0) / 1e3);
  }
  return { best: Math.min(...runs), median: median(runs) };
}

function line(name: string, value: number, unit: string): void {
  console.log(`${name} ${value.toFixed(2)} ${unit}`);
}

// Runs in the venv; prints one JSON object of median seconds.
const PYTHON_BENCH = String.raw`
import json, sys, time, statistics, logging
import numpy as np
import flwr
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
from flwr.server.strategy import FedAvg
from flwr.server.strategy.aggregate import aggregate

N, D, R = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
logging.getLogger("flwr").setLevel(logging.ERROR)
rng = np.random.default_rng(0)
arrays = [rng.standard_normal(D, dtype=np.float32) for _ in range(N)]
examples = [int(n) for n in rng.integers(1, 1001, N)]

def median_seconds(fn, repeats=R):
    fn()
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"best": min(runs), "median": statistics.median(runs)}

out = {"flwr": flwr.__version__, "numpy": np.__version__}
results = [([a], n) for a, n in zip(arrays, examples)]
out["flower_aggregate"] = median_seconds(lambda: aggregate(results))
del results
status = Status(code=Code.OK, message="")
fit_results = [
    (None, FitRes(status=status, parameters=ndarrays_to_parameters([a]), num_examples=n, metrics={}))
    for a, n in zip(arrays, examples)
]
strategy = FedAvg()  # inplace=True: Flower's default aggregation path
out["flower_fedavg"] = median_seconds(lambda: strategy.aggregate_fit(2, fit_results, []))
del fit_results
stacked = np.stack(arrays)
del arrays
out["numpy_floor_sum"] = median_seconds(lambda: stacked.sum(axis=0))
weights = np.asarray(examples, dtype=np.float32)
out["numpy_weighted_gemv"] = median_seconds(lambda: weights @ stacked)
print(json.dumps(out))
`;

function runPython(): Record<string, Timing | string> {
  ensureFlower();
  // OpenBLAS tuning variables set on this machine are dropped for this subprocess only.
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(PYTHON, ['-', String(N), String(D), String(REPEATS)], {
    input: PYTHON_BENCH,
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) throw new Error(`flower bench failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as Record<string, Timing | string>;
}

/** Fills `out` with uniform floats in [-1, 1) from a xorshift32 stream. */
function fillRandom(out: Float32Array, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2147483648 - 1;
  }
}

/** One JS pass reading every float once (4 independent sums so the loop is not latency-bound). */
function jsFloorSum(arrays: Float32Array[]): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (const x of arrays) {
    const n = x.length & ~3;
    let i = 0;
    for (; i < n; i += 4) {
      s0 += x[i];
      s1 += x[i + 1];
      s2 += x[i + 2];
      s3 += x[i + 3];
    }
    for (; i < x.length; i++) s0 += x[i];
  }
  return s0 + s1 + s2 + s3;
}

async function main(): Promise<void> {
  console.log(`# FedAvg aggregation: N=${N} updates x D=${D} float32 (${(BYTES / 1e6).toFixed(1)} MB read per aggregation)`);
  console.log(`# figure = best of ${REPEATS} runs after warm-up (medians below); GB/s = N*D*4 bytes / seconds; node ${process.version}`);

  // The updates live once in shared memory; every JS-side variant reads these same bytes.
  const runner = await ParallelWeightedSum.create({ dimension: D, slots: N, threads: 2 });
  const order = Array.from({ length: N }, (_, k) => k);
  let seed = 12345;
  const nextInt = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 1000) + 1;
  const examples = order.map(() => nextInt());
  const total = examples.reduce((a, b) => a + b, 0);
  const slots = order.map((k) => runner.slot(k));
  slots.forEach((slot, k) => fillRandom(slot, 0x9e3779b9 ^ (k + 1)));
  const updates: ModelUpdate[] = slots.map((params, k) => ({ agentId: `agent-${k}`, examples: examples[k], params }));
  const global = new Float32Array(D);

  const best: Record<string, number> = {};
  const medians: string[] = [];
  const report = (name: string, timing: Timing): void => {
    best[name] = gbps(timing.best);
    medians.push(`${name}=${gbps(timing.median).toFixed(2)}`);
    console.log(`${name} ${best[name].toFixed(2)} GB/s`);
  };

  try {
    // (p) the product path: the activity's intake of message payloads, then its aggregation.
    const payloads = updates.map((u) => new Uint8Array(u.params.slice().buffer));
    const productGlobal = new Float32Array(D);
    type Arriving = { agentId: string; examples: number; payload: Uint8Array };
    const arriving: Arriving[] = updates.map((u, k) => ({ agentId: u.agentId, examples: u.examples, payload: payloads[k] }));
    const productMean = (order: Arriving[], maxUpdateNorm?: number): Float32Array => {
      const contributions = new RoundContributions(createStrategy('fedavg'), D);
      for (const u of order) {
        const refusal = contributions.offer(u, productGlobal, { maxUpdateNorm });
        if (refusal) throw new Error(`the bench's update was refused: ${refusal.message}`);
      }
      return contributions.aggregate(productGlobal, { round: 0, vectors: {} }).params;
    };
    report('ours_product_path', await time(() => productMean(arriving)));
    report('ours_product_path_norm_bound', await time(() => productMean(arriving, 1e6)));
    const plainUpdates = updates.map((u) => ({ examples: u.examples, params: u.params.slice() }));
    report(
      'ours_exact_mean_add_float32',
      await time(() => {
        const mean = new ExactWeightedMean(D);
        for (const u of plainUpdates) mean.add(u);
        mean.mean();
        mean.release();
      }),
    );
    const productBits = productMean(arriving);
    const reversed = productMean([...arriving].reverse());
    let rng = 7;
    const shuffledOrder = [...arriving];
    for (let i = shuffledOrder.length - 1; i > 0; i--) {
      rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
      const j = rng % (i + 1);
      [shuffledOrder[i], shuffledOrder[j]] = [shuffledOrder[j], shuffledOrder[i]];
    }
    const shuffledBits = productMean(shuffledOrder);
    const jsMean = new ExactWeightedMean(D, { backend: 'js' });
    for (const u of shuffledOrder.slice().reverse()) jsMean.add({ examples: u.examples, params: new Float32Array(u.payload.buffer) });
    const jsBits = jsMean.mean();
    const sameBits = (a: Float32Array, b: Float32Array): number => {
      const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
      const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
      let same = 0;
      for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
      return same;
    };
    const identicalAcross = Math.min(sameBits(productBits, reversed), sameBits(productBits, shuffledBits), sameBits(productBits, jsBits));
    console.log(
      `check_product_path_bit_identical_across_orders ${identicalAcross} of ${D} coordinates (arrival, reversed, shuffled, and shuffled-reversed on the plain-JS backend)`,
    );

    const parallelName = `ours_parallel_${runner.threads}threads`;
    report(parallelName, await time(() => runner.weightedMean(order, examples)));
    const fast = (await runner.weightedMean(order, examples)).slice();

    const single = new WeightedSumArena(D, N, runner.memory);
    report(
      'ours_kernel_1thread',
      await time(() => {
        single.fold(order, examples, true);
        single.finish(total);
      }),
    );

    const runStreaming = (strategy: Strategy) => (): Float32Array => {
      const round = strategy.start(global, { round: 0, vectors: {} });
      for (const u of updates) round.add(u);
      return round.finish().params;
    };
    report('ours_streaming_fedavg_wasm_ring4', await time(runStreaming(createFedAvg('fedavg'))));

    // Let the JIT optimize the plain loops on small inputs first, as a long-running server would have.
    const small = new Float32Array(4096).fill(0.5);
    const plain = createFedAvg('fedavg', { backend: 'js' });
    for (let i = 0; i < 300; i++) {
      jsFloorSum([small]);
      const round = plain.start(small, { round: 0, vectors: {} });
      round.add({ agentId: 'warm-up', examples: 1, params: small });
      round.finish();
    }
    report('ours_plain_js_streaming_fedavg', await time(runStreaming(plain), Math.min(REPEATS, 3)));
    const reference = runStreaming(plain)();
    report('js_floor_sum', await time(() => jsFloorSum(slots)));

    const py = runPython();
    report('flower_aggregate', py.flower_aggregate as Timing);
    report('flower_fedavg_aggregate_fit', py.flower_fedavg as Timing);
    report('numpy_floor_sum', py.numpy_floor_sum as Timing);
    report('numpy_weighted_gemv_openblas', py.numpy_weighted_gemv as Timing);

    const ratio = (name: string, base: string): void =>
      console.log(`${name} ${(best[parallelName] / best[base]).toFixed(2)} x`);
    ratio('ratio_ours_over_flower_aggregate', 'flower_aggregate');
    ratio('ratio_ours_over_flower_fedavg', 'flower_fedavg_aggregate_fit');
    ratio('ratio_ours_over_numpy_floor', 'numpy_floor_sum');
    console.log(`ratio_product_over_flower_fedavg ${(best.ours_product_path / best.flower_fedavg_aggregate_fit).toFixed(2)} x`);
    console.log(`ratio_product_over_js_floor ${(best.ours_product_path / best.js_floor_sum).toFixed(2)} x`);

    // Correctness: the fast path against the plain-JS streaming FedAvg (float64 sums).
    let maxRel = 0;
    let identical = 0;
    for (let i = 0; i < D; i++) {
      const diff = Math.abs(fast[i] - reference[i]);
      if (diff === 0) identical++;
      maxRel = Math.max(maxRel, diff / Math.max(Math.abs(reference[i]), 1e-30));
    }
    console.log(`check_max_relative_difference ${maxRel.toExponential(2)} (limit 1e-6)`);
    // The product path against the float64 reference: it is the exact mean rounded once.
    let productRel = 0;
    for (let i = 0; i < D; i++) {
      productRel = Math.max(productRel, Math.abs(productBits[i] - reference[i]) / Math.max(Math.abs(reference[i]), 1e-30));
    }
    console.log(`check_product_path_max_relative_difference_to_float64_sum ${productRel.toExponential(2)} (limit 1e-6)`);
    console.log(`check_bit_identical_coordinates ${identical} of ${D}`);
    console.log(`# medians GB/s: ${medians.join(' ')}`);
    console.log(`# flwr ${py.flwr as string}, numpy ${py.numpy as string}; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the Python run`);
    if (identicalAcross !== D || !(productRel <= 1e-6)) {
      console.error('FAIL: the product path is not bit-identical across orders, or is off the float64 reference');
      process.exitCode = 1;
    }
    if (!(maxRel <= 1e-6)) {
      console.error('FAIL: the fast path differs from the reference by more than 1e-6 relative');
      process.exitCode = 1;
    }
  } finally {
    await runner.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
