// The pure pipeline of behavior discovery: novelty, DBSCAN, candidate
// selection, strategies, report validation. Hand-made cases with known answers.
import { dbscan, NOISE } from '../../core/behaviors/dbscan';
import { descriptorDistance, distanceBetween, median, novelty } from '../../core/behaviors/novelty';
import { discoverStrategies, resolveParameters, selectCandidates } from '../../core/behaviors/strategies';
import { behaviorCollection, skillCollection } from '../../core/behaviors/collections';
import { DEFAULT_SWEEP_PARAMETERS, type ScoredBehavior } from '../../core/behaviors/types';
import { behaviorId, validateBehaviorReport } from '../../core/behaviors/validation';

const euclid = (a: number[], b: number[]) => distanceBetween('L2', a, b);

function scored(id: string, descriptor: number[], fitness: number, noveltyScore: number, agentId = id.split(':')[0]): ScoredBehavior {
  return { behaviorId: id, agentId, episodeId: id.split(':')[1] ?? 'e0', descriptor, fitness, novelty: noveltyScore, neighbours: 5 };
}

describe('novelty', () => {
  it('is the mean Euclidean distance to the k nearest others, the behavior itself left out', () => {
    // The port reports squared L2: 0 (itself), 1, 4, 9, 16 -> distances 1, 2, 3, 4.
    const hits = [
      { id: 'self', distance: 0 },
      { id: 'a', distance: 1 },
      { id: 'b', distance: 4 },
      { id: 'c', distance: 9 },
      { id: 'd', distance: 16 },
    ];

    expect(novelty('self', hits, 3, 'L2')).toEqual({ novelty: 2, neighbours: 3 });
    expect(novelty('self', hits, 10, 'L2')).toEqual({ novelty: 2.5, neighbours: 4 });
  });

  it('takes COSINE distances as they come (1 - similarity)', () => {
    expect(novelty('x', [{ id: 'y', distance: 0.5 }, { id: 'z', distance: 1.5 }], 2, 'COSINE').novelty).toBe(1);
    expect(descriptorDistance('COSINE', 0.25)).toBe(0.25);
  });

  it('is infinite for a behavior alone in its archive', () => {
    expect(novelty('only', [{ id: 'only', distance: 0 }], 5, 'L2')).toEqual({ novelty: Infinity, neighbours: 0 });
  });

  it('works out distances in descriptor units for both metrics', () => {
    expect(distanceBetween('L2', [0, 0], [3, 4])).toBe(5);
    expect(distanceBetween('COSINE', [1, 0], [0, 2])).toBeCloseTo(1, 12);
    expect(distanceBetween('COSINE', [0, 0], [1, 1])).toBe(1);
  });

  it('median ignores infinities and is 0 for nothing', () => {
    expect(median([3, 1, Infinity, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBe(0);
  });
});

describe('DBSCAN', () => {
  it('finds two dense groups and leaves the lone point as noise', () => {
    const points = [
      [0, 0], [0, 1], [1, 0], [1, 1], // square A
      [10, 10], [10, 11], [11, 10], // triangle B
      [50, 50], // alone
    ];

    const labels = dbscan(points, 1.5, 3, euclid);

    expect(labels).toEqual([0, 0, 0, 0, 1, 1, 1, NOISE]);
  });

  it('chains core points into one cluster and attaches border points', () => {
    // A line with spacing 1: every inner point has 3 within eps=1 (itself and two neighbours).
    const line = [0, 1, 2, 3, 4, 5].map((x) => [x, 0]);
    // A point 1 beyond the end: within eps of the end point but itself not core.
    const labels = dbscan([...line, [6, 0.5]], 1.2, 3, euclid);

    expect(labels).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('with minPts above every neighbourhood, everything is noise', () => {
    expect(dbscan([[0], [1], [2]], 1, 4, euclid)).toEqual([NOISE, NOISE, NOISE]);
  });

  it('with minPts 1, every point is a cluster of its neighbourhood', () => {
    expect(dbscan([[0], [0.5], [5]], 1, 1, euclid)).toEqual([0, 0, 1]);
  });

  it('refuses a negative eps and a non-integer minPts', () => {
    expect(() => dbscan([[0]], -1, 2, euclid)).toThrow(/eps/);
    expect(() => dbscan([[0]], 1, 1.5, euclid)).toThrow(/minPts/);
  });

  it('handles no points', () => {
    expect(dbscan([], 1, 2, euclid)).toEqual([]);
  });
});

describe('candidate selection and strategies', () => {
  // Baseline: 20 behaviors around the origin (novelty ~0.1, fitness 0.5);
  // a good novel group around (5, 5) (novelty 3, fitness 0.9) shown by two agents;
  // a bad novel group around (-5, 5) (novelty 3, fitness 0.1).
  const baseline = Array.from({ length: 20 }, (_, i) => scored(`base${i}:e0`, [0.01 * i, 0], 0.5, 0.1));
  const good = [
    scored('alice:e1', [5, 5], 0.9, 3),
    scored('alice:e2', [5.1, 5], 0.92, 3),
    scored('bob:e1', [5, 5.1], 0.88, 3),
    scored('bob:e2', [5.05, 5.05], 0.9, 3),
  ];
  const bad = [scored('carol:e1', [-5, 5], 0.1, 3), scored('carol:e2', [-5.1, 5], 0.1, 3), scored('dan:e1', [-5, 5.1], 0.1, 3)];
  const all = [...baseline, ...good, ...bad];

  it("resolves 'auto' from the sweep's median novelty and 'mean' from its mean fitness", () => {
    const resolved = resolveParameters(all, DEFAULT_SWEEP_PARAMETERS, 'L2', 2);

    expect(resolved.noveltyThreshold).toBeCloseTo(3 * 0.1, 12);
    expect(resolved.eps).toBeCloseTo(2 * 0.1, 12);
    expect(resolved.fitnessFloor).toBeCloseTo((20 * 0.5 + 3.6 + 0.3) / 27, 12);
  });

  it('keeps what is both novel enough and fit enough, most novel first', () => {
    const picked = selectCandidates(all, { noveltyThreshold: 1, fitnessFloor: 0.5 });

    expect(picked.map((b) => b.behaviorId).sort()).toEqual(good.map((b) => b.behaviorId).sort());
  });

  it('makes one strategy of the good group, with its medoid, size, fitness and agents', () => {
    const discovery = discoverStrategies(all, { ...DEFAULT_SWEEP_PARAMETERS, eps: 0.5, minPts: 3 }, {
      metric: 'L2',
      dimension: 2,
      reportId: 'sweep-x',
    });

    expect(discovery.candidates).toBe(4);
    expect(discovery.clustered).toBe(4);
    expect(discovery.noise).toBe(0);
    expect(discovery.strategies).toHaveLength(1);
    const [strategy] = discovery.strategies;
    expect(strategy).toMatchObject({
      strategyId: 'sweep-x-s1',
      rank: 1,
      size: 4,
      agentCount: 2,
      agents: ['alice', 'bob'],
      maxFitness: 0.92,
      meanNovelty: 3,
    });
    expect(strategy.meanFitness).toBeCloseTo(0.9, 12);
    expect(strategy.representative.behaviorId).toBe('bob:e2'); // the member nearest all others
    expect(strategy.behaviorIds[0]).toBe('bob:e2');
    expect(strategy.centroid[0]).toBeCloseTo(5.0375, 12);
    expect(strategy.centroid[1]).toBeCloseTo(5.0375, 12);
  });

  it('ranks strategies by mean fitness and cuts at maxStrategies', () => {
    const better = [
      scored('erin:e1', [9, -9], 0.99, 3),
      scored('erin:e2', [9, -9.1], 0.99, 3),
      scored('erin:e3', [9.1, -9], 0.99, 3),
    ];
    const parameters = { ...DEFAULT_SWEEP_PARAMETERS, eps: 0.5, minPts: 3, fitnessFloor: 0 };

    const both = discoverStrategies([...all, ...better], parameters, { metric: 'L2', dimension: 2, reportId: 'r' });
    const one = discoverStrategies([...all, ...better], { ...parameters, maxStrategies: 1 }, { metric: 'L2', dimension: 2, reportId: 'r' });

    expect(both.strategies.map((s) => s.agents)).toEqual([['erin'], ['alice', 'bob'], ['carol', 'dan']]);
    expect(one.strategies.map((s) => s.strategyId)).toEqual(['r-s1']);
  });

  it('finds nothing in a sweep without reports', () => {
    const discovery = discoverStrategies([], DEFAULT_SWEEP_PARAMETERS, { metric: 'L2', dimension: 2, reportId: 'r' });

    expect(discovery).toMatchObject({ candidates: 0, clustered: 0, noise: 0, strategies: [], meanFitness: 0 });
  });
});

describe('behavior report validation', () => {
  const good = { agentId: 'agent-1', episodeId: 'ep-7', descriptor: [0.1, 0.2, 0.3], fitness: 0.5, timestamp: 1_700_000_000_000 };

  it('accepts a well-formed report and names its behavior by agent and episode', () => {
    expect(validateBehaviorReport(good, 3)).toEqual({ ok: true, value: good });
    expect(behaviorId('agent-1', 'ep-7')).toBe('agent-1:ep-7');
  });

  it.each([
    ['wrong_dimension', 'a descriptor of 2 components', { descriptor: [1, 2] }],
    ['not_finite', 'a NaN component', { descriptor: [1, Number.NaN, 3] }],
    ['not_finite', 'an infinite component', { descriptor: [1, Infinity, 3] }],
    ['not_finite', 'a NaN fitness', { fitness: Number.NaN }],
    ['malformed', 'a descriptor that is not an array', { descriptor: 'no' }],
    ['malformed', 'a string component', { descriptor: [1, '2', 3] }],
    ['malformed', 'an agent id with a space', { agentId: 'has space' }],
    ['malformed', 'an empty episode id', { episodeId: '' }],
    ['malformed', 'a string fitness', { fitness: '0.5' }],
    ['malformed', 'an unreadable timestamp', { timestamp: 'yesterday' }],
    ['malformed', 'a context that is an array', { context: [1] }],
    ['malformed', 'a context over 2 KB', { context: { blob: 'x'.repeat(3000) } }],
  ])('refuses as %s: %s', (reason, _what, change) => {
    const result = validateBehaviorReport({ ...good, ...change }, 3);

    expect(result).toMatchObject({ ok: false, reason });
    // The refusal names the field at fault: the one the case changed.
    expect(result).toMatchObject({ field: Object.keys(change)[0] });
  });

  it('accepts an ISO-8601 timestamp', () => {
    const result = validateBehaviorReport({ ...good, timestamp: '2026-11-25T10:00:00Z' }, 3);

    expect(result).toMatchObject({ ok: true, value: { timestamp: Date.parse('2026-11-25T10:00:00Z') } });
  });
});

describe('collection names', () => {
  it('are valid Milvus names for any swarm id, and differ for ids that map to the same characters', () => {
    for (const name of [behaviorCollection('swarm-eu.west'), skillCollection('swarm-eu.west')]) {
      expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]{0,254}$/);
    }
    expect(behaviorCollection('a-b')).not.toBe(behaviorCollection('a.b'));
    expect(behaviorCollection('x')).not.toBe(skillCollection('x'));
  });
});
