// The sparse neighbour graph of SecAgg+ (Bell et al. 2020): a Harary-style
// k-regular ring over a seeded random permutation of the agents, so every
// agent shares secrets with and masks against `degree` others instead of all.
import { DomainError } from '../errors';
import { seededRandomSource, type RandomSource } from './crypto';

function uniformInt(random: RandomSource, bound: number): number {
  // Rejection sampling over 32-bit words: no modulo bias.
  const limit = Math.floor(0x1_0000_0000 / bound) * bound;
  for (;;) {
    const b = random(4);
    const w = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    if (w < limit) return w % bound;
  }
}

/**
 * Neighbour lists (sorted, symmetric, without self) for `ids`. Each agent gets exactly
 * `degree` neighbours; `degree` must be even when the agent count is odd (see resolveGraphParameters).
 */
export function neighbourGraph(ids: readonly string[], degree: number, seed: string): Map<string, string[]> {
  const n = ids.length;
  if (new Set(ids).size !== n) throw new DomainError('INVALID_ARGUMENT', 'agent ids must be distinct');
  if (degree < 1 || degree > n - 1) throw new DomainError('INVALID_ARGUMENT', `degree ${degree} must be in 1..${n - 1}`);
  if (degree % 2 === 1 && n % 2 === 1) {
    throw new DomainError('INVALID_ARGUMENT', 'no regular graph of odd degree over an odd number of agents');
  }
  const order = [...ids].sort();
  const random = seededRandomSource(`graph/${seed}`);
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(random, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const sets = new Map(order.map((id) => [id, new Set<string>()]));
  const link = (a: number, b: number): void => {
    sets.get(order[a])!.add(order[b]);
    sets.get(order[b])!.add(order[a]);
  };
  if (degree === n - 1) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) link(i, j);
  } else {
    const half = Math.floor(degree / 2);
    for (let i = 0; i < n; i++) for (let k = 1; k <= half; k++) link(i, (i + k) % n);
    if (degree % 2 === 1) for (let i = 0; i < n / 2; i++) link(i, i + n / 2);
  }
  return new Map([...sets].map(([id, set]) => [id, [...set].sort()]));
}
