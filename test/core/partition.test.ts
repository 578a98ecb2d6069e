import { dirichletPartition, iidPartition } from '../../core/partition';
import { seededRandom } from '../../core/random';

const labels = (count: number, classes: number, seed: number): number[] => {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Math.floor(random() * classes));
};

describe('splitting a data set across agents', () => {
  it('a Dirichlet split deals every example exactly once when the swarm is small enough', () => {
    const data = labels(1437, 10, 1);
    const parts = dirichletPartition(data, 20, 0.5, 3);
    expect(parts).toHaveLength(20);
    expect(parts.every((part) => part.length >= 1)).toBe(true);
    expect(parts.flat().sort((a, b) => a - b)).toEqual(data.map((_, i) => i));
    expect(dirichletPartition(data, 20, 0.5, 3)).toEqual(parts);
  });

  it('a swarm larger than the data can serve still gets a split: every agent holds an example, shards overlap, the same for the same seed', () => {
    const data = labels(1437, 10, 2);
    for (const agents of [1000, 10_000]) {
      const parts = dirichletPartition(data, agents, 0.5, 7);
      expect(parts).toHaveLength(agents);
      expect(parts.every((part) => part.length >= 1 && part.every((i) => i >= 0 && i < data.length))).toBe(true);
      expect(dirichletPartition(data, agents, 0.5, 7)).toEqual(parts);
    }
  });

  it('an IID split deals examples round-robin after a seeded shuffle', () => {
    const parts = iidPartition(10, 3, 5);
    expect(parts.map((part) => part.length)).toEqual([4, 3, 3]);
    expect(parts.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
