// Shared test vectors of the data split the TypeScript digits example and simulator use
// (core/partition.ts), computed from fixed inputs. The Python SDK's port (qp_agent/partition.py)
// is checked against the file (test/fixtures/partition-vectors.json) by its pytest suite, and
// test/partition-vectors.test.ts checks the file against these functions, so a Python agent and a
// TypeScript one of the same seed train on the same shard.
// Rewrite the file: npx tsx test/support/partition-vectors.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digitsAgentData } from '../../agents/trainers';
import { digitsSplit, loadDigits } from '../../adapters/datasets/digits';
import { dirichletPartition, iidPartition } from '../../core/partition';
import { gamma, seededRandom } from '../../core/random';

export const PARTITION_VECTORS_FILE = join(__dirname, '..', 'fixtures', 'partition-vectors.json');

interface DirichletCase {
  name: string;
  labels: number[];
  agents: number;
  alpha: number;
  seed: number;
  minPerAgent: number;
  parts: number[][];
}

export interface PartitionVectors {
  /** Gamma(shape) draws of one seeded stream, in order: the sampler under every Dirichlet draw. */
  gamma: { seed: number; shapes: number[]; draws: number[] };
  dirichlet: DirichletCase[];
  iid: { count: number; agents: number; seed: number; parts: number[][] }[];
  /** The digits example's agents (agents/trainers.ts digitsAgentData): indices into the whole data set. */
  digits: { agents: number; alpha: number; seed: number; shards: { train: number[]; heldOut: number[] }[] }[];
}

function dirichletCase(name: string, labels: number[], agents: number, alpha: number, seed: number, minPerAgent = 1): DirichletCase {
  return { name, labels, agents, alpha, seed, minPerAgent, parts: dirichletPartition(labels, agents, alpha, seed, minPerAgent) };
}

export function computePartitionVectors(): PartitionVectors {
  const random = seededRandom(7);
  const shapes = [0.1, 0.5, 1, 2.5, 0.5, 9];
  const draws = shapes.map((shape) => gamma(random, shape));
  const data = loadDigits();
  const trainLabels = digitsSplit().train.map((i) => data.labels[i]);
  const small = Array.from({ length: 60 }, (_, i) => (i * 7) % 5);
  return {
    gamma: { seed: 7, shapes, draws },
    dirichlet: [
      dirichletCase('digits training labels, Dirichlet(0.5) over 3 agents', trainLabels, 3, 0.5, 11),
      dirichletCase('digits training labels, Dirichlet(0.5) over 10 agents', trainLabels, 10, 0.5, 42),
      dirichletCase('digits training labels, Dirichlet(0.1) over 7 agents, at least 40 each (redraws)', trainLabels, 7, 0.1, 3, 40),
      dirichletCase('60 examples of 5 classes, Dirichlet(1) over 4 agents', small, 4, 1, 5),
      dirichletCase('more agents than the data serves: topped up with replacement', small.slice(0, 12), 8, 0.3, 9, 3),
    ],
    iid: [{ count: 50, agents: 4, seed: 1, parts: iidPartition(50, 4, 1) }],
    digits: [
      { agents: 3, alpha: 0.5, seed: 11, shards: digitsAgentData({ agents: 3, alpha: 0.5, seed: 11 }) },
    ],
  };
}

if (require.main === module) {
  writeFileSync(PARTITION_VECTORS_FILE, `${JSON.stringify(computePartitionVectors())}\n`);
  console.log(`wrote ${PARTITION_VECTORS_FILE}`);
}
