// FedNova (Wang et al. 2020) on hand-computed cases: local moves are averaged per step and
// scaled back by the effective step count, so agents that ran more steps do not dominate.
import { createStrategy, type ModelUpdate } from '../../core/aggregation';
import { FedNovaAccumulator } from '../../core/aggregation/fednova';
import { seededRandom } from '../../core/random';

function update(agentId: string, params: number[], examples: number, steps?: number): ModelUpdate {
  return { agentId, examples, params: Float32Array.from(params), steps };
}

function fedNova(global: number[], updates: ModelUpdate[]): number[] {
  const round = createStrategy('fednova').start(Float32Array.from(global), { round: 0, vectors: {} });
  for (const u of updates) round.add(u);
  return Array.from(round.finish().params);
}

describe('FedNova', () => {
  it('averages the moves per step and scales by the effective steps: [5, 2.5] where FedAvg gives [5, 1]', () => {
    // a: n 10, 2 steps, moved [2, 4] -> [1, 2] a step; b: n 30, 6 steps, moved [6, 0] -> [1, 0] a step.
    // p = [1/4, 3/4]; Σ p d = [1, 0.5]; tau_eff = 1/4·2 + 3/4·6 = 5; g' = 0 + 5·[1, 0.5].
    const updates = [update('a', [2, 4], 10, 2), update('b', [6, 0], 30, 6)];
    expect(fedNova([0, 0], updates)).toEqual([5, 2.5]);
    const avg = createStrategy('fedavg').start(new Float32Array(2), { round: 0, vectors: {} });
    for (const u of updates) avg.add(u);
    expect(Array.from(avg.finish().params)).toEqual([5, 1]);
  });

  it('moves from a non-zero global model: g = [1, 1] with one step and four steps gives [2.25, 3.5]', () => {
    // d_a = [1, 0] (1 step), d_b = [0, 8] / 4 = [0, 2]; p = 1/2 each; tau_eff = 2.5.
    expect(fedNova([1, 1], [update('a', [2, 1], 1, 1), update('b', [1, 9], 1, 4)])).toEqual([2.25, 3.5]);
  });

  it('is the example-weighted mean when every agent ran the same number of steps', () => {
    expect(fedNova([0, 0], [update('a', [1, 3], 1, 5), update('b', [4, 0], 2, 5)])).toEqual([3, 1]);
    // Agents that did not report their steps count as one step each: FedAvg again.
    expect(fedNova([7, 7], [update('a', [1, 3], 1), update('b', [4, 0], 2)])).toEqual([3, 1]);
  });

  it('gives identical bits for any arrival order', () => {
    const random = seededRandom(5);
    const dimension = 97;
    const global = Float32Array.from({ length: dimension }, () => random() - 0.5);
    const updates = Array.from({ length: 9 }, (_, k) =>
      update(`a${k}`, Array.from({ length: dimension }, () => (random() - 0.5) * 10 ** (k % 4)), 1 + k * 7, 1 + ((k * 5) % 11)),
    );
    const reference = fedNova(Array.from(global), updates);
    for (let trial = 0; trial < 4; trial++) {
      const shuffled = [...updates].sort(() => random() - 0.5);
      expect(Buffer.from(Float32Array.from(fedNova(Array.from(global), shuffled)).buffer)).toEqual(
        Buffer.from(Float32Array.from(reference).buffer),
      );
    }
  });

  it('refuses an update that claims no completed step', () => {
    const folded = new FedNovaAccumulator(2);
    expect(() => folded.add({ examples: 1, params: new Float32Array(2), steps: 0 })).toThrow(/at least one completed local step/);
  });
});
