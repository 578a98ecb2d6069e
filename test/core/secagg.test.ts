import { DomainError } from '../../core/errors';
import { seededRandom } from '../../core/random';
import {
  createSecAggAgent,
  createSecAggServer,
  decodeUint32,
  neighbourGraph,
  quantizationErrorBound,
  recommendedDegree,
  seededRandomSource,
  toleratedDropoutFraction,
  type AgentMessage,
  type SecAggAgent,
  type SecAggConfig,
  type UnmaskRequest,
} from '../../core/secagg';
import { quantizeInto } from '../../core/secagg/quantize';
import { combineShares, splitSecret } from '../../core/secagg/shamir';
import { runSecAggRound } from '../support/secagg-round';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `agent-${String(i).padStart(2, '0')}`);

function randomUpdates(agents: string[], dimension: number, seed: number, scale = 1): Map<string, Float32Array> {
  const random = seededRandom(seed);
  return new Map(agents.map((id) => [id, Float32Array.from({ length: dimension }, () => (random() * 2 - 1) * scale)]));
}

/** Plain float64 sum of the updates of `who`, each element clipped to ±clipRange. */
function plainSum(updates: Map<string, Float32Array>, who: string[], clipRange: number): Float64Array {
  const dimension = updates.values().next().value!.length;
  const sum = new Float64Array(dimension);
  for (const id of who) updates.get(id)!.forEach((v, i) => (sum[i] += Math.max(-clipRange, Math.min(clipRange, v))));
  return sum;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]));
  return worst;
}

/** Quantisation bound plus float32 rounding of the returned sum (half an ulp at its magnitude, doubled for slack). */
function sumBound(count: number, config: Required<Pick<SecAggConfig, 'clipRange' | 'quantizationLevels'>>, rounding: 'stochastic' | 'nearest', plain: Float64Array): number {
  return quantizationErrorBound(count, config.clipRange, config.quantizationLevels, rounding) + maxAbs(plain) * 2 ** -23;
}

function expectDomainError(fn: () => unknown, code: string, message?: RegExp): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(code);
    if (message) expect((error as DomainError).message).toMatch(message);
    return error as DomainError;
  }
  throw new Error('expected a DomainError');
}

/** Pearson chi-square of uint32 values against uniform, over 2^bits equal buckets (top bits). */
function chiSquareUniform(values: Uint32Array, bits = 6): number {
  const buckets = 1 << bits;
  const counts = new Array<number>(buckets).fill(0);
  for (const v of values) counts[v >>> (32 - bits)]++;
  const expected = values.length / buckets;
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

/** Chi-square homogeneity statistic of two samples over the same buckets (2 × buckets table). */
function chiSquareTwoSample(a: Uint32Array, b: Uint32Array, bits = 6): number {
  const buckets = 1 << bits;
  const ca = new Array<number>(buckets).fill(0);
  const cb = new Array<number>(buckets).fill(0);
  for (const v of a) ca[v >>> (32 - bits)]++;
  for (const v of b) cb[v >>> (32 - bits)]++;
  const total = a.length + b.length;
  let stat = 0;
  for (let k = 0; k < buckets; k++) {
    const column = ca[k] + cb[k];
    if (column === 0) continue;
    const ea = (column * a.length) / total;
    const eb = (column * b.length) / total;
    stat += (ca[k] - ea) ** 2 / ea + (cb[k] - eb) ** 2 / eb;
  }
  return stat;
}

// 63 degrees of freedom (64 buckets), significance 0.001: scipy.stats.chi2.ppf(0.999, 63).
const CHI2_CRITICAL_63 = 103.44237731987324;

describe('SecAgg+ with no dropouts', () => {
  const clipRange = 2;
  const quantizationLevels = 2 ** 20;

  it('the unmasked sum equals the plain sum within the quantisation error bound (stochastic rounding: < n steps of 2c/R)', () => {
    const agents = ids(12);
    const updates = randomUpdates(agents, 2000, 1, 1.5);
    // Out-of-range elements are clipped to ±clipRange before quantisation.
    updates.get(agents[0])![0] = 100;
    updates.get(agents[1])![1] = -100;
    const result = runSecAggRound(updates, { roundId: 'no-dropouts', dimension: 2000, clipRange, quantizationLevels }, {}, { seed: 'a' });
    const plain = plainSum(updates, agents, clipRange);
    const bound = sumBound(agents.length, { clipRange, quantizationLevels }, 'stochastic', plain);
    expect(bound).toBeLessThan(1e-4);
    expect(maxAbsDiff(result.sum, plain)).toBeLessThanOrEqual(bound);
    expect(result.survivors).toEqual(agents);
    expect(result.dropouts).toEqual([]);
    expect(result.totalWeight).toBe(agents.length);
    expect(result.aborted).toEqual([]);
  });

  it('rounding to nearest halves the bound, with a sparse neighbour graph and modular arithmetic in Z_2^28', () => {
    const agents = ids(15);
    const updates = randomUpdates(agents, 500, 2);
    const config = { roundId: 'nearest', dimension: 500, clipRange, quantizationLevels: 2 ** 20, modBits: 28, degree: 6, rounding: 'nearest' as const };
    const result = runSecAggRound(updates, config, {}, { seed: 'b' });
    const plain = plainSum(updates, agents, clipRange);
    expect(result.degree).toBe(6);
    expect(result.threshold).toBe(4);
    expect(maxAbsDiff(result.sum, plain)).toBeLessThanOrEqual(sumBound(agents.length, config, 'nearest', plain));
  });

  it('weights riding masked inside the vector give the weighted mean, and the server learns only the total weight', () => {
    const agents = ids(8);
    const updates = randomUpdates(agents, 300, 3);
    const weights = new Map(agents.map((id, i) => [id, 10 + 37 * i]));
    const config: SecAggConfig = { roundId: 'weighted', dimension: 300, clipRange, quantizationLevels, weighting: 'masked', maxWeight: 1000 };
    const result = runSecAggRound(updates, config, {}, { seed: 'c', weights });
    const totalWeight = [...weights.values()].reduce((a, b) => a + b, 0);
    // Each weight is quantised to a multiple of maxWeight/R.
    expect(Math.abs(result.totalWeight - totalWeight)).toBeLessThanOrEqual((agents.length * 1000) / quantizationLevels);
    const weightedSum = new Float64Array(300);
    for (const id of agents) updates.get(id)!.forEach((v, i) => (weightedSum[i] += weights.get(id)! * v));
    // Per agent: one quantisation step (in weight units: × maxWeight) plus the weight's own rounding (½ step of maxWeight/R, times |x| ≤ c).
    const bound = agents.length * ((2 * clipRange) / quantizationLevels) * 1000 + agents.length * (0.5 * 1000 / quantizationLevels) * clipRange;
    expect(maxAbsDiff(result.sum, weightedSum)).toBeLessThanOrEqual(bound + maxAbs(weightedSum) * 2 ** -23);
    const mean = result.sum.map((s) => s / result.totalWeight);
    expect(maxAbsDiff(mean, weightedSum.map((s) => s / totalWeight))).toBeLessThan(1e-4);
    for (const message of result.serverInbox) expect(message).not.toHaveProperty('weight');
  });

  it("with weighting 'clear' each agent sends its weight in the clear next to the masked vector", () => {
    const agents = ids(5);
    const updates = randomUpdates(agents, 50, 4);
    const weights = new Map(agents.map((id, i) => [id, 100 * (i + 1)]));
    const result = runSecAggRound(updates, { roundId: 'clear', dimension: 50, weighting: 'clear' }, {}, { seed: 'd', weights });
    const sent = result.serverInbox.filter((m) => m.type === 'maskedInput').map((m) => (m as { weight?: number }).weight);
    // Weights are quantised like the vector's scale: to a multiple of maxWeight/R (1000/2^20).
    sent.forEach((w, i) => expect(Math.abs(w! - 100 * (i + 1))).toBeLessThanOrEqual(1000 / 2 ** 21));
    expect(result.totalWeight).toBeCloseTo(1500, 2);
  });
});

describe('SecAgg+ with dropouts', () => {
  const clipRange = 2;

  it('when 30% of agents drop after sharing keys, the server recovers exactly the survivors’ sum', () => {
    const agents = ids(20);
    const dropped = ['agent-01', 'agent-04', 'agent-07', 'agent-10', 'agent-13', 'agent-16']; // 30%
    const updates = randomUpdates(agents, 400, 5);
    const config: SecAggConfig = { roundId: 'dropouts', dimension: 400, clipRange, rounding: 'nearest' };
    const result = runSecAggRound(updates, config, { afterShareKeys: dropped }, { seed: 'e' });
    const survivors = agents.filter((id) => !dropped.includes(id));
    expect(result.degree).toBe(19);
    expect(result.threshold).toBe(10);
    expect(result.survivors).toEqual(survivors);
    expect(result.dropouts).toEqual(dropped);
    expect(result.droppedAfterShareKeys).toEqual(dropped);
    expect(result.totalWeight).toBe(survivors.length);

    // Exactly: with deterministic rounding the result is bit-identical to a round the dropouts never joined.
    const survivorsOnly = new Map(survivors.map((id) => [id, updates.get(id)!]));
    const reference = runSecAggRound(survivorsOnly, { ...config, roundId: 'reference' }, {}, { seed: 'f' });
    expect(result.sum).toEqual(reference.sum);
    const plain = plainSum(updates, survivors, clipRange);
    expect(maxAbsDiff(result.sum, plain)).toBeLessThanOrEqual(sumBound(survivors.length, { clipRange, quantizationLevels: 2 ** 20 }, 'nearest', plain));
  });

  it('on a sparse SecAgg+ graph (degree 12 of 30, threshold 7) a 20% dropout is recovered exactly too', () => {
    const agents = ids(30);
    const dropped = agents.filter((_, i) => i % 5 === 2); // 6 of 30
    const updates = randomUpdates(agents, 200, 12);
    const config: SecAggConfig = { roundId: 'sparse', dimension: 200, clipRange, degree: 12, threshold: 7, rounding: 'nearest' };
    const result = runSecAggRound(updates, config, { afterShareKeys: dropped }, { seed: 'sparse' });
    const survivors = agents.filter((id) => !dropped.includes(id));
    expect(result.survivors).toEqual(survivors);
    const survivorsOnly = new Map(survivors.map((id) => [id, updates.get(id)!]));
    expect(result.sum).toEqual(runSecAggRound(survivorsOnly, { ...config, roundId: 'sparse-reference' }, {}, { seed: 'g' }).sum);
  });

  it('the default degree grows like log n for a given dropout rate and stays complete for small rounds', () => {
    expect(recommendedDegree(20, 0.3)).toBe(19);
    const big = recommendedDegree(1000, 0.1);
    expect(big).toBeLessThan(60);
    expect(recommendedDegree(10000, 0.1)).toBeLessThan(big + 10);
    expect(toleratedDropoutFraction(big, Math.floor(big / 2) + 1)).toBeLessThan(0.5);
  });

  it('agents that drop at every stage are handled: before sharing, after sharing, and during unmasking', () => {
    const agents = ids(10);
    const updates = randomUpdates(agents, 100, 6);
    const result = runSecAggRound(
      updates,
      { roundId: 'stages', dimension: 100, clipRange, rounding: 'nearest' },
      { afterAdvertiseKeys: ['agent-00'], afterShareKeys: ['agent-03', 'agent-05'], afterMaskedInput: ['agent-07'] },
      { seed: 'g' },
    );
    // agent-07 sent its masked input and is in the sum even though it never helped unmask.
    const survivors = agents.filter((id) => !['agent-00', 'agent-03', 'agent-05'].includes(id));
    expect(result.survivors).toEqual(survivors);
    expect(result.dropouts).toEqual(['agent-00', 'agent-03', 'agent-05']);
    expect(result.droppedAfterShareKeys).toEqual(['agent-03', 'agent-05']);
    const plain = plainSum(updates, survivors, clipRange);
    expect(maxAbsDiff(result.sum, plain)).toBeLessThanOrEqual(sumBound(survivors.length, { clipRange, quantizationLevels: 2 ** 20 }, 'nearest', plain));
  });

  it('with more dropouts than the threshold allows, finish() fails with a clear error instead of returning garbage', () => {
    const agents = ids(12);
    const updates = randomUpdates(agents, 64, 7);
    const config: SecAggConfig = { roundId: 'too-many', dimension: 64, degree: 6, threshold: 4 };
    const server = createSecAggServer(config, agents);
    const clients = new Map(agents.map((id) => [id, createSecAggAgent(config, id, updates.get(id), { random: seededRandomSource(`h/${id}`) })]));
    for (const agent of clients.values()) server.receive(agent.advertiseKeys());
    for (const request of server.closeAdvertiseKeys()) server.receive(clients.get(request.to)!.shareKeys(request));
    const dropped = new Set(agents.slice(0, 7)); // 7 of 12 gone: at most 5 holders of any share can answer
    const live = server.closeShareKeys().filter((r) => !dropped.has(r.to));
    for (const request of live) server.receive(clients.get(request.to)!.maskedInput(request));
    for (const request of server.closeMaskedInput()) {
      try {
        server.receive(clients.get(request.to)!.unmask(request));
      } catch (error) {
        expect((error as DomainError).code).toBe('UNAVAILABLE'); // too few live neighbours: the agent aborts
      }
    }
    const error = expectDomainError(() => server.finish(), 'UNAVAILABLE', /cannot be unmasked: too many dropouts/);
    expect(error.details).toMatchObject({ reason: 'TOO_MANY_DROPOUTS', threshold: 4 });
    expect(server.stage).toBe('unmask');
  });

  it('runSecAggRound surfaces the same failure', () => {
    const agents = ids(10);
    expectDomainError(
      () => runSecAggRound(randomUpdates(agents, 16, 8), { roundId: 'sim-fail', dimension: 16, degree: 4 }, { afterShareKeys: agents.slice(0, 6) }, { seed: 'i' }),
      'UNAVAILABLE',
      /too many dropouts/,
    );
  });
});

describe('SecAgg+ privacy', () => {
  it('a masked vector is uniform whatever the input: an all-zero and a maximal update pass the same chi-square test', () => {
    const dimension = 16384;
    const agents = ['zero', 'large', 'other'];
    const updates = new Map([
      ['zero', new Float32Array(dimension)],
      ['large', new Float32Array(dimension).fill(8)],
      ['other', randomUpdates(['x'], dimension, 9, 8).get('x')!],
    ]);
    const { serverInbox } = runSecAggRound(updates, { roundId: 'uniform', dimension }, {}, { seed: 'chi-square' });
    const masked = (id: string) => decodeUint32((serverInbox.find((m) => m.type === 'maskedInput' && m.from === id) as { vector: string }).vector);
    const zero = masked('zero');
    const large = masked('large');
    expect(chiSquareUniform(zero)).toBeLessThan(CHI2_CRITICAL_63);
    expect(chiSquareUniform(large)).toBeLessThan(CHI2_CRITICAL_63);
    expect(chiSquareTwoSample(zero, large)).toBeLessThan(CHI2_CRITICAL_63);
    expect(agents.every((id) => chiSquareUniform(masked(id)) < CHI2_CRITICAL_63)).toBe(true);

    // The test has power: the same inputs quantised but unmasked are rejected outright.
    const unmasked = new Uint32Array(dimension);
    quantizeInto(updates.get('other')!, unmasked, { clipRange: 8, levels: 2 ** 20, rounding: 'nearest', scale: 1 }, seededRandomSource('q'));
    expect(chiSquareUniform(unmasked)).toBeGreaterThan(100 * CHI2_CRITICAL_63);
  });

  it('the server receives only public keys, sealed envelopes, masked vectors and one kind of share per agent', () => {
    const agents = ids(10);
    const dropped = ['agent-02', 'agent-06'];
    const result = runSecAggRound(randomUpdates(agents, 64, 10), { roundId: 'transcript', dimension: 64, degree: 6 }, { afterShareKeys: dropped }, { seed: 'j' });
    const inbox: AgentMessage[] = result.serverInbox;
    expect(new Set(inbox.map((m) => m.type))).toEqual(new Set(['advertiseKeys', 'encryptedShares', 'maskedInput', 'unmaskShares']));
    const allowedFields: Record<AgentMessage['type'], string[]> = {
      advertiseKeys: ['type', 'roundId', 'from', 'encryptionKey', 'maskingKey'],
      encryptedShares: ['type', 'roundId', 'from', 'selfMaskCommitment', 'envelopes'],
      maskedInput: ['type', 'roundId', 'from', 'vector'],
      unmaskShares: ['type', 'roundId', 'from', 'selfMaskShares', 'secretKeyShares'],
    };
    for (const message of inbox) expect(Object.keys(message).sort()).toEqual([...allowedFields[message.type]].sort());
    // Envelopes are opaque ciphertext: no share value, agent id or JSON structure in the clear.
    for (const message of inbox) {
      if (message.type !== 'encryptedShares') continue;
      for (const { box } of message.envelopes) {
        const bytes = Buffer.from(box, 'base64').toString('latin1');
        expect(bytes).not.toMatch(/selfMask|secretKey|agent-/);
      }
    }
    // For survivors only self-mask shares are revealed, for dropouts only secret-key shares:
    // no agent's b_u and s_u^SK are both exposed, so no single masked vector can be unmasked.
    const revealed = new Map<string, Set<string>>();
    for (const message of inbox) {
      if (message.type !== 'unmaskShares') continue;
      for (const { owner } of message.selfMaskShares) revealed.set(owner, (revealed.get(owner) ?? new Set()).add('selfMask'));
      for (const { owner } of message.secretKeyShares) revealed.set(owner, (revealed.get(owner) ?? new Set()).add('secretKey'));
    }
    for (const [owner, kinds] of revealed) {
      expect(kinds.size).toBe(1);
      expect([...kinds][0]).toBe(dropped.includes(owner) ? 'secretKey' : 'selfMask');
    }
    // Dropouts never sent a masked vector, so rebuilding their s^SK exposes no input.
    expect(inbox.filter((m) => m.type === 'maskedInput' && dropped.includes(m.from))).toEqual([]);
  });

  describe('an agent asked to reveal both secrets of the same peer refuses', () => {
    function agentsAtUnmask(): { agent: SecAggAgent; request: UnmaskRequest; peers: string[] } {
      const agents = ids(5);
      const config: SecAggConfig = { roundId: 'refuse', dimension: 8 };
      const server = createSecAggServer(config, agents);
      const clients = new Map(agents.map((id) => [id, createSecAggAgent(config, id, new Float32Array(8), { random: seededRandomSource(`k/${id}`) })]));
      for (const agent of clients.values()) server.receive(agent.advertiseKeys());
      for (const request of server.closeAdvertiseKeys()) server.receive(clients.get(request.to)!.shareKeys(request));
      for (const request of server.closeShareKeys()) server.receive(clients.get(request.to)!.maskedInput(request));
      const request = server.closeMaskedInput().find((r) => r.to === 'agent-00')!;
      return { agent: clients.get('agent-00')!, request, peers: request.survivors };
    }

    it('in one request listing a peer as both survivor and dropout', () => {
      const { agent, request, peers } = agentsAtUnmask();
      const error = expectDomainError(
        () => agent.unmask({ ...request, dropped: [peers[0]] }),
        'FORBIDDEN',
        /refuses to reveal both the self-mask and the secret-key share of agent-01/,
      );
      expect(error.details).toEqual({ reason: 'WOULD_REVEAL_BOTH_SECRETS', peer: peers[0] });
      expect(agent.stage).toBe('aborted');
    });

    it('across requests: after revealing a self-mask share it will not reveal the secret-key share', () => {
      const { agent, request, peers } = agentsAtUnmask();
      const first = agent.unmask(request);
      expect(first.selfMaskShares.map((s) => s.owner)).toEqual(peers);
      expect(first.secretKeyShares).toEqual([]);
      // A retried identical request is answered again (idempotent)...
      expect(agent.unmask(request)).toEqual(first);
      // ...but a server that now claims a peer dropped gets nothing.
      expectDomainError(
        () => agent.unmask({ ...request, survivors: peers.slice(1), dropped: [peers[0]] }),
        'FORBIDDEN',
        /already revealed/,
      );
    });
  });
});

describe('SecAgg+ protocol guards', () => {
  const config: SecAggConfig = { roundId: 'guards', dimension: 4 };

  it('the server ignores stragglers and repeats, and rejects strangers and future-stage messages', () => {
    const agents = ids(4);
    const server = createSecAggServer(config, agents);
    const clients = agents.map((id) => createSecAggAgent(config, id, new Float32Array([1, 2, 3, 4]), { random: seededRandomSource(`l/${id}`) }));
    const stranger = createSecAggAgent(config, 'stranger', undefined, { random: seededRandomSource('l/stranger') });
    const keys = clients.map((c) => c.advertiseKeys());
    expect(server.receive(keys[0])).toBe('accepted');
    expect(server.receive(keys[0])).toBe('duplicate');
    expectDomainError(() => server.receive(stranger.advertiseKeys()), 'FORBIDDEN');
    expectDomainError(() => server.receive({ ...keys[1], roundId: 'other-round' }), 'INVALID_ARGUMENT', /round/);
    expectDomainError(() => server.receive({ type: 'maskedInput', roundId: 'guards', from: 'agent-01', vector: '' }), 'CONFLICT');
    expectDomainError(() => server.receive({ type: 'nonsense' }), 'INVALID_ARGUMENT', /malformed/);
    for (const k of keys.slice(1)) server.receive(k);
    const shareRequests = server.closeAdvertiseKeys();
    for (const r of shareRequests) server.receive(clients[agents.indexOf(r.to)].shareKeys(r));
    const maskRequests = server.closeShareKeys();
    const masked = maskRequests.map((r) => clients[agents.indexOf(r.to)].maskedInput(r));
    for (const m of masked.slice(0, 3)) server.receive(m);
    server.closeMaskedInput();
    // The fourth masked vector arrives after the stage closed: not summed.
    expect(server.receive(masked[3])).toBe('late');
    expectDomainError(() => server.closeShareKeys(), 'CONFLICT');
  });

  it('an agent refuses out-of-order stages and misaddressed requests', () => {
    const agent = createSecAggAgent(config, 'agent-00', new Float32Array(4));
    expectDomainError(() => agent.unmask({ type: 'unmaskRequest', roundId: 'guards', to: 'agent-00', survivors: [], dropped: [] }), 'CONFLICT');
    agent.advertiseKeys();
    expectDomainError(() => agent.advertiseKeys(), 'CONFLICT');
    expectDomainError(() => agent.shareKeys({ type: 'shareKeysRequest', roundId: 'guards', to: 'agent-99', threshold: 1, neighbours: [] }), 'INVALID_ARGUMENT');
  });

  it('configurations that break the guarantees are rejected up front', () => {
    const updates = randomUpdates(ids(6), 4, 11);
    // 2t ≤ degree would let a lying server collect both kinds of shares.
    expectDomainError(() => runSecAggRound(updates, { roundId: 'bad-t', dimension: 4, degree: 4, threshold: 2 }), 'INVALID_ARGUMENT', /threshold/);
    // n × R must fit in Z_2^k or the sum wraps.
    expectDomainError(() => runSecAggRound(updates, { roundId: 'bad-r', dimension: 4, modBits: 16, quantizationLevels: 2 ** 14 }), 'INVALID_ARGUMENT', /overflow/);
    expectDomainError(() => createSecAggServer({ roundId: 'x', dimension: 0 }, []), 'INVALID_ARGUMENT', /dimension/);
  });
});

describe('SecAgg+ building blocks', () => {
  it('Shamir: any t shares rebuild the secret; t − 1 shares do not', () => {
    const secret = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
    const shares = splitSecret(secret, 4, [1, 2, 3, 4, 5, 6, 7], seededRandomSource('shamir'));
    expect(combineShares([shares[6], shares[1], shares[4], shares[2]], 4, 32)).toEqual(secret);
    expect(combineShares(shares.slice(3), 4, 32)).toEqual(secret);
    let wrong: Uint8Array | undefined;
    try {
      wrong = combineShares(shares.slice(0, 3), 3, 32);
    } catch {
      wrong = undefined; // an out-of-range value is reported, which is also fine
    }
    expect(wrong).not.toEqual(secret);
    expectDomainError(() => combineShares(shares.slice(0, 3), 4, 32), 'UNAVAILABLE');
  });

  it('the neighbour graph is regular, symmetric, seeded and spread over the agents', () => {
    const agents = ids(30);
    const graph = neighbourGraph(agents, 8, 'seed-1');
    for (const [id, neighbours] of graph) {
      expect(neighbours).toHaveLength(8);
      expect(neighbours).not.toContain(id);
      for (const n of neighbours) expect(graph.get(n)).toContain(id);
    }
    expect(neighbourGraph(agents, 8, 'seed-1')).toEqual(graph);
    expect(neighbourGraph(agents, 8, 'seed-2')).not.toEqual(graph);
    // Odd degree over an even number of agents uses the antipodal edge.
    for (const neighbours of neighbourGraph(agents, 5, 's').values()) expect(neighbours).toHaveLength(5);
  });
});
