// Shamir t-of-n secret sharing over GF(p), p = 2^521 − 1 (a Mersenne prime),
// large enough to share a 32-byte secret (self-mask seed or X25519 scalar)
// as one field element.
import { DomainError } from '../errors';
import type { RandomSource } from './crypto';

/** The field modulus, 2^521 − 1. */
export const SHAMIR_PRIME = (1n << 521n) - 1n;

/** One share: the evaluation point x (1-based) and the value y as lower-case hex. */
export interface Share {
  x: number;
  y: string;
}

function mod(a: bigint): bigint {
  const r = a % SHAMIR_PRIME;
  return r < 0n ? r + SHAMIR_PRIME : r;
}

function inverse(a: bigint): bigint {
  // Extended Euclid; a is non-zero mod p.
  let [r0, r1] = [mod(a), SHAMIR_PRIME];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function randomElement(random: RandomSource): bigint {
  // 80 bytes reduced mod p: the bias is below 2^-115.
  return mod(bytesToBigInt(random(80)));
}

/** Splits a secret (at most 64 bytes) into one share per x in `xs`; any `threshold` of them rebuild it. */
export function splitSecret(secret: Uint8Array, threshold: number, xs: number[], random: RandomSource): Share[] {
  if (secret.length > 64) throw new DomainError('INVALID_ARGUMENT', 'Shamir secrets are at most 64 bytes');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length) {
    throw new DomainError('INVALID_ARGUMENT', `threshold ${threshold} must be in 1..${xs.length}`);
  }
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new DomainError('INVALID_ARGUMENT', 'share points must be distinct positive integers');
  }
  const coefficients = [bytesToBigInt(secret)];
  for (let i = 1; i < threshold; i++) coefficients.push(randomElement(random));
  return xs.map((x) => {
    const bx = BigInt(x);
    let y = 0n;
    for (let i = coefficients.length - 1; i >= 0; i--) y = mod(y * bx + coefficients[i]);
    return { x, y: y.toString(16) };
  });
}

/** Rebuilds a secret of `length` bytes from the first `threshold` shares (Lagrange interpolation at 0). */
export function combineShares(shares: Share[], threshold: number, length: number): Uint8Array {
  if (shares.length < threshold) {
    throw new DomainError('UNAVAILABLE', `need ${threshold} shares, have ${shares.length}`);
  }
  const used = shares.slice(0, threshold);
  if (new Set(used.map((s) => s.x)).size !== used.length) {
    throw new DomainError('INVALID_ARGUMENT', 'duplicate share points');
  }
  const xs = used.map((s) => BigInt(s.x));
  let secret = 0n;
  for (let i = 0; i < used.length; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < used.length; j++) {
      if (j === i) continue;
      num = mod(num * xs[j]);
      den = mod(den * (xs[j] - xs[i]));
    }
    const y = parseShareValue(used[i].y);
    secret = mod(secret + y * num * inverse(den));
  }
  const hex = secret.toString(16);
  if (hex.length > length * 2) {
    throw new DomainError('INVALID_ARGUMENT', 'reconstructed value does not fit the secret: shares are inconsistent');
  }
  return new Uint8Array(Buffer.from(hex.padStart(length * 2, '0'), 'hex'));
}

function parseShareValue(hex: string): bigint {
  if (!/^[0-9a-f]{1,131}$/.test(hex)) throw new DomainError('INVALID_ARGUMENT', 'malformed share value');
  const y = BigInt(`0x${hex}`);
  if (y >= SHAMIR_PRIME) throw new DomainError('INVALID_ARGUMENT', 'share value outside the field');
  return y;
}
