// Novelty search (Lehman & Stanley): a behavior is novel when it is far from
// what the swarm has done before, measured as the mean distance to its k
// nearest neighbours in the archive of past and current behaviors.
import type { BehaviorMetric } from './types';

/** A neighbour as the vector port reports it: squared L2, or 1 - cosine similarity. */
export interface Neighbour {
  id: string;
  distance: number;
}

/**
 * Turns a port distance into descriptor units: Euclidean distance for L2 (the
 * port reports it squared), 1 - cosine similarity (0..2) for COSINE.
 */
export function descriptorDistance(metric: BehaviorMetric, portDistance: number): number {
  return metric === 'L2' ? Math.sqrt(Math.max(0, portDistance)) : Math.max(0, portDistance);
}

/** Distance between two descriptors in descriptor units (see descriptorDistance). */
export function distanceBetween(metric: BehaviorMetric, a: readonly number[], b: readonly number[]): number {
  if (metric === 'L2') {
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
    return Math.sqrt(sum);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const norms = Math.sqrt(na) * Math.sqrt(nb);
  return norms === 0 ? 1 : Math.max(0, 1 - dot / norms);
}

/**
 * Novelty of one behavior: the mean distance (descriptor units) to its k
 * nearest neighbours other than itself. Neighbours come from a kNN search for
 * k + 1 (the behavior is stored before it is scored, so it finds itself).
 * With no neighbour at all the behavior is as novel as can be: Infinity.
 */
export function novelty(
  selfId: string,
  neighbours: readonly Neighbour[],
  k: number,
  metric: BehaviorMetric,
): { novelty: number; neighbours: number } {
  const others = neighbours.filter((n) => n.id !== selfId).slice(0, k);
  if (others.length === 0) return { novelty: Number.POSITIVE_INFINITY, neighbours: 0 };
  const sum = others.reduce((total, n) => total + descriptorDistance(metric, n.distance), 0);
  return { novelty: sum / others.length, neighbours: others.length };
}

/** Median of finite values (0 when there are none). */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return 0;
  const middle = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2;
}
