import { DomainError } from '../../core/errors';
import {
  PrivacyAccountant,
  RDP_ORDERS,
  applyLocalDp,
  centralNoiseStd,
  clipL2,
  clipToNorm,
  cryptoUniform,
  epsilonFor,
  gaussianNoise,
  l2Norm,
  localDpStd,
  rdpSampledGaussian,
} from '../../core/privacy';
import { seededRandom } from '../../core/random';

function expectClose(actual: number, expected: number, relative: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(relative * Math.abs(expected));
}

function meanAndStd(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / (values.length - 1)) };
}

function vectorWithNorm(dimension: number, norm: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const v = Float32Array.from({ length: dimension }, () => random() * 2 - 1);
  const scale = norm / l2Norm(v);
  return v.map((x) => x * scale);
}

// Reference values from Google's dp-accounting 0.6.0 (PyPI, pure Python; numpy 2.4.6, scipy 1.17.1), computed with
//   acc = dp_accounting.rdp.RdpAccountant()            # default orders = DEFAULT_RDP_ORDERS = RDP_ORDERS here
//   acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)
//   acc.get_epsilon_and_optimal_order(delta)
// whose conversion is eps = rdp + log1p(-1/a) - log(delta * a)/(a - 1) (Balle et al. 2020, Prop. 12) — the one
// epsilonFor implements. Our port agrees to ~1e-12; the tolerance leaves room for libm differences.
const EPSILON_REFERENCE: { q: number; sigma: number; steps: number; delta: number; epsilon: number; order: number }[] = [
  { q: 1, sigma: 1, steps: 1, delta: 1e-5, epsilon: 4.728507067217623, order: 5.4 },
  { q: 0.01, sigma: 1.1, steps: 10000, delta: 1e-5, epsilon: 5.632010670081592, order: 4.7 },
  { q: 0.1, sigma: 2, steps: 100, delta: 1e-5, epsilon: 2.5805709505045913, order: 7.6 },
  { q: 1, sigma: 0.5, steps: 20, delta: 1e-5, epsilon: 81.11630842505602, order: 1.5 },
  // Orders 1.1–1.3 hit dp_accounting's 1000-term limit for the fractional series and drop out (+∞), here too.
  { q: 0.05, sigma: 0.8, steps: 1000, delta: 1e-6, epsilon: 21.223917962877668, order: 2.2 },
  { q: 0.001, sigma: 4, steps: 100000, delta: 1e-7, epsilon: 0.38103914871689354, order: 62 },
];

// dp_accounting 0.6.0: rdp_privacy_accountant._compute_rdp_poisson_subsampled_gaussian(q, sigma, orders), one step.
const RDP_REFERENCE_ORDERS = [1.5, 2, 2.5, 3.7, 10, 32, 63, 128];
const RDP_REFERENCE: { q: number; sigma: number; rdp: number[] }[] = [
  {
    q: 0.01,
    sigma: 1.1,
    rdp: [9.858756968009191e-5, 0.00012851008160516542, 0.00016215219755506363, 0.0002452953902361313, 0.0008075821730220726, 8.469416433675926, 21.353610726767897, 48.251130614916136],
  },
  {
    q: 0.1,
    sigma: 2,
    rdp: [0.0027267112617512823, 0.0028362282662636636, 0.0036216360963444594, 0.005507097979309903, 0.01862425425819887, 1.627202301019436, 5.535278134572973, 13.679284315722684],
  },
  {
    q: 0.05,
    sigma: 0.8,
    rdp: [0.007410724685494642, 0.00938267764472453, 0.013705231228916169, 0.037545195051855655, 4.483925079896887, 21.907631201492652, 46.174699463969326, 96.98067928334714],
  },
];

describe('RDP accountant for the sampled Gaussian mechanism', () => {
  it.each(EPSILON_REFERENCE)('q=$q σ=$sigma steps=$steps δ=$delta gives ε=$epsilon (dp-accounting 0.6.0)', ({ q, sigma, steps, delta, epsilon, order }) => {
    const result = epsilonFor(rdpSampledGaussian(q, sigma, steps, RDP_ORDERS), RDP_ORDERS, delta);
    expectClose(result.epsilon, epsilon, 1e-9);
    expect(result.order).toBe(order);
  });

  it.each(RDP_REFERENCE)('RDP of one step at integer and fractional orders, q=$q σ=$sigma', ({ q, sigma, rdp }) => {
    rdpSampledGaussian(q, sigma, 1, RDP_REFERENCE_ORDERS).forEach((value, i) => expectClose(value, rdp[i], 1e-9));
  });

  it('the orders are dp-accounting’s defaults: 1.1..10.9 by 0.1, 11..63, then 128 to 1024', () => {
    expect(RDP_ORDERS).toHaveLength(99 + 53 + 4);
    expect(RDP_ORDERS.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(RDP_ORDERS.slice(97, 101)).toEqual([10.8, 10.9, 11, 12]);
    expect(RDP_ORDERS.slice(-5)).toEqual([63, 128, 256, 512, 1024]);
  });

  it('steps compose linearly, and the conversion is rdp + log((α−1)/α) − (log δ + log α)/(α−1)', () => {
    const one = rdpSampledGaussian(0.1, 2, 1);
    rdpSampledGaussian(0.1, 2, 37).forEach((value, i) => expectClose(value, 37 * one[i], 1e-12));
    const alpha = 8;
    const rdp = 0.7;
    const delta = 1e-5;
    const expected = rdp + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    expectClose(epsilonFor([rdp], [alpha], delta).epsilon, expected, 1e-12);
  });

  it('edge cases: no sampling costs nothing, no noise costs everything, δ = 0 needs zero RDP', () => {
    expect(epsilonFor(rdpSampledGaussian(0, 1, 100), RDP_ORDERS, 1e-5).epsilon).toBe(0);
    expect(epsilonFor(rdpSampledGaussian(0.1, 0, 1), RDP_ORDERS, 1e-5).epsilon).toBe(Infinity);
    expect(epsilonFor(rdpSampledGaussian(0.1, 1, 1), RDP_ORDERS, 0).epsilon).toBe(Infinity);
    expect(() => rdpSampledGaussian(1.5, 1, 1)).toThrow(DomainError);
  });

  it('PrivacyAccountant composes heterogeneous rounds and reports per-round and cumulative ε', () => {
    const accountant = new PrivacyAccountant();
    for (let i = 0; i < 50; i++) accountant.record(0.1, 2);
    for (let i = 0; i < 50; i++) accountant.record(0.05, 1.5);
    // dp-accounting 0.6.0: 50 × (q=0.1, σ=2) then 50 × (q=0.05, σ=1.5), δ=1e-5.
    const spent = accountant.spent(1e-5);
    expectClose(spent.epsilon, 2.2486657481592354, 1e-9);
    expect(spent.order).toBe(8.3);

    const report = accountant.report(1e-5);
    expect(report).toHaveLength(100);
    expectClose(report[0].roundEpsilon, 0.5259327241842917, 1e-9); // one round of (0.1, 2)
    expectClose(report[0].cumulativeEpsilon, 0.5259327241842917, 1e-9);
    expectClose(report[49].cumulativeEpsilon, 1.843951861015158, 1e-9); // 50 rounds of (0.1, 2)
    expectClose(report[50].roundEpsilon, 0.6594329558822429, 1e-9); // one round of (0.05, 1.5)
    expectClose(report[99].cumulativeEpsilon, spent.epsilon, 1e-12);
    for (let i = 1; i < report.length; i++) expect(report[i].cumulativeEpsilon).toBeGreaterThanOrEqual(report[i - 1].cumulativeEpsilon);

    // The state survives a JSON round trip (continue-as-new).
    const restored = new PrivacyAccountant(undefined, JSON.parse(JSON.stringify(accountant)));
    expect(restored.spent(1e-5)).toEqual(spent);
    expect(restored.report(1e-5)[99]).toEqual(report[99]);
  });
});

describe('L2 clipping', () => {
  it('vectors over the bound are scaled onto it, never above, keeping their direction', () => {
    for (const [dimension, norm, clip] of [
      [10, 5, 1],
      [1000, 123.4, 0.1],
      [100000, 3, 2.5],
    ] as const) {
      const v = vectorWithNorm(dimension, norm, dimension);
      const result = clipL2(v, clip);
      expect(result.clipped).toBe(true);
      expectClose(result.norm, norm, 1e-5);
      expect(l2Norm(result.vector)).toBeLessThanOrEqual(clip);
      expectClose(l2Norm(result.vector), clip, 1e-5);
      let dot = 0;
      for (let i = 0; i < dimension; i++) dot += v[i] * result.vector[i];
      expectClose(dot / (l2Norm(v) * l2Norm(result.vector)), 1, 1e-6);
    }
  });

  it('vectors under the bound are returned unchanged, as a copy', () => {
    const v = vectorWithNorm(500, 0.7, 1);
    const clipped = clipToNorm(v, 1);
    expect(clipped).toEqual(v);
    expect(clipped).not.toBe(v);
    expect(clipL2(v, 1).clipped).toBe(false);
    expectDomainError(() => clipToNorm(v, 0));
  });
});

function expectDomainError(fn: () => unknown): void {
  expect(fn).toThrow(DomainError);
}

describe('Gaussian noise', () => {
  it('a seeded sampler gives the requested std (and zero mean) within sampling tolerance, reproducibly', () => {
    const n = 200_000;
    const noised = gaussianNoise(new Float32Array(n), 0.5, seededRandom(42));
    const { mean, std } = meanAndStd(noised);
    // Standard errors: mean 0.5/√n ≈ 0.0011, std 0.5/√(2n) ≈ 0.0008.
    expect(Math.abs(mean)).toBeLessThan(0.006);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.005);
    expect(gaussianNoise(new Float32Array(10), 0.5, seededRandom(42))).toEqual(noised.slice(0, 10));
    expect(gaussianNoise(new Float32Array([1, 2]), 0, seededRandom(1))).toEqual(new Float32Array([1, 2]));
  });

  it('the production source is the OS CSPRNG, uniform in [0, 1)', () => {
    const random = cryptoUniform(64);
    const draws = Array.from({ length: 20_000 }, random);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(Math.abs(meanAndStd(draws).mean - 0.5)).toBeLessThan(0.02);
    const { std } = meanAndStd(gaussianNoise(new Float32Array(50_000), 2, cryptoUniform()));
    expect(Math.abs(std - 2)).toBeLessThan(0.05);
  });
});

describe('local DP on the agent', () => {
  it('clips, then adds noise with std Δ·√(2 ln(1.25/δ))/ε', () => {
    const config = { clipNorm: 1, epsilon: 0.5, delta: 1e-5 };
    const std = localDpStd(config);
    expectClose(std, Math.sqrt(2 * Math.log(1.25e5)) / 0.5, 1e-12);
    const update = vectorWithNorm(50_000, 10, 5);
    const release = applyLocalDp(update, config, seededRandom(9));
    expect(release.clipped).toBe(true);
    expectClose(release.norm, 10, 1e-5);
    const clipped = clipToNorm(update, 1);
    const noise = release.update.map((v, i) => v - clipped[i]);
    expect(Math.abs(meanAndStd(noise).std - std)).toBeLessThan(0.02 * std);
  });

  it('can be calibrated by noise multiplier instead, and refuses ε ≥ 1 for the classic bound', () => {
    expect(localDpStd({ clipNorm: 2, noiseMultiplier: 1.5 })).toBe(3);
    expect(() => localDpStd({ clipNorm: 1, epsilon: 2, delta: 1e-5 })).toThrow(/0 < ε < 1/);
  });
});
