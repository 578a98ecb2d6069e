// The shared vectors of the data split (test/fixtures/partition-vectors.json) are what
// core/partition.ts computes now; the Python SDK's port (agents/python/qp_agent/partition.py)
// is held to the same file by its pytest suite (tests/test_partition.py), so a Python agent
// gets the TypeScript agent's shard for the same seed.
import { readFileSync } from 'node:fs';
import { computePartitionVectors, PARTITION_VECTORS_FILE, type PartitionVectors } from './support/partition-vectors';

describe('shared data-split vectors', () => {
  const stored = JSON.parse(readFileSync(PARTITION_VECTORS_FILE, 'utf8')) as PartitionVectors;

  it('the vectors file is what the TypeScript functions compute now (rewrite: npx tsx test/support/partition-vectors.ts)', () => {
    expect(stored).toEqual(computePartitionVectors());
  });

  it('holds a Dirichlet(0.5) split of the digits training labels in which every example lands exactly once', () => {
    const digits = stored.dirichlet.find((c) => c.alpha === 0.5 && c.agents === 3)!;
    expect(digits.labels.length).toBeGreaterThan(1000);
    expect(digits.parts.flat().sort((a, b) => a - b)).toEqual(digits.labels.map((_, i) => i));
    expect(stored.digits[0]).toMatchObject({ agents: 3, alpha: 0.5, seed: 11 });
    expect(stored.digits[0].shards).toHaveLength(3);
  });
});
