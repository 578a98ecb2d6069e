// Splitting a labelled data set across agents, as federated benchmarks do.
import { gamma, seededRandom, shuffle } from './random';

/**
 * Non-IID split: for each class, proportions drawn from Dirichlet(alpha) over
 * the agents decide how that class's examples are dealt (smaller alpha, more
 * skew). Redraws until every agent holds at least minPerAgent examples; when
 * the swarm is too large for that (more agents than the data can serve under
 * this skew), the last draw is kept and each agent short of minPerAgent is
 * topped up with examples sampled with replacement, so shards then overlap.
 * Returns, per agent, example indices in ascending order.
 */
export function dirichletPartition(
  labels: ArrayLike<number>,
  agents: number,
  alpha: number,
  seed: number,
  minPerAgent = 1,
): number[][] {
  if (labels.length === 0 && minPerAgent > 0) throw new Error('no examples to split');
  const random = seededRandom(seed);
  const classes = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = classes.get(labels[i]) ?? [];
    list.push(i);
    classes.set(labels[i], list);
  }
  const sortedClasses = [...classes.keys()].sort((a, b) => a - b);
  // Redraws cost agents x classes gamma draws each: bounded to a few hundred thousand in all,
  // and one draw only when no split can give every agent minPerAgent distinct examples.
  const possible = agents * minPerAgent <= labels.length;
  const attempts = possible ? Math.min(1000, Math.max(3, Math.floor(2e5 / (agents * Math.max(1, sortedClasses.length))))) : 1;
  let parts: number[][] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    parts = Array.from({ length: agents }, () => []);
    for (const label of sortedClasses) {
      const indices = shuffle([...classes.get(label)!], random);
      const draws = Array.from({ length: agents }, () => gamma(random, alpha));
      const total = draws.reduce((a, b) => a + b, 0);
      let start = 0;
      let cumulative = 0;
      for (let agent = 0; agent < agents; agent++) {
        cumulative += draws[agent] / total;
        const end = agent === agents - 1 ? indices.length : Math.round(cumulative * indices.length);
        parts[agent].push(...indices.slice(start, end));
        start = end;
      }
    }
    if (parts.every((part) => part.length >= minPerAgent)) return parts.map((part) => part.sort((a, b) => a - b));
  }
  for (const part of parts) {
    while (part.length < minPerAgent) part.push(Math.floor(random() * labels.length));
  }
  return parts.map((part) => part.sort((a, b) => a - b));
}

/** IID split: a seeded shuffle dealt round-robin. */
export function iidPartition(count: number, agents: number, seed: number): number[][] {
  const order = shuffle(
    Array.from({ length: count }, (_, i) => i),
    seededRandom(seed),
  );
  const parts: number[][] = Array.from({ length: agents }, () => []);
  order.forEach((index, i) => parts[i % agents].push(index));
  return parts.map((part) => part.sort((a, b) => a - b));
}
