// DBSCAN (Ester et al., 1996): density-based clustering that needs no count of
// clusters up front and leaves isolated points as noise. O(n^2) distances,
// which is fine for the few thousand candidates of a sweep (callers cap n).

export const NOISE = -1;

/**
 * Cluster label of every point: 0, 1, ... in order of discovery, or NOISE.
 * A point is core when at least minPts points (itself included) lie within
 * eps of it; clusters are the core points reachable from one another plus the
 * non-core points within eps of them (border points join the first cluster
 * that reaches them).
 */
export function dbscan<T>(
  points: readonly T[],
  eps: number,
  minPts: number,
  distance: (a: T, b: T) => number,
): number[] {
  if (!(eps >= 0)) throw new Error(`eps must be a non-negative number, got ${eps}`);
  if (!Number.isInteger(minPts) || minPts < 1) throw new Error(`minPts must be a positive integer, got ${minPts}`);
  const n = points.length;
  const neighbours: number[][] = Array.from({ length: n }, (_, i) => [i]);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (distance(points[i], points[j]) <= eps) {
        neighbours[i].push(j);
        neighbours[j].push(i);
      }
    }
  }
  const UNVISITED = -2;
  const labels = new Array<number>(n).fill(UNVISITED);
  let cluster = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== UNVISITED) continue;
    if (neighbours[i].length < minPts) {
      labels[i] = NOISE;
      continue;
    }
    labels[i] = cluster;
    const queue = [...neighbours[i]];
    for (let q = 0; q < queue.length; q++) {
      const j = queue[q];
      if (labels[j] === NOISE) labels[j] = cluster;
      if (labels[j] !== UNVISITED) continue;
      labels[j] = cluster;
      if (neighbours[j].length >= minPts) queue.push(...neighbours[j]);
    }
    cluster++;
  }
  return labels;
}
