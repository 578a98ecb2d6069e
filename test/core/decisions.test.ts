// Tallying and ballots of collaborative decisions on hand-computed cases.
import { generateKeyPairSync } from 'node:crypto';
import { BallotBox } from '../../core/decisions/ballot-box';
import { ballotSigningInput, signBallot } from '../../core/decisions/ballot';
import { cannotChange, deadlineAfterQuorum, decide } from '../../core/decisions/outcome';
import { snapshotPower, votingPower } from '../../core/decisions/power';
import {
  MAX_JOBS_REMEMBERED,
  addScores,
  contributionReputation,
  decayed,
  decayedReputation,
  recordAcceptedRound,
  reputationFromTasks,
  type ContributionCounts,
} from '../../core/decisions/reputation';
import { tally, type CountedBallot } from '../../core/decisions/tally';
import type { Choice } from '../../core/decisions/types';

const basic = ['for', 'against', 'abstain'];
const ballots = (...entries: Array<[Choice, number?]>): CountedBallot[] =>
  entries.map(([choice, power], i) => ({ agentId: `v${String(i).padStart(2, '0')}`, choice, power: power ?? 1 }));
const remainingOf = (power: number, sqrtPower = power) => ({ power, sqrtPower });

describe('basic (for / against / abstain)', () => {
  const votes = ballots(['for'], ['against'], ['abstain'], ['for']);

  it('counts abstentions toward turnout (quorum) but not toward the share', () => {
    const t = tally('basic', basic, votes);
    expect(t.scores).toEqual({ for: 2, against: 1, abstain: 0 });
    expect(t.abstained).toBe(1);
    expect(t.turnout).toBe(4);
    const outcome = decide({ system: 'basic', quorum: { fraction: 0.8 } }, t, 5);
    expect(outcome).toEqual({ state: 'SUCCEEDED', winner: 'for', share: 2 / 3, quorumPower: 4, turnout: 4 });
  });

  it('is QUORUM_NOT_MET when turnout with abstentions is below the quorum', () => {
    const t = tally('basic', basic, votes);
    expect(decide({ system: 'basic', quorum: { absolute: 5 } }, t, 5).state).toBe('QUORUM_NOT_MET');
  });

  it('defeats a for/against tie: for must exceed the threshold', () => {
    const t = tally('basic', basic, ballots(['for'], ['against']));
    expect(decide({ system: 'basic', quorum: { fraction: 0 } }, t, 2)).toMatchObject({ state: 'DEFEATED', share: 0.5 });
  });

  it('applies a supermajority threshold', () => {
    const t = tally('basic', basic, ballots(['for'], ['for'], ['against']));
    expect(decide({ system: 'basic', quorum: { fraction: 0 }, threshold: 2 / 3 }, t, 3).state).toBe('DEFEATED');
    expect(decide({ system: 'basic', quorum: { fraction: 0 }, threshold: 0.6 }, t, 3).state).toBe('SUCCEEDED');
  });
});

describe('single-choice', () => {
  it('breaks a tie for the lead in favour of the option listed first', () => {
    const t = tally('single-choice', ['a', 'b', 'c'], ballots(['b', 2], ['a', 3], ['c', 2], ['b', 1]));
    expect(t.scores).toEqual({ a: 3, b: 3, c: 2 });
    expect(t.leader).toBe('a');
    expect(t.tiedFor).toEqual(['a', 'b']);
    expect(decide({ system: 'single-choice', quorum: { fraction: 0.5 } }, t, 10)).toMatchObject({ state: 'SUCCEEDED', winner: 'a', share: 3 / 8 });
  });

  it('does not depend on arrival order', () => {
    const votes = ballots(['a', 0.1], ['b', 0.2], ['a', 0.3], ['b', 0.2]);
    expect(tally('single-choice', ['a', 'b'], votes)).toEqual(tally('single-choice', ['a', 'b'], [...votes].reverse()));
  });
});

describe('approval', () => {
  it('gives each approved option the voter’s whole power; the share is of turnout', () => {
    const t = tally('approval', ['a', 'b', 'c'], ballots([['a', 'b'], 1], [['b'], 2], [['c'], 1]));
    expect(t.scores).toEqual({ a: 1, b: 3, c: 1 });
    expect(t.leader).toBe('b');
    expect(decide({ system: 'approval', quorum: { fraction: 0 }, threshold: 0.7 }, t, 4)).toMatchObject({ state: 'SUCCEEDED', share: 0.75 });
  });
});

describe('weighted and quadratic', () => {
  const votes = ballots([{ a: 1 }, 9], [{ b: 1, c: 1 }, 8], [{ b: 1 }, 4]);

  it('weighted splits power in proportion to the weights', () => {
    const t = tally('weighted', ['a', 'b', 'c'], votes);
    expect(t.scores).toEqual({ a: 9, b: 8, c: 4 });
    expect(t.leader).toBe('a');
  });

  it('quadratic turns c credits into sqrt(c) votes, so the same ballots elect b', () => {
    const t = tally('quadratic', ['a', 'b', 'c'], votes);
    expect(t.scores).toEqual({ a: 3, b: 4, c: 2 });
    expect(t.leader).toBe('b');
    expect(decide({ system: 'quadratic', quorum: { fraction: 1 } }, t, 21)).toMatchObject({ state: 'SUCCEEDED', winner: 'b', share: 4 / 9 });
  });
});

describe('ranked-choice (instant runoff)', () => {
  it('eliminates the weakest option each round and stops counting exhausted ballots', () => {
    const votes = ballots(
      [['a']], [['a']], [['a']], [['a']],
      [['b', 'c']], [['b', 'c']], [['b', 'c']],
      [['c', 'b']], [['c', 'b']],
      [['d']],
    );
    const t = tally('ranked-choice', ['a', 'b', 'c', 'd'], votes);
    expect(t.rounds).toEqual([
      { counts: { a: 4, b: 3, c: 2, d: 1 }, exhausted: 0, eliminated: 'd' },
      { counts: { a: 4, b: 3, c: 2 }, exhausted: 1, eliminated: 'c' },
      { counts: { a: 4, b: 5 }, exhausted: 1 },
    ]);
    expect(t.leader).toBe('b');
    expect(t.scores).toEqual({ a: 4, b: 5, c: 0, d: 0 });
    expect(decide({ system: 'ranked-choice', quorum: { fraction: 0.5 } }, t, 10)).toMatchObject({ state: 'SUCCEEDED', winner: 'b', share: 5 / 9 });
  });

  it('eliminates the option listed last among those tied for fewest, and breaks a final tie by listing order', () => {
    const t = tally('ranked-choice', ['a', 'b', 'c'], ballots([['a']], [['a']], [['b', 'a']], [['c', 'b']]));
    expect(t.rounds?.[0]).toEqual({ counts: { a: 2, b: 1, c: 1 }, exhausted: 0, eliminated: 'c' });
    expect(t.rounds?.[1]).toEqual({ counts: { a: 2, b: 2 }, exhausted: 0 });
    expect(t.leader).toBe('a');
    expect(t.tiedFor).toEqual(['a', 'b']);
  });
});

describe('early close: the result can no longer change', () => {
  it('basic: closes when the remaining power cannot overturn for, or cannot lift it', () => {
    const spec = { system: 'basic' as const, quorum: { fraction: 0.4 }, options: basic };
    expect(cannotChange(spec, tally('basic', basic, ballots(['for'], ['for'], ['for'])), 5, remainingOf(2))).toBe(true);
    expect(cannotChange(spec, tally('basic', basic, ballots(['for'], ['for'])), 5, remainingOf(3))).toBe(false);
    expect(cannotChange(spec, tally('basic', basic, ballots(['against'], ['against'], ['against'])), 5, remainingOf(2))).toBe(true);
  });

  it('closes when quorum can no longer be reached, and never while a reachable quorum is missing', () => {
    const spec = { system: 'single-choice' as const, quorum: { absolute: 6 }, options: ['a', 'b'] };
    expect(cannotChange(spec, tally('single-choice', ['a', 'b'], ballots(['a'])), 5, remainingOf(4))).toBe(true);
    expect(cannotChange({ ...spec, quorum: { absolute: 4 } }, tally('single-choice', ['a', 'b'], ballots(['a'], ['a'])), 5, remainingOf(3))).toBe(false);
  });

  it('plurality systems: the leader must stay ahead of the runner-up given every remaining vote', () => {
    const spec = { system: 'single-choice' as const, quorum: { fraction: 0 }, options: ['a', 'b'] };
    const six = ballots(['a'], ['a'], ['a'], ['a'], ['a'], ['a'], ['b']);
    expect(cannotChange(spec, tally('single-choice', ['a', 'b'], six), 10, remainingOf(3))).toBe(true);
    const five = ballots(['a'], ['a'], ['a'], ['a'], ['a'], ['b'], ['b']);
    expect(cannotChange(spec, tally('single-choice', ['a', 'b'], five), 10, remainingOf(3))).toBe(false);
    expect(cannotChange({ ...spec, allowVoteChange: true }, tally('single-choice', ['a', 'b'], six), 10, remainingOf(3))).toBe(false);
  });

  it('quadratic: a remaining voter adds at most sqrt(power) to one option', () => {
    const spec = { system: 'quadratic' as const, quorum: { fraction: 0 }, options: ['a', 'b'] };
    const t = tally('quadratic', ['a', 'b'], ballots([{ a: 1 }, 25], [{ b: 1 }, 1]));
    expect(cannotChange(spec, t, 35, remainingOf(9, 3))).toBe(true); // 5 > 1 + 3
    expect(cannotChange(spec, t, 42, remainingOf(16, 4))).toBe(false); // 5 > 1 + 4 fails
  });

  it('ranked-choice: a first-preference majority of all power closes', () => {
    const spec = { system: 'ranked-choice' as const, quorum: { fraction: 0 }, options: ['a', 'b'] };
    const t = tally('ranked-choice', ['a', 'b'], ballots([['a']], [['a']], [['a']], [['a']], [['a']], [['a']], [['b']]));
    expect(cannotChange(spec, t, 10, remainingOf(3))).toBe(true);
    expect(cannotChange(spec, t, 12, remainingOf(5))).toBe(false);
  });
});

describe('late-quorum extension', () => {
  it('moves the deadline to quorum time + extension only when that is later', () => {
    expect(deadlineAfterQuorum(1_000, 900, 300)).toBe(1_200);
    expect(deadlineAfterQuorum(1_000, 500, 300)).toBe(1_000);
    expect(deadlineAfterQuorum(1_000, 900, undefined)).toBe(1_000);
  });
});

describe('voting power, snapshotted', () => {
  const members = [
    { agentId: 'x', status: 'ACTIVE', capabilities: ['gpu', 'vision'], resources: { cpu: 4, memoryMb: 1, gpu: 2 } },
    { agentId: 'y', status: 'ACTIVE', capabilities: ['vision'], resources: { cpu: 2, memoryMb: 1 } },
    { agentId: 'z', status: 'LOST', capabilities: ['vision'], resources: { cpu: 8, memoryMb: 1 } },
  ];

  it('resources is cores + GPUs; equal is 1; fixed leaves the unlisted out', () => {
    expect(votingPower('resources', members[0])).toBe(6);
    expect(votingPower('equal', members[0])).toBe(1);
    expect(snapshotPower({ fixed: { y: 5 } }, undefined, members)).toEqual({ y: 5 });
  });

  it('the electorate is ACTIVE agents by default, narrowed by capabilities and ids', () => {
    expect(snapshotPower('resources', undefined, members)).toEqual({ x: 6, y: 2 });
    expect(snapshotPower('equal', { capabilities: ['gpu'] }, members)).toEqual({ x: 1 });
    expect(snapshotPower('equal', { status: ['ACTIVE', 'LOST'], agentIds: ['y', 'z'] }, members)).toEqual({ y: 1, z: 1 });
  });
});

describe('ballots', () => {
  const keys = { a: generateKeyPairSync('ed25519'), b: generateKeyPairSync('ed25519'), c: generateKeyPairSync('ed25519') };
  const window = { opensAt: 1_000, closesAt: 2_000 };
  const box = (allowVoteChange = false) =>
    new BallotBox({ decisionId: 'd1', system: 'single-choice', options: ['x', 'y'], allowVoteChange, powers: { a: 1, b: 2 } });
  const cast = (agent: 'a' | 'b' | 'c', choice: Choice, castAt = 1_100, decisionId = 'd1') =>
    signBallot(keys[agent].privateKey, { decisionId, agentId: agent, choice, castAt });

  it('signs a canonical encoding: the order of weights does not matter', () => {
    const one = ballotSigningInput({ decisionId: 'd', agentId: 'a', castAt: 5, choice: { b: 1, a: 2 } });
    const two = ballotSigningInput({ decisionId: 'd', agentId: 'a', castAt: 5, choice: { a: 2, b: 1 } });
    expect(one.toString()).toBe('qp-ballot/1\nd\na\n5\n{"a":2,"b":1}');
    expect(two.equals(one)).toBe(true);
  });

  it('accepts a signed ballot and refuses forged, ineligible, late, duplicate and malformed ones with their reason', () => {
    const b = box();
    expect(b.offer(cast('a', 'x'), 1_200, window, keys.a.publicKey)).toMatchObject({ ok: true, ballot: { power: 1 } });
    expect(b.offer({ ...cast('b', 'x'), choice: 'y' }, 1_200, window, keys.b.publicKey)).toEqual({ ok: false, reason: 'forged', agentId: 'b' });
    expect(b.offer(cast('b', 'x'), 1_200, window, keys.a.publicKey)).toMatchObject({ ok: false, reason: 'forged' });
    expect(b.offer(cast('c', 'x'), 1_200, window, keys.c.publicKey)).toMatchObject({ ok: false, reason: 'ineligible' });
    expect(b.offer(cast('b', 'x'), 2_000, window, keys.b.publicKey)).toMatchObject({ ok: false, reason: 'late' });
    expect(b.offer(cast('b', 'x'), 999, window, keys.b.publicKey)).toMatchObject({ ok: false, reason: 'not-open' });
    expect(b.offer(cast('a', 'y', 1_300), 1_300, window, keys.a.publicKey)).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(b.offer(cast('b', 'z'), 1_300, window, keys.b.publicKey)).toMatchObject({ ok: false, reason: 'invalid-choice' });
    expect(b.offer(cast('b', 'x', 1_100, 'd2'), 1_300, window, keys.b.publicKey)).toMatchObject({ ok: false, reason: 'wrong-decision' });
    expect(b.offer({ agentId: 'b' }, 1_300, window, keys.b.publicKey)).toEqual({ ok: false, reason: 'malformed' });
    expect(b.tally().scores).toEqual({ x: 1, y: 0 });
    expect(b.remaining().power).toBe(2);
    expect(b.remaining().sqrtPower).toBeCloseTo(Math.sqrt(2), 12);
  });

  it('with vote changes allowed, the latest ballot counts and an older one is refused', () => {
    const b = box(true);
    expect(b.offer(cast('b', 'x', 1_100), 1_150, window, keys.b.publicKey).ok).toBe(true);
    expect(b.offer(cast('b', 'y', 1_300), 1_350, window, keys.b.publicKey)).toMatchObject({ ok: true, replaced: true });
    expect(b.offer(cast('b', 'x', 1_200), 1_400, window, keys.b.publicKey)).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(b.tally().scores).toEqual({ x: 0, y: 2 });
    expect(b.voters).toBe(1);
  });
});

describe('reputation', () => {
  it('scores one point per succeeded task of the agent, and leaves agents without one out of the snapshot', () => {
    const scores = reputationFromTasks(['a', 'b', 'a', '', 'a']);
    expect(scores).toEqual({ a: 3, b: 1 });
    const members = ['a', 'b', 'c'].map((agentId) => ({ agentId, status: 'ACTIVE', reputation: scores[agentId] ?? 0 }));
    expect(snapshotPower('reputation', undefined, members)).toEqual({ a: 3, b: 1 });
  });

  it('counts each accepted round update once per agent, and a round recorded again (or an older one) not at all', () => {
    const record: ContributionCounts = { counts: {}, jobs: [] };
    expect(recordAcceptedRound(record, { jobId: 'j1', round: 1, agentIds: ['a', 'b', 'a'] })).toBe(true);
    expect(recordAcceptedRound(record, { jobId: 'j1', round: 1, agentIds: ['a', 'b'] })).toBe(false);
    expect(recordAcceptedRound(record, { jobId: 'j1', round: 2, agentIds: ['a', ''] })).toBe(true);
    expect(recordAcceptedRound(record, { jobId: 'j1', round: 1, agentIds: ['b'] })).toBe(false);
    expect(recordAcceptedRound(record, { jobId: 'j2', round: 1, agentIds: ['b'] })).toBe(true);
    expect(record.counts).toEqual({ a: 2, b: 2 });
    expect(record.jobs).toEqual([['j1', 2], ['j2', 1]]);
    // Reputation adds its sources: 3 tasks + 2 updates for a.
    expect(addScores({ a: 3 }, record.counts)).toEqual({ a: 5, b: 2 });
  });

  it('remembers the last round of at most MAX_JOBS_REMEMBERED jobs, the least recently recorded forgotten first', () => {
    const record: ContributionCounts = { counts: {}, jobs: [] };
    for (let j = 0; j <= MAX_JOBS_REMEMBERED; j++) recordAcceptedRound(record, { jobId: `j${j}`, round: 1, agentIds: ['a'] });
    expect(record.jobs).toHaveLength(MAX_JOBS_REMEMBERED);
    expect(record.jobs[0][0]).toBe('j1');
    expect(record.counts.a).toBe(MAX_JOBS_REMEMBERED + 1);
  });
});

describe('reputation decay (a half-life)', () => {
  const HOUR = 3_600_000;

  it('halves a score every half-life, and a half-life of 0 keeps it whole', () => {
    expect(decayed(8, 0, HOUR)).toBe(8);
    expect(decayed(8, HOUR, HOUR)).toBe(4);
    expect(decayed(8, 3 * HOUR, HOUR)).toBe(1);
    expect(decayed(8, HOUR / 2, HOUR)).toBeCloseTo(8 / Math.SQRT2, 12);
    expect(decayed(8, 10 * HOUR, 0)).toBe(8);
    // A time before the score's own (clock skew) never grows it.
    expect(decayed(8, -HOUR, HOUR)).toBe(8);
  });

  it('decays each succeeded task from when it closed', () => {
    const now = 10 * HOUR;
    const tasks = [
      { agentId: 'a', at: now },
      { agentId: 'a', at: now - HOUR },
      { agentId: 'b', at: now - 2 * HOUR },
      { agentId: '', at: now },
    ];
    expect(decayedReputation(tasks, now, HOUR)).toEqual({ a: 1.5, b: 0.25 });
    expect(decayedReputation(tasks, now, 0)).toEqual({ a: 2, b: 1 });
  });

  it('keeps a decaying score per agent in the ledger: the old score decayed to the new round, plus 1; a round recorded again changes nothing', () => {
    const record: ContributionCounts = { counts: {}, jobs: [] };
    recordAcceptedRound(record, { jobId: 'j1', round: 1, agentIds: ['a', 'b'], at: 0, halfLifeMs: HOUR });
    recordAcceptedRound(record, { jobId: 'j1', round: 2, agentIds: ['a'], at: 2 * HOUR, halfLifeMs: HOUR });
    expect(recordAcceptedRound(record, { jobId: 'j1', round: 2, agentIds: ['a'], at: 3 * HOUR, halfLifeMs: HOUR })).toBe(false);
    expect(record.scores).toEqual({ a: { score: 1.25, at: 2 * HOUR }, b: { score: 1, at: 0 } });
    // An older round of another job arriving late is added at the newer time, undecayed.
    recordAcceptedRound(record, { jobId: 'j2', round: 1, agentIds: ['a'], at: HOUR, halfLifeMs: HOUR });
    expect(record.scores!.a).toEqual({ score: 2.25, at: 2 * HOUR });
    expect(record.counts).toEqual({ a: 3, b: 1 });
    // Read an hour after a's last round; c was recorded before decay existed and keeps its count.
    expect(contributionReputation({ ...record.counts, c: 4 }, record.scores!, 3 * HOUR, HOUR)).toEqual({ a: 1.125, b: 0.125, c: 4 });
  });

  it('a ledger without times (recorded before decay) keeps counts only', () => {
    const record: ContributionCounts = { counts: {}, jobs: [] };
    recordAcceptedRound(record, { jobId: 'j1', round: 1, agentIds: ['a'] });
    expect(record.scores).toBeUndefined();
    expect(record.counts).toEqual({ a: 1 });
  });
});
