// The planted-strategy evaluation and the sweep workflow with behaviors and
// skills in a real Milvus (HNSW): the same thresholds as the in-memory run
// (test/behaviors-evaluation.test.ts explains them).
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryCluster } from '../adapters/memory/cluster';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { MilvusVectors } from '../adapters/milvus/vectors';
import type { Embedded } from '../workers/embedded';
import { dropSwarmCollections, runPlantedStrategyEvaluation, summarise, type EvaluationResult } from './support/behavior-evaluation';
import { requireTestMilvus } from './support/milvus';
import { startTestEmbedded } from './support/stack';

jest.setTimeout(300_000);

describe('behavior discovery finds planted strategies (Milvus)', () => {
  let stack: Embedded;
  let result: EvaluationResult;

  beforeAll(async () => {
    const ports = {
      messaging: new MemoryMessaging(),
      vectors: new MilvusVectors({ address: requireTestMilvus() }),
      cluster: new MemoryCluster(),
      blobs: new MemoryBlobStore(),
    };
    stack = await startTestEmbedded(
      { QP_BEHAVIOR_DIMENSION: '16', QP_BEHAVIOR_DRAIN_IDLE_MS: '300', QP_BEHAVIOR_SWEEP_CRON: 'off' },
      ports,
    );
    result = await runPlantedStrategyEvaluation(stack, { seed: 11, agents: 30, episodesBefore: 8, episodesAfter: 4 });
  });

  afterAll(async () => {
    if (result && process.env.QP_EVAL_VERBOSE) console.log(summarise(result));
    if (result) await dropSwarmCollections(stack, result.swarmId);
    await stack?.stop();
  });

  it('stores every accepted report in the swarm collection in Milvus', () => {
    expect(result.first.counts).toMatchObject({ received: 240, accepted: 240, archive: 240 });
    expect(result.second.counts.archive).toBe(360);
  });

  it('finds every planted strategy and passes over the decoy', () => {
    expect({ recall: result.detection.recall, matches: result.detection.matches }).toMatchObject({ recall: 1 });
    expect(result.detection.precision).toBeGreaterThanOrEqual(0.75);
    expect(result.decoysDetected).toBe(0);
  });

  it('after dissemination the swarm mean fitness rises', () => {
    expect(result.second.meanFitness).toBeGreaterThan(result.first.meanFitness + 0.15);
  });
});
