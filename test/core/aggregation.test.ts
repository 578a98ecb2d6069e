// Server-side aggregation: hand-computed cases per strategy (Flower's semantics), the
// robustness each robust rule promises, update validation, and the SIMD kernel (single
// thread and the 2-thread shared-memory runner) against the plain-JS reference, bit for bit.
import { ParallelWeightedSum } from '../../bench/support/parallel-weighted-sum';
import { DomainError } from '../../core/errors';
import {
  STRATEGY_NAMES,
  WeightedMean,
  createStrategy,
  validateUpdate,
  type ModelUpdate,
  type ServerState,
  type Strategy,
  type StrategyName,
} from '../../core/aggregation';
import { createFedAvg } from '../../core/aggregation/fedavg';
import { seededRandom } from '../../core/random';
import {
  KERNEL_BLOCK,
  WeightedSumArena,
  finishJs,
  kernelModule,
  wasmApi,
  weightedSumJs,
  weightedSumModuleBytes,
} from '../../core/aggregation/kernel';

const fresh = (): ServerState => ({ round: 0, vectors: {} });

function update(agentId: string, params: number[], examples = 1): ModelUpdate {
  return { agentId, examples, params: Float32Array.from(params) };
}

function run(strategy: Strategy, global: number[] | Float32Array, updates: ModelUpdate[], state = fresh()) {
  const round = strategy.start(Float32Array.from(global), state);
  for (const u of updates) round.add(u);
  return round.finish();
}

/** A seeded generator so failures reproduce. */
const random = seededRandom;

function randomUpdates(count: number, dimension: number, seed: number): ModelUpdate[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, k) => {
    const params = new Float32Array(dimension);
    for (let i = 0; i < dimension; i++) params[i] = next() * 2 - 1;
    return { agentId: `a${k}`, examples: 1 + Math.floor(next() * 5000), params };
  });
}

function expectClose(actual: Float32Array, expected: number[], digits = 6): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((value, i) => expect(actual[i]).toBeCloseTo(value, digits));
}

const bitsOf = (a: Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Asserts identical bytes; reports the first differing float (jest's deep equality is slow on big arrays). */
function expectSameBits(actual: Float32Array | Float64Array, expected: Float32Array | Float64Array): void {
  expect(actual.length).toBe(expected.length);
  const a = bitsOf(actual);
  const b = bitsOf(expected);
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      first = Math.floor(i / actual.BYTES_PER_ELEMENT);
      break;
    }
  }
  expect(first === -1 ? 'identical' : `differ at [${first}]: ${actual[first]} vs ${expected[first]}`).toBe('identical');
}

describe('the weighted-sum kernel', () => {
  it('assembles a valid WebAssembly SIMD module, private and shared-memory variants', () => {
    expect(wasmApi?.validate(weightedSumModuleBytes(false))).toBe(true);
    expect(wasmApi?.validate(weightedSumModuleBytes(true))).toBe(true);
    expect(kernelModule()).toBeDefined();
  });

  it('equals the plain-JS reference bit for bit, at sizes around every vector, group and block edge', () => {
    for (const dimension of [1, 7, 8, 9, 33, KERNEL_BLOCK - 1, KERNEL_BLOCK + 3]) {
      for (const count of [1, 3, 4, 5, 9]) {
        const updates = randomUpdates(count, dimension, dimension * 31 + count);
        const arena = new WeightedSumArena(dimension, count);
        updates.forEach((u, k) => arena.slot(k).set(u.params));
        arena.accumulator.fill(42); // init must clear it
        arena.fold(
          updates.map((_, k) => k),
          updates.map((u) => u.examples),
          true,
        );
        const reference = new Float64Array(dimension);
        for (const u of updates) weightedSumJs(reference, u.params, u.examples);
        expectSameBits(arena.accumulator, reference);
        const total = updates.reduce((s, u) => s + u.examples, 0);
        expectSameBits(arena.finish(total), finishJs(reference, total));
      }
    }
  });

  it('gives the same bits folded in one pass or in several batches (init only on the first)', () => {
    const dimension = 1001;
    const updates = randomUpdates(7, dimension, 5);
    const arena = new WeightedSumArena(dimension, 7);
    updates.forEach((u, k) => arena.slot(k).set(u.params));
    arena.fold([0, 1, 2], [updates[0].examples, updates[1].examples, updates[2].examples], true);
    arena.fold([3, 4, 5, 6], [3, 4, 5, 6].map((k) => updates[k].examples), false);
    const batched = arena.accumulator.slice();
    arena.fold([0, 1, 2, 3, 4, 5, 6], updates.map((u) => u.examples), true);
    expectSameBits(batched, arena.accumulator);
  });

  it('streams through a ring of slots (wasm) with the same bits as the JS loop, whatever the ring size', () => {
    const dimension = 2053;
    const updates = randomUpdates(11, dimension, 9);
    const js = new WeightedMean(dimension, { backend: 'js' });
    for (const u of updates) js.add(u.params, u.examples);
    const expected = js.mean();
    for (const ring of [1, 3, 4, 16]) {
      const wasm = new WeightedMean(dimension, { backend: 'wasm', ring });
      for (const u of updates) wasm.add(u.params, u.examples);
      expect(wasm.backend).toBe('wasm');
      expectSameBits(wasm.mean(), expected);
    }
  });

  it('takes an update decoded straight into its reserved slot without copying it', () => {
    const updates = randomUpdates(5, 100, 3);
    const sum = new WeightedMean(100, { backend: 'wasm', ring: 2 });
    for (const u of updates) {
      const slot = sum.reserve() as Float32Array;
      slot.set(u.params); // stands for decoding the message into it
      sum.add(slot, u.examples);
    }
    const reference = new WeightedMean(100, { backend: 'js' });
    for (const u of updates) reference.add(u.params, u.examples);
    expectSameBits(sum.mean(), reference.mean());
  });
});

describe('the 2-thread shared-memory runner', () => {
  it('gives the same bits as the single-thread kernel and the JS reference, in one pass or two', async () => {
    const dimension = 3 * KERNEL_BLOCK + 13; // odd, so one thread's range ends in the scalar tail
    const updates = randomUpdates(6, dimension, 77);
    const runner = await ParallelWeightedSum.create({ dimension, slots: 6, threads: 2 });
    try {
      expect(runner.threads).toBe(2);
      updates.forEach((u, k) => runner.slot(k).set(u.params));
      const weights = updates.map((u) => u.examples);
      const mean = (await runner.weightedMean([0, 1, 2, 3, 4, 5], weights)).slice();

      const reference = new Float64Array(dimension);
      for (const u of updates) weightedSumJs(reference, u.params, u.examples);
      const total = weights.reduce((a, b) => a + b, 0);
      expectSameBits(runner.accumulator, reference);
      expectSameBits(mean, finishJs(reference, total));

      await runner.fold([0, 1], weights.slice(0, 2), true);
      await runner.fold([2, 3, 4, 5], weights.slice(2), false);
      expectSameBits(await runner.finish(total), mean);
    } finally {
      await runner.close();
    }
  });

  it.each([1, 2])('with %i thread(s) claiming many small blocks, still matches the reference bit for bit', async (threads) => {
    const dimension = 1001;
    const updates = randomUpdates(9, dimension, 404);
    const runner = await ParallelWeightedSum.create({ dimension, slots: 9, threads, block: 60 }); // rounded up to 64
    try {
      updates.forEach((u, k) => runner.slot(k).set(u.params));
      const weights = updates.map((u) => u.examples);
      const mean = await runner.weightedMean([8, 7, 6, 5, 4, 3, 2, 1, 0], [...weights].reverse());
      const reference = new Float64Array(dimension);
      for (let k = 8; k >= 0; k--) weightedSumJs(reference, updates[k].params, updates[k].examples);
      expectSameBits(mean, finishJs(reference, weights.reduce((a, b) => a + b, 0)));
    } finally {
      await runner.close();
    }
  });
});

describe('FedAvg and FedProx', () => {
  it('return the example-weighted mean: (1·[1,2,3] + 3·[3,6,9]) / 4 = [2.5, 5, 7.5]', () => {
    for (const name of ['fedavg', 'fedprox'] as const) {
      const { params, state } = run(createStrategy(name, { proximalMu: 0.01 }), [0, 0, 0], [
        update('a', [1, 2, 3], 1),
        update('b', [3, 6, 9], 3),
      ]);
      expect(Array.from(params)).toEqual([2.5, 5, 7.5]);
      expect(state.round).toBe(1);
    }
  });

  it('with equal weights, return the plain mean: ([0,4] + [2,8]) / 2 = [1, 6]', () => {
    const { params } = run(createStrategy('fedavg'), [9, 9], [update('a', [0, 4], 5), update('b', [2, 8], 5)]);
    expect(Array.from(params)).toEqual([1, 6]);
  });

  it('with a single update, return exactly its parameters', () => {
    const [only] = randomUpdates(1, 257, 1);
    const { params } = run(createStrategy('fedavg'), new Float32Array(257), [only]);
    expectSameBits(params, only.params);
    expect(params).not.toBe(only.params);
  });

  it('are streaming, carry the server state through, and give identical bits on the wasm and JS paths and on reruns', () => {
    const strategy = createStrategy('fedavg');
    expect(strategy.streaming).toBe(true);
    const updates = randomUpdates(9, 4099, 21);
    const state: ServerState = { round: 4, vectors: { other: new Float32Array(4099) } };
    const first = run(strategy, new Float32Array(4099), updates, state);
    const again = run(strategy, new Float32Array(4099), updates, state);
    const js = run(createFedAvg('fedavg', { backend: 'js' }), new Float32Array(4099), updates, state);
    expectSameBits(again.params, first.params);
    expectSameBits(js.params, first.params);
    expect(first.state).toEqual({ round: 5, vectors: state.vectors });
  });

  it('refuse an update of the wrong size, an empty round, and use after finish', () => {
    const round = createStrategy('fedavg').start(new Float32Array(3), fresh());
    expect(() => round.add(update('a', [1, 2]))).toThrow(DomainError);
    expect(() => round.add(update('a', [1, 2, 3], 0))).toThrow(/examples/);
    expect(() => round.finish()).toThrow(/no updates/);
    const done = createStrategy('fedavg').start(new Float32Array(1), fresh());
    done.add(update('a', [1]));
    done.finish();
    expect(() => done.add(update('b', [1]))).toThrow(/already/);
  });
});

describe('FedAvgM', () => {
  it("with Flower's defaults (lr 1, momentum 0), is FedAvg exactly", () => {
    const updates = randomUpdates(4, 50, 2);
    const m = run(createStrategy('fedavgm'), new Float32Array(50), updates);
    const avg = run(createStrategy('fedavg'), new Float32Array(50), updates);
    expectSameBits(m.params, avg.params);
  });

  it('takes a server SGD step on g = global − mean: lr 0.5, global [1], mean [3] → 1 − 0.5·(−2) = [2]', () => {
    const { params } = run(createStrategy('fedavgm', { serverLearningRate: 0.5 }), [1], [update('a', [3])]);
    expect(Array.from(params)).toEqual([2]);
  });

  it('carries momentum across rounds: v1 = g1, v2 = 0.9·v1 + g2', () => {
    const strategy = createStrategy('fedavgm', { momentum: 0.9 });
    // round 1: global [1, 1], mean [0.5, 2] → g = [0.5, −1] = v → next = [1, 1] − v = [0.5, 2]
    const r1 = run(strategy, [1, 1], [update('a', [0.5, 2])]);
    expectClose(r1.params, [0.5, 2]);
    expectClose(r1.state.vectors.momentum, [0.5, -1]);
    // round 2: global [0.5, 2], mean [0.25, 2.5] → g = [0.25, −0.5];
    // v = 0.9·[0.5, −1] + g = [0.7, −1.4] → next = [0.5 − 0.7, 2 + 1.4] = [−0.2, 3.4]
    const r2 = run(strategy, r1.params, [update('a', [0.25, 2.5])], r1.state);
    expectClose(r2.state.vectors.momentum, [0.7, -1.4]);
    expectClose(r2.params, [-0.2, 3.4]);
    expect(r2.state.round).toBe(2);
  });
});

describe('FedAdam, FedYogi, FedAdagrad', () => {
  it("FedAdam applies Flower's bias-corrected step η·√(1−β2^(t+1))/(1−β1^(t+1)) with t = 1 in the first round", () => {
    // Δ = 1 − 0 = 1; m = 0.1·1 = 0.1; v = 0.01·1 = 0.01; m/(√v + τ) ≈ 1
    // η_1 = 0.1·√(1 − 0.99²)/(1 − 0.9²) = 0.1·√0.0199/0.19 = 0.0742460
    const { params, state } = run(createStrategy('fedadam'), [0, 0], [update('a', [1, -1])]);
    expectClose(params, [0.074246, -0.074246]);
    expectClose(state.vectors.m, [0.1, -0.1]);
    expectClose(state.vectors.v, [0.01, 0.01]);
    expect(state.round).toBe(1);
  });

  it('FedAdam uses the round from the state in the bias correction (t = 2: η_2 = 0.1·√(1−0.99³)/(1−0.9³))', () => {
    // state m = 0, v = 0 but round 1: Δ = 1 → m = 0.1, v = 0.01, step = η_2 = 0.1·√0.029701/0.271 = 0.0635940
    const state: ServerState = { round: 1, vectors: { m: new Float32Array(1), v: new Float32Array(1) } };
    const { params } = run(createStrategy('fedadam'), [0], [update('a', [1])], state);
    expectClose(params, [0.063594]);
  });

  it("FedYogi with Flower's defaults (η 0.01, τ 1e-3): Δ = 1 → m = 0.1, v = 0 − 0.01·1·sign(0 − 1) = 0.01, x = 0.01·0.1/(0.1 + 0.001)", () => {
    const { params, state } = run(createStrategy('fedyogi'), [0], [update('a', [1])]);
    expectClose(params, [0.001 / 0.101], 8);
    expectClose(state.vectors.m, [0.1]);
    expectClose(state.vectors.v, [0.01]);
  });

  it('FedAdagrad accumulates Δ² across rounds: v = 4 then 5, x = 0.1·Δ/√v', () => {
    const strategy = createStrategy('fedadagrad');
    // round 1: Δ = 2, v = 4 → x = 0 + 0.1·2/2 = 0.1
    const r1 = run(strategy, [0], [update('a', [2])]);
    expectClose(r1.params, [0.1]);
    // round 2: global 0.1, mean 1.1 → Δ = 1, v = 5 → x = 0.1 + 0.1/√5 = 0.1447214
    const r2 = run(strategy, r1.params, [update('a', [1.1])], r1.state);
    expectClose(r2.state.vectors.v, [5], 5);
    expectClose(r2.params, [0.1 + 0.1 / Math.sqrt(5)]);
  });

  it('refuses server state of another model size at start', () => {
    const state: ServerState = { round: 3, vectors: { m: new Float32Array(2), v: new Float32Array(2) } };
    expect(() => createStrategy('fedadam').start(new Float32Array(3), state)).toThrow(/server state 'm'/);
  });
});

describe('FedMedian and FedTrimmedAvg', () => {
  it('FedMedian takes the coordinate-wise median: [1,2,100]→2, [10,20,−5]→10; even count averages the middle two', () => {
    const three = [update('a', [1, 10], 7), update('b', [2, 20]), update('c', [100, -5])];
    expect(Array.from(run(createStrategy('fedmedian'), [0, 0], three).params)).toEqual([2, 10]);
    // add [4, 0]: [1,2,4,100] → 3; [−5,0,10,20] → 5
    expect(Array.from(run(createStrategy('fedmedian'), [0, 0], [...three, update('d', [4, 0])]).params)).toEqual([3, 5]);
  });

  it("FedTrimmedAvg cuts floor(β·n) from each end (Flower's β = 0.2): n = 5 → mean of [2, 3, 4] = 3", () => {
    const updates = [1, 1000, 3, 2, 4].map((x, k) => update(`a${k}`, [x, -x], 1 + k));
    expect(Array.from(run(createStrategy('fedtrimmedavg'), [0, 0], updates).params)).toEqual([3, -3]);
    // β = 0.25 of 4 → cut 1 per end: [1, 2, 3, 1000] → (2 + 3)/2
    const four = [1, 2, 3, 1000].map((x, k) => update(`a${k}`, [x]));
    expect(Array.from(run(createStrategy('fedtrimmedavg', { trimFraction: 0.25 }), [0], four).params)).toEqual([2.5]);
    // β = 0.2 of 4 → cut 0: the plain mean
    expect(Array.from(run(createStrategy('fedtrimmedavg'), [0], four).params)).toEqual([251.5]);
  });
});

describe('Krum and Multi-Krum', () => {
  // x = 0, 1, 2, 3, 100 with f = 1: each score sums the n − f − 2 = 2 nearest squared distances:
  //   0 → 1 + 4 = 5, 1 → 1 + 1 = 2, 2 → 1 + 1 = 2, 3 → 1 + 4 = 5, 100 → 97² + 98² = 19013
  const points = [0, 1, 2, 3, 100].map((x, k) => update(`a${k}`, [x, 0], [1, 1, 2, 1, 1][k]));

  it('Krum returns the update with the lowest score, the earlier one on a tie: [1, 0]', () => {
    expect(Array.from(run(createStrategy('krum', { byzantine: 1 }), [0, 0], points).params)).toEqual([1, 0]);
  });

  it('Multi-Krum averages the lowest `keep` by examples: keep 3 → {1, 2, 0} → (1·1 + 2·2 + 0·1)/4 = 1.25', () => {
    const { params } = run(createStrategy('multikrum', { byzantine: 1, multiKrumKeep: 3 }), [0, 0], points);
    expect(Array.from(params)).toEqual([1.25, 0]);
  });

  it('Multi-Krum keeps n − f by default: {0, 1, 2, 3} → (0 + 1 + 4 + 3)/5 = 1.6', () => {
    const { params } = run(createStrategy('multikrum', { byzantine: 1 }), [0, 0], points);
    expectClose(params, [1.6, 0]);
  });

  it('Krum of a single update is that update', () => {
    expect(Array.from(run(createStrategy('krum', { byzantine: 2 }), [0], [update('a', [7])]).params)).toEqual([7]);
  });
});

describe('Bulyan', () => {
  it('selects θ = n − 2f by repeated Krum, then averages the β = θ − 2f values nearest the median', () => {
    // n = 7, f = 1: θ = 5, β = 3. Krum rounds pick 2, 3, 1, 4, 0 (1000 never: its score is huge),
    // median of {0,1,2,3,4} = 2; the 3 nearest are 2, 1, 3 → mean 2.
    const updates = [0, 1, 2, 3, 4, 5, 1000].map((x, k) => update(`a${k}`, [x]));
    expect(Array.from(run(createStrategy('bulyan', { byzantine: 1 }), [0], updates).params)).toEqual([2]);
  });

  it('with f = 0 (Flower’s default) is the plain unweighted mean', () => {
    const updates = [update('a', [0], 10), update('b', [1]), update('c', [5])];
    expect(Array.from(run(createStrategy('bulyan'), [0], updates).params)).toEqual([2]);
  });

  it('refuses fewer than 4f + 3 updates', () => {
    const updates = [0, 1, 2, 3, 4, 5].map((x, k) => update(`a${k}`, [x]));
    expect(() => run(createStrategy('bulyan', { byzantine: 1 }), [0], updates)).toThrow(/4f \+ 3/);
  });
});

describe('one poisoned update among ten', () => {
  // Nine honest agents near 1 (1.00 … 1.08) and one that sends 1e6 with many examples.
  const honest = Array.from({ length: 9 }, (_, k) => update(`h${k}`, [1 + 0.01 * k, -1 - 0.01 * k], 100));
  const poisoned = update('evil', [1e6, -1e6], 500);
  const updates = [...honest.slice(0, 4), poisoned, ...honest.slice(4)];

  it('drags FedAvg far away', () => {
    const { params } = run(createStrategy('fedavg'), [0, 0], updates);
    expect(params[0]).toBeGreaterThan(1e5);
  });

  it.each<[StrategyName, object]>([
    ['fedmedian', {}],
    ['fedtrimmedavg', { trimFraction: 0.2 }],
    ['krum', { byzantine: 1 }],
    ['multikrum', { byzantine: 1 }],
    ['bulyan', { byzantine: 1 }],
  ])('leaves %s within the honest range', (name, options) => {
    const { params } = run(createStrategy(name, options), [0, 0], updates);
    expect(params[0]).toBeGreaterThanOrEqual(1);
    expect(params[0]).toBeLessThanOrEqual(1.08 + 1e-6);
    expect(params[1]).toBeLessThanOrEqual(-1);
    expect(params[1]).toBeGreaterThanOrEqual(-1.08 - 1e-6);
  });

  it.each(['fedmedian', 'fedtrimmedavg', 'krum', 'multikrum', 'bulyan'] as StrategyName[])(
    '%s gives identical bits on a rerun with the same updates in the same order',
    (name) => {
      const random3 = randomUpdates(11, 64, 13);
      const a = run(createStrategy(name, { byzantine: 2 }), new Float32Array(64), random3);
      const b = run(createStrategy(name, { byzantine: 2 }), new Float32Array(64), random3);
      expectSameBits(a.params, b.params);
    },
  );
});

describe('validateUpdate', () => {
  const global = Float32Array.from([3, 4]);

  it('accepts a well-formed update', () => {
    expect(validateUpdate(update('a', [1, 2], 10), 2)).toBeUndefined();
    expect(validateUpdate(update('a', [1, 2], 10), global, { maxUpdateNorm: 10 })).toBeUndefined();
  });

  it('rejects a wrong dimension, NaN, ±Infinity and non-positive or fractional examples', () => {
    expect(validateUpdate(update('a', [1, 2, 3]), global)?.message).toMatch(/3 coordinates, the model has 2/);
    expect(validateUpdate(update('a', [1, NaN]), 2)?.message).toMatch(/params\[1\] is NaN/);
    expect(validateUpdate(update('a', [Infinity, 1]), 2)?.message).toMatch(/params\[0\] is Infinity/);
    expect(validateUpdate(update('a', [-Infinity, 1]), 2)?.message).toMatch(/not finite/);
    for (const examples of [0, -3, 1.5, NaN, Infinity]) {
      expect(validateUpdate(update('a', [1, 2], examples), 2)?.message).toMatch(/examples must be a positive integer/);
    }
    expect(validateUpdate({ agentId: '', examples: 1, params: new Float32Array(2) }, 2)?.message).toMatch(/agentId/);
    expect(validateUpdate({ agentId: 'a', examples: 1, params: [1, 2] as unknown as Float32Array }, 2)?.message).toMatch(/Float32Array/);
  });

  it('names each rejection with a code a caller can count by', () => {
    expect(validateUpdate(update('a', [1, 2, 3]), global)?.code).toBe('wrong-dimension');
    expect(validateUpdate(update('a', [1, NaN]), 2)?.code).toBe('not-finite');
    expect(validateUpdate(update('a', [1, 2], 0), 2)?.code).toBe('bad-examples');
    expect(validateUpdate(update('a', [6, 8]), global, { maxUpdateNorm: 1 })?.code).toBe('norm-exceeded');
    expect(validateUpdate({ agentId: '', examples: 1, params: new Float32Array(2) }, 2)?.code).toBe('invalid');
  });

  it('bounds the L2 norm of params − global when given the global model, else of params', () => {
    // params [3, 4] = global: the update moved nothing (norm 0), though |params| = 5
    expect(validateUpdate(update('a', [3, 4]), global, { maxUpdateNorm: 1 })).toBeUndefined();
    expect(validateUpdate(update('a', [3, 4]), 2, 1)?.message).toMatch(/params L2 norm 5\.00000 exceeds 1/);
    // params [6, 8]: params − global = [3, 4], norm 5
    expect(validateUpdate(update('a', [6, 8]), global, { maxUpdateNorm: 4.99 })?.message).toMatch(/norm 5\.00000 exceeds 4\.99/);
    expect(validateUpdate(update('a', [6, 8]), global, { maxUpdateNorm: 5 })).toBeUndefined();
  });
});

describe('createStrategy', () => {
  it('builds every named strategy; the weighted ones stream, the robust ones buffer', () => {
    const streaming = new Set(['fedavg', 'fedavgm', 'fedprox', 'fedadam', 'fedyogi', 'fedadagrad', 'fednova']);
    for (const name of STRATEGY_NAMES) {
      const strategy = createStrategy(name);
      expect(strategy.name).toBe(name);
      expect(strategy.streaming).toBe(streaming.has(name));
    }
  });

  it('refuses out-of-range options with INVALID_ARGUMENT', () => {
    const bad: Array<[StrategyName, object]> = [
      ['fedtrimmedavg', { trimFraction: 0.7 }],
      ['krum', { byzantine: -1 }],
      ['bulyan', { byzantine: 1.5 }],
      ['fedadam', { tau: 0 }],
      ['fedadam', { beta1: 1 }],
      ['fedyogi', { beta2: 1.5 }],
      ['fedavgm', { momentum: -0.1 }],
      ['fedavgm', { serverLearningRate: 0 }],
      ['multikrum', { multiKrumKeep: 0 }],
      ['fedprox', { proximalMu: -1 }],
    ];
    for (const [name, options] of bad) {
      expect(() => createStrategy(name, options)).toThrow(DomainError);
    }
    expect(() => createStrategy('fedsgd' as StrategyName)).toThrow(/unknown strategy/);
  });
});
