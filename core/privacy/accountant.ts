// Rényi-DP accountant for the Poisson-sampled Gaussian mechanism (Mironov
// 2017; Mironov, Talwar & Zhang 2019), composed over rounds and converted to
// (ε, δ). A port of Google's dp_accounting 0.6.0 `rdp_privacy_accountant`
// (`_compute_rdp_poisson_subsampled_gaussian`, `compute_epsilon`), checked
// against it in test/core/privacy.test.ts.
//
// Pure arithmetic (its one import is pure too): the federatedTuning workflow
// runs it in Temporal's deterministic sandbox.
import { DomainError } from '../errors';

/**
 * Default RDP orders, dp_accounting's DEFAULT_RDP_ORDERS: 1.1, 1.2, …, 10.9 (fractional),
 * 11, …, 63 (integer), and 128, 256, 512, 1024 for tiny-q, many-step regimes.
 */
export const RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/** RDP ε(α) at each order of `steps` compositions of the Gaussian mechanism with Poisson sampling rate q and noise multiplier σ. */
export function rdpSampledGaussian(q: number, noiseMultiplier: number, steps: number, orders: readonly number[] = RDP_ORDERS): number[] {
  if (!(q >= 0 && q <= 1)) throw invalid(`sampling rate must be in [0, 1], got ${q}`);
  if (!(noiseMultiplier >= 0)) throw invalid(`noise multiplier must be non-negative, got ${noiseMultiplier}`);
  if (!(Number.isInteger(steps) && steps >= 0)) throw invalid(`steps must be a non-negative integer, got ${steps}`);
  return orders.map((alpha) => {
    if (!(alpha > 1)) throw invalid(`RDP orders must exceed 1, got ${alpha}`);
    if (q === 0 || steps === 0) return 0;
    if (!Number.isFinite(alpha) || noiseMultiplier === 0) return Infinity;
    if (q === 1) return (steps * alpha) / (2 * noiseMultiplier ** 2);
    return (steps * logA(q, noiseMultiplier, alpha)) / (alpha - 1);
  });
}

/**
 * Smallest ε over the orders such that the mechanism is (ε, δ)-DP. Conversion of
 * Balle et al. 2020 (Prop. 12) / Asoodeh et al. 2020, as dp_accounting and Opacus use:
 *   ε(α) = rdp(α) + log((α−1)/α) − (log δ + log α)/(α−1),   for α > 1.01,
 * with ε = 0 where δ² > 1 − e^{−rdp} (the KL bound suffices), and the result floored at 0.
 */
export function epsilonFor(rdp: readonly number[], orders: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta >= 0)) throw invalid(`delta must be non-negative, got ${delta}`);
  if (rdp.length !== orders.length) throw invalid('rdp and orders must have the same length');
  if (delta === 0) return rdp.every((r) => r === 0) ? { epsilon: 0, order: 0 } : { epsilon: Infinity, order: 0 };
  let best = Infinity;
  let bestOrder = orders[0] ?? 0;
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i];
    const r = rdp[i];
    if (a < 1) throw invalid(`RDP orders must be at least 1, got ${a}`);
    let epsilon: number;
    if (r < 0) epsilon = 0;
    else if (delta ** 2 + Math.expm1(-r) > 0) epsilon = 0;
    else if (a > 1.01) epsilon = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else epsilon = Infinity;
    if (epsilon < best) {
      best = epsilon;
      bestOrder = a;
    }
  }
  return { epsilon: Math.max(0, best), order: bestOrder };
}

/** One recorded round (or batch of identical rounds) of the sampled Gaussian mechanism. */
export interface PrivacyRound {
  /** Poisson sampling rate: sampled agents / eligible agents. */
  q: number;
  /** Noise std / L2 sensitivity (clip norm). */
  noiseMultiplier: number;
  /** Identical compositions recorded at once. */
  steps: number;
}

export interface PrivacyReport {
  round: number;
  q: number;
  noiseMultiplier: number;
  /** ε of this round alone at the report's δ. */
  roundEpsilon: number;
  /** ε of all rounds up to and including this one. */
  cumulativeEpsilon: number;
  /** The optimal RDP order of the cumulative bound. */
  order: number;
  delta: number;
}

/** Serialisable accountant state (e.g. carried through continue-as-new). */
export interface PrivacyAccountantState {
  orders: number[];
  rdp: number[];
  rounds: PrivacyRound[];
}

/** Records rounds of the sampled Gaussian mechanism and reports (ε, δ) per round and cumulative. */
export class PrivacyAccountant {
  private readonly orders: number[];
  private rdp: number[];
  private readonly rounds: PrivacyRound[];
  /** One-step RDP curves by (q, σ): rounds usually repeat the same pair, and each curve costs ~100 series. */
  private readonly stepCurves = new Map<string, number[]>();

  constructor(orders: readonly number[] = RDP_ORDERS, state?: PrivacyAccountantState) {
    this.orders = [...(state?.orders ?? orders)];
    this.rdp = state ? [...state.rdp] : this.orders.map(() => 0);
    this.rounds = state ? state.rounds.map((r) => ({ ...r })) : [];
  }

  /** Composes `steps` rounds at sampling rate q and noise multiplier σ. */
  record(q: number, noiseMultiplier: number, steps = 1): void {
    const step = this.roundCurve(q, noiseMultiplier, steps);
    this.rdp = this.rdp.map((value, i) => value + step[i]);
    this.rounds.push({ q, noiseMultiplier, steps });
  }

  private roundCurve(q: number, noiseMultiplier: number, steps: number): number[] {
    const key = `${q}/${noiseMultiplier}`;
    let one = this.stepCurves.get(key);
    if (!one) {
      one = rdpSampledGaussian(q, noiseMultiplier, 1, this.orders);
      this.stepCurves.set(key, one);
    }
    return one.map((value) => value * steps);
  }

  /** Total (ε, δ) spent so far. */
  spent(delta: number): { epsilon: number; delta: number; order: number } {
    return { ...epsilonFor(this.rdp, this.orders, delta), delta };
  }

  /** Per recorded round: its own ε and the cumulative ε after it, at δ. */
  report(delta: number): PrivacyReport[] {
    let cumulative = this.orders.map(() => 0);
    return this.rounds.map((round, i) => {
      const own = this.roundCurve(round.q, round.noiseMultiplier, round.steps);
      cumulative = cumulative.map((value, j) => value + own[j]);
      const total = epsilonFor(cumulative, this.orders, delta);
      return {
        round: i + 1,
        q: round.q,
        noiseMultiplier: round.noiseMultiplier,
        roundEpsilon: epsilonFor(own, this.orders, delta).epsilon,
        cumulativeEpsilon: total.epsilon,
        order: total.order,
        delta,
      };
    });
  }

  /** The accumulated RDP curve at this accountant's orders. */
  get curve(): { orders: number[]; rdp: number[] } {
    return { orders: [...this.orders], rdp: [...this.rdp] };
  }

  /** Plain-JSON state; `new PrivacyAccountant(undefined, state)` restores it. */
  toJSON(): PrivacyAccountantState {
    return { orders: [...this.orders], rdp: [...this.rdp], rounds: this.rounds.map((r) => ({ ...r })) };
  }
}

const invalid = (message: string): DomainError => new DomainError('INVALID_ARGUMENT', message);

// ---- log A_α of the sampled Gaussian (Mironov, Talwar & Zhang 2019) ----

function logA(q: number, sigma: number, alpha: number): number {
  return Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
}

function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

function logComb(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

function logAInt(q: number, sigma: number, alpha: number): number {
  let result = -Infinity;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  for (let i = 0; i <= alpha; i++) {
    const coef = logComb(alpha, i) + i * logq + (alpha - i) * log1mq;
    result = logAdd(result, coef + (i * i - i) / (2 * sigma ** 2));
  }
  return result;
}

const MAX_STEPS_LOG_A_FRAC = 1000;

// Sec. 3.3 of Mironov, Talwar & Zhang 2019: the two halves of A_α around z0 as
// erfc-weighted series. Like dp_accounting, an order whose series does not
// settle within 1000 terms yields +∞ and so drops out of the minimum.
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma ** 2 * Math.log(1 / q - 1) + 0.5;
  const log1mq = Math.log1p(-q);
  const logq = Math.log(q);
  let lastS0 = -Infinity;
  let lastS1 = -Infinity;
  for (let i = 0; i < MAX_STEPS_LOG_A_FRAC; i++) {
    const coef = logComb(alpha, i);
    const j = alpha - i;
    const logT0 = coef + i * logq + j * log1mq;
    const logT1 = coef + j * logq + i * log1mq;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma ** 2) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma ** 2) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    const total = logAdd(logA0, logA1);
    if (logS0 < lastS0 && logS1 < lastS1 && Math.max(logS0, logS1) < total - 30) return total;
    lastS0 = logS0;
    lastS1 = logS1;
  }
  return Infinity;
}

// ---- special functions (double precision) ----

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log |Γ(x)| (Lanczos, g = 7; reflection below ½), as scipy's gammaln. */
export function logGamma(x: number): number {
  if (x < 0.5) {
    // Γ(x)Γ(1−x) = π / sin(πx); poles give +∞.
    const s = Math.sin(Math.PI * x);
    if (s === 0) return Infinity;
    return Math.log(Math.PI / Math.abs(s)) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log erfc(x), accurate in the far tail (no underflow). */
export function logErfc(x: number): number {
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 2.5) return Math.log1p(-erfSeries(x));
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - 0.5 * Math.log(Math.PI) - Math.log(f);
}

// erf(x) = 2/√π · e^{−x²} · Σ_n 2^n x^{2n+1} / (2n+1)!!: all terms positive, no cancellation.
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}
