// Evaluation: does the sweep find the strategies the simulator planted, and
// does dissemination raise the swarm's fitness? Real Temporal, real worker and
// API, the reference SDK agents, in-memory messaging and vectors (the Milvus
// run is test/behaviors-milvus.test.ts).
//
// The world (agents/simulate-behaviors.ts, seed 7): 30 agents on 3 baseline
// strategies (fitness 0.5); 3 planted strategies (fitness 0.8-0.95), each
// discovered by 2 agents at episode 3, 4 or 5; 1 decoy (novel, fitness 0.2)
// discovered by 2 agents. Strategy centres are at least 1.5 apart; an agent's
// behavior strays 0.03 per component (about 0.12 in 16 dimensions).
//
// Thresholds, and why:
// - recall = 1: every planted strategy is shown by 2 agents for 3-5 episodes,
//   i.e. 6-10 reports, at least minPts (3) and fewer than k (15), so they stay
//   novel and dense; centres 1.5 apart against 0.12 of noise leave DBSCAN no
//   excuse to miss or merge one. Missing one is a bug, not bad luck.
// - precision >= 0.75: the only sanctioned error is one extra cluster beside
//   three good ones (e.g. a planted strategy split in two by an unlucky draw);
//   a detected decoy or baseline cluster on top of a miss fails it. The decoy
//   is checked on its own too: it is novel, so only the fitness floor stops it.
// - fitness rises by more than 0.15 after dissemination: 80% of the agents
//   adopt a skill worth 0.8-0.95 instead of a baseline worth 0.5, so the mean
//   should climb by about 0.3; half of that leaves room for the agents that
//   adopt a lesser skill or none.
import type { Embedded } from '../workers/embedded';
import { dropSwarmCollections, runPlantedStrategyEvaluation, summarise, type EvaluationResult } from './support/behavior-evaluation';
import { startTestEmbedded } from './support/stack';

jest.setTimeout(180_000);

describe('behavior discovery finds planted strategies (in-memory vectors)', () => {
  let stack: Embedded;
  let result: EvaluationResult;

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_BEHAVIOR_DIMENSION: '16',
      QP_BEHAVIOR_DRAIN_IDLE_MS: '300',
      QP_BEHAVIOR_SWEEP_CRON: 'off',
    });
    result = await runPlantedStrategyEvaluation(stack, { seed: 7, agents: 30, episodesBefore: 8, episodesAfter: 4 });
  });

  afterAll(async () => {
    if (result && process.env.QP_EVAL_VERBOSE) console.log(summarise(result));
    if (result) await dropSwarmCollections(stack, result.swarmId);
    await stack?.stop();
  });

  it('the first sweep accepts every report of the 30 agents over 8 episodes', () => {
    expect(result.first.counts).toMatchObject({ received: 240, accepted: 240, rejected: 0, archive: 240 });
  });

  it('finds every planted strategy (recall 1) and little else (precision >= 0.75)', () => {
    const { detection } = result;
    // On failure, the matches say what each detected strategy was nearest to.
    expect({ recall: detection.recall, matches: detection.matches }).toMatchObject({ recall: 1 });
    expect(detection.precision).toBeGreaterThanOrEqual(0.75);
    expect(detection.discoverable).toBe(3);
  });

  it('passes over the decoy: novel, but worse than what the swarm does', () => {
    expect(result.decoysDetected).toBe(0);
  });

  it('names the discoverers as the agents of each planted strategy', () => {
    for (const match of result.detection.matches.filter((m) => m.planted)) {
      const planted = result.world.planted.find((p) => p.name === match.nearest)!;
      const strategy = result.first.strategies.find((s) => s.strategyId === match.strategyId)!;
      expect(strategy.agents).toEqual(planted.discoverers);
    }
  });

  it('after dissemination the agents adopt skills and the swarm mean fitness rises', () => {
    expect(result.adoptions).toBeGreaterThan(10);
    // As the sweeps measure it, from the agents' own reports...
    expect(result.second.meanFitness).toBeGreaterThan(result.first.meanFitness + 0.15);
    // ...and as the simulation sees it, noise-free.
    expect(result.simulatedAfter).toBeGreaterThan(result.simulatedBefore + 0.15);
  });

  it('an adopted strategy is no longer novel: the second sweep does not report it again', () => {
    const again = result.second.strategies.filter((s) => s.agentCount > 6);
    expect(again).toEqual([]);
  });
});
