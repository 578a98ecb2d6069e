import {
  accuracyAllowsLowCarbon,
  carbonIntensity,
  declaredCapacity,
  oortExploration,
  oortUtility,
  recordFeedback,
  selectParticipants,
  type AgentFeedback,
  type SelectionCandidate,
  type SelectionRequest,
} from '../../core/selection';

const agents = (count: number): SelectionCandidate[] =>
  Array.from({ length: count }, (_, i) => ({ agentId: `a${String(i).padStart(3, '0')}` }));

const request = (overrides: Partial<SelectionRequest>): SelectionRequest => ({
  strategy: 'uniform',
  candidates: agents(20),
  wanted: 5,
  seed: 7,
  round: 1,
  attempt: 1,
  lastParticipation: {},
  ...overrides,
});

describe('uniform selection (Flower’s default)', () => {
  it('chooses the same agents for the same seed, round and attempt, whatever order the directory lists them in', () => {
    const first = selectParticipants(request({}));
    const reversed = selectParticipants(request({ candidates: agents(20).reverse() }));
    expect(first.participants).toHaveLength(5);
    expect(reversed).toEqual(first);
    expect(first.participants).toEqual([...first.participants].sort());
  });

  it('draws another sample in another round, and every agent about equally often over many rounds', () => {
    const counts = new Map<string, number>();
    const samples = new Set<string>();
    for (let round = 1; round <= 2000; round++) {
      const { participants } = selectParticipants(request({ round }));
      samples.add(participants.join(','));
      for (const id of participants) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // 2,000 uniform draws of the 15,504 five-agent sets give about 1,877 distinct ones.
    expect(samples.size).toBeGreaterThan(1820);
    expect(samples.size).toBeLessThan(1930);
    // 2,000 rounds × 5 of 20: 500 each; a binomial sd of about 19.
    for (const id of agents(20).map((a) => a.agentId)) {
      expect(counts.get(id)).toBeGreaterThan(420);
      expect(counts.get(id)).toBeLessThan(580);
    }
  });

  it('ignores how long agents waited, where longest-waiting does not', () => {
    const lastParticipation = Object.fromEntries(agents(20).map((a, i) => [a.agentId, i < 5 ? 0 : 3]));
    const waiting = selectParticipants(request({ strategy: 'longest-waiting', lastParticipation, round: 4 }));
    expect(waiting.participants).toEqual(['a000', 'a001', 'a002', 'a003', 'a004']);
    const picks = new Set<string>();
    for (let round = 4; round < 24; round++) {
      for (const id of selectParticipants(request({ lastParticipation, round })).participants) picks.add(id);
    }
    expect(picks.size).toBeGreaterThan(15);
  });

  it('asks everyone when fewer are eligible than wanted, and no one when no one is', () => {
    expect(selectParticipants(request({ candidates: agents(3), wanted: 5 })).participants).toEqual(['a000', 'a001', 'a002']);
    expect(selectParticipants(request({ candidates: [], wanted: 5 })).participants).toEqual([]);
  });
});

describe('longest-waiting selection (the behaviour before strategies)', () => {
  it('asks never-selected agents first, then those that took part longest ago, ties in seeded order', () => {
    const lastParticipation = { a000: 3, a001: 1, a002: 2, a003: 1 };
    const { participants } = selectParticipants(
      request({ strategy: 'longest-waiting', candidates: agents(5), wanted: 3, lastParticipation }),
    );
    // a004 never took part; a001 and a003 waited since round 1.
    expect(participants).toEqual(['a001', 'a003', 'a004']);
  });
});

describe('resource-aware selection', () => {
  it('prefers agents that declare more capacity without shutting the others out', () => {
    const candidates: SelectionCandidate[] = agents(20).map((a, i) => ({
      ...a,
      resources: { cpu: i < 10 ? 8 : 1, memoryMb: 1024 },
    }));
    const counts = { big: 0, small: 0 };
    for (let round = 1; round <= 500; round++) {
      for (const id of selectParticipants(request({ strategy: 'resource-aware', candidates, round })).participants) {
        if (Number(id.slice(1)) < 10) counts.big++;
        else counts.small++;
      }
    }
    expect(counts.big).toBeGreaterThan(4 * counts.small);
    expect(counts.small).toBeGreaterThan(0);
  });

  it('reads capacity as declared speed, else cores × (1 + GPUs), else 1', () => {
    expect(declaredCapacity(undefined)).toBe(1);
    expect(declaredCapacity({ cpu: 4, memoryMb: 1 })).toBe(4);
    expect(declaredCapacity({ cpu: 4, memoryMb: 1, gpu: 1 })).toBe(8);
    expect(declaredCapacity({ cpu: 4, memoryMb: 1, energy: { source: 'grid', speed: 2.5 } })).toBe(2.5);
  });
});

describe('carbon-aware selection', () => {
  const candidates: SelectionCandidate[] = [
    { agentId: 'coal', resources: { cpu: 1, memoryMb: 1, energy: { source: 'grid', carbonGPerKWh: 800 } } },
    { agentId: 'wind', resources: { cpu: 1, memoryMb: 1, energy: { source: 'wind' } } },
    { agentId: 'sun-later', resources: { cpu: 1, memoryMb: 1, energy: { source: 'mixed', carbonGPerKWh: 600, forecast: [{ atMs: 1000, gPerKWh: 20 }] } } },
    { agentId: 'unknown' },
    { agentId: 'grid', resources: { cpu: 1, memoryMb: 1, energy: { source: 'grid' } } },
  ];

  it('asks the agents on the lowest-carbon power at the round’s start, reading forecasts there', () => {
    const early = selectParticipants(request({ strategy: 'carbon-aware', candidates, wanted: 2, atMs: 0 }));
    expect(early).toEqual({ participants: ['grid', 'wind'], lowCarbon: true });
    const later = selectParticipants(request({ strategy: 'carbon-aware', candidates, wanted: 2, atMs: 1000 }));
    expect(later.participants).toEqual(['sun-later', 'wind']);
  });

  it('samples uniformly in a round where accuracy does not allow the preference', () => {
    const fallback = selectParticipants(request({ strategy: 'carbon-aware', candidates, wanted: 2, preferLowCarbon: false }));
    expect(fallback.lowCarbon).toBe(false);
    expect(fallback.participants).toEqual(selectParticipants(request({ candidates, wanted: 2 })).participants);
  });

  it('allows the preference unless the latest accuracy fell more than the tolerance below the best', () => {
    expect(accuracyAllowsLowCarbon([])).toBe(true);
    expect(accuracyAllowsLowCarbon([0.5, undefined, 0.7, 0.695])).toBe(true);
    expect(accuracyAllowsLowCarbon([0.5, 0.7, 0.65])).toBe(false);
    expect(accuracyAllowsLowCarbon([0.5, 0.7, 0.65], 0.1)).toBe(true);
  });

  it('reads intensity from the forecast, then the declared figure, then the source; unknown last', () => {
    expect(carbonIntensity(undefined, 0)).toBe(Infinity);
    expect(carbonIntensity({ source: 'other' }, 0)).toBe(Infinity);
    expect(carbonIntensity({ source: 'solar' }, 0)).toBe(48);
    expect(carbonIntensity({ source: 'grid', carbonGPerKWh: 300, forecast: [{ atMs: 10, gPerKWh: 100 }] }, 9)).toBe(300);
    expect(carbonIntensity({ source: 'grid', carbonGPerKWh: 300, forecast: [{ atMs: 10, gPerKWh: 100 }] }, 10)).toBe(100);
  });
});

describe('Oort selection (Lai et al., OSDI 2021)', () => {
  const context = { maxUtility: 100, preferredDurationMs: 1000, penaltyExponent: 2 };

  it('scores an agent by its normalised statistical utility plus a staleness bonus, penalised when slow', () => {
    const fast: AgentFeedback = { round: 4, utility: 50, durationMs: 800 };
    // 0.5 + sqrt(0.1 ln 5 / 4)
    expect(oortUtility(fast, 5, context)).toBeCloseTo(0.5 + Math.sqrt((0.1 * Math.log(5)) / 4), 12);
    // twice as slow as preferred: a quarter of that
    expect(oortUtility({ ...fast, durationMs: 2000 }, 5, context)).toBeCloseTo(oortUtility(fast, 5, context) / 4, 12);
    // not seen for longer: a larger bonus
    expect(oortUtility({ ...fast, round: 1 }, 5, context)).toBeGreaterThan(oortUtility(fast, 5, context));
  });

  it('explores 90% of the places in round 1, decaying by 0.98 a round to at least 30%, unless fixed', () => {
    expect(oortExploration(1)).toBeCloseTo(0.9, 12);
    expect(oortExploration(2)).toBeCloseTo(0.882, 12);
    expect(oortExploration(200)).toBe(0.3);
    expect(oortExploration(7, 0.1)).toBe(0.1);
  });

  it('exploits the agents of highest utility and explores agents never tried, as many as epsilon says', () => {
    const feedback: Record<string, AgentFeedback> = {};
    for (let i = 0; i < 10; i++) feedback[`a${String(i).padStart(3, '0')}`] = { round: 1, utility: i < 3 ? 100 : 1, durationMs: 500 };
    const chosen = selectParticipants(
      request({ strategy: 'oort', wanted: 5, round: 2, feedback, options: { explorationFraction: 0.4, preferredDurationMs: 1000 } }),
    );
    expect(chosen.exploring).toBe(2);
    const tried = chosen.participants.filter((id) => feedback[id]);
    expect(tried.sort()).toEqual(['a000', 'a001', 'a002']);
    expect(chosen.participants.filter((id) => !feedback[id])).toHaveLength(2);
  });

  it('passes over agents slower than the preferred duration when as useful fast ones are there', () => {
    const feedback: Record<string, AgentFeedback> = {};
    for (let i = 0; i < 6; i++) feedback[`a00${i}`] = { round: 1, utility: 10, durationMs: i < 3 ? 4000 : 900 };
    const chosen = selectParticipants(
      request({ strategy: 'oort', candidates: agents(6), wanted: 3, round: 2, feedback, options: { preferredDurationMs: 1000 } }),
    );
    expect(chosen).toEqual({ participants: ['a003', 'a004', 'a005'], exploring: 0 });
  });

  it('explores more when too few agents were tried, and exploits more when none are left untried', () => {
    const few = selectParticipants(request({ strategy: 'oort', wanted: 5, feedback: { a000: { round: 1, utility: 1, durationMs: 1 } }, options: { explorationFraction: 0 } }));
    expect(few.exploring).toBe(4);
    const all = Object.fromEntries(agents(20).map((a) => [a.agentId, { round: 1, utility: 1, durationMs: 1 }]));
    expect(selectParticipants(request({ strategy: 'oort', wanted: 5, feedback: all })).exploring).toBe(0);
  });

  it('is the same for the same seed and feedback', () => {
    const feedback = Object.fromEntries(agents(12).map((a, i) => [a.agentId, { round: 1 + (i % 3), utility: i, durationMs: 100 * i }]));
    const once = selectParticipants(request({ strategy: 'oort', wanted: 6, round: 5, feedback }));
    expect(selectParticipants(request({ strategy: 'oort', wanted: 6, round: 5, feedback, candidates: agents(20).reverse() }))).toEqual(once);
  });

  it('learns utility as examples × loss and charges silent agents the timeout', () => {
    const next = recordFeedback({ old: { round: 1, utility: 3, durationMs: 10 } }, 2, ['a', 'b', 'c'], [
      { agentId: 'a', examples: 40, loss: 0.5, durationMs: 120 },
      { agentId: 'b', examples: 10, durationMs: 80 },
    ], 5000);
    expect(next).toEqual({
      old: { round: 1, utility: 3, durationMs: 10 },
      a: { round: 2, utility: 20, durationMs: 120 },
      b: { round: 2, utility: 10, durationMs: 80 },
      c: { round: 2, utility: 0, durationMs: 5000 },
    });
    // Kept to six significant digits and whole milliseconds: the record travels in history.
    expect(recordFeedback(undefined, 3, ['d'], [{ agentId: 'd', examples: 3, loss: 0.123456789, durationMs: 12.7 }], 5000)).toEqual({
      d: { round: 3, utility: 0.370370, durationMs: 13 },
    });
  });
});
