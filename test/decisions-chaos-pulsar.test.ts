// Chaos for the decisions family: proposals go out and SDK agents vote with
// signed ballots over Pulsar while the worker process is SIGKILLed at seeded
// moments and started again. The electorate snapshot, the announcement, the
// counting batches (ballots acknowledged only once their chunk is stored) and
// the outcome all run in that process. Every decision must close as an
// undisturbed run of the same proposals and ballots closes it: same state,
// winner and tally, each voter's ballot counted once (a changed vote replacing
// the earlier one, never added to it).
import type { QpAgent } from '../agents/sdk';
import { seededRandom } from '../core/random';
import type { DecisionStatus } from '../core/decisions/status';
import type { Choice } from '../core/decisions/types';
import { decisionWorkflowId } from '../workflows/definitions';
import { uniqueId } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const AGENTS = 8;
const KILLS = 3;

interface Proposal {
  name: string;
  body: Record<string, unknown>;
  /** Agent i's ballots, in order: a second one is a vote change. */
  votes: (i: number) => Choice[];
}

const PROPOSALS: Proposal[] = [
  { name: 'basic', body: { system: 'basic', power: 'equal' }, votes: (i) => [i % 3 === 0 ? 'against' : 'for'] },
  { name: 'single', body: { system: 'single-choice', options: ['a', 'b', 'c'], power: 'equal' }, votes: (i) => [['a', 'b', 'c'][i % 3]] },
  { name: 'approval', body: { system: 'approval', options: ['a', 'b', 'c'], power: 'equal' }, votes: (i) => [i % 2 ? ['a', 'c'] : ['b']] },
  { name: 'weighted', body: { system: 'weighted', options: ['x', 'y'], power: 'resources' }, votes: (i): Choice[] => [i < 5 ? { x: 1 } : { y: 1 }] },
  { name: 'ranked', body: { system: 'ranked-choice', options: ['x', 'y', 'z'], power: 'equal' }, votes: (i) => [[['x', 'y', 'z'], ['y', 'z', 'x'], ['z', 'y', 'x']][i % 3]] },
  // Vote changes: agents 0-3 first vote for, then against; only the later ballot may count.
  {
    name: 'changed',
    body: { system: 'basic', power: 'equal', allowVoteChange: true, votingPeriodMs: 9_000 },
    votes: (i) => (i < 4 ? ['for', 'against'] : ['for']),
  },
];

describe('collaborative decisions while the worker is killed', () => {
  const stack = new WorkerChaosStack('decisions-chaos');

  beforeAll(() => stack.start());
  afterAll(() => stack.close());

  /** A swarm whose agent i (cpu i+1) votes its ballots as the proposal reaches it, i x 150 ms apart. */
  async function swarm(swarmId: string, plans: Map<string, Proposal>): Promise<QpAgent[]> {
    const members = await stack.registerSwarm(swarmId, AGENTS, (i) => ({ resources: { cpu: i + 1, memoryMb: 512 } }));
    await Promise.all(
      members.map((agent, i) =>
        agent.onProposal(async (proposal) => {
          const plan = plans.get(proposal.decisionId);
          if (!plan) return;
          for (const choice of plan.votes(i)) {
            await new Promise((resolve) => setTimeout(resolve, 150 * i + 20));
            await agent.vote(proposal.decisionId, choice);
          }
        }),
      ),
    );
    return members;
  }

  async function propose(swarmId: string, plans: Map<string, Proposal>): Promise<string[]> {
    const ids: string[] = [];
    for (const plan of PROPOSALS) {
      const decisionId = uniqueId(`${swarmId}-${plan.name}`);
      plans.set(decisionId, plan);
      const { status, body } = await stack.call('POST', '/api/v1/decisions', {
        decisionId,
        swarmId,
        title: plan.name,
        votingPeriodMs: 60_000,
        quorum: { fraction: 1 },
        ...plan.body,
      });
      expect(status).toBe(201);
      ids.push(body.decisionId);
    }
    return ids;
  }

  const closed = (ids: string[]): Promise<DecisionStatus[]> => stack.resultsOf(ids.map(decisionWorkflowId), 120_000);

  /** What must not depend on the kills. */
  const settled = (status: DecisionStatus) => ({
    state: status.state,
    winner: status.outcome?.winner,
    closedBy: status.closedBy,
    tally: status.tally,
    voters: status.voters,
    quorumPower: status.quorumPower,
    snapshot: { voters: status.snapshot?.voters, totalPower: status.snapshot?.totalPower },
  });

  /** The accepted ballots of a decision as GET .../ballots lists them (a replaced one too), as `agent choice` lines. */
  async function keptBallots(decisionId: string): Promise<string[]> {
    const { status, body } = await stack.call('GET', `/api/v1/decisions/${decisionId}/ballots`);
    expect(status).toBe(200);
    return (body.ballots as { agentId: string; choice: Choice }[]).map((ballot) => `${ballot.agentId} ${JSON.stringify(ballot.choice)}`).sort();
  }

  it('counts every ballot once and closes every decision as an undisturbed run does', async () => {
    const plans = new Map<string, Proposal>();
    const calmSwarm = uniqueId('calm');
    await swarm(calmSwarm, plans);
    const calm = await closed(await propose(calmSwarm, plans));
    expect(calm.map((status) => status.voters)).toEqual(PROPOSALS.map(() => AGENTS));

    const stormySwarm = uniqueId('storm');
    const members = await swarm(stormySwarm, plans);
    const killer = stack.killAtSeededMoments(seededRandom(20261132), KILLS, 300, 1500);
    const ids = await propose(stormySwarm, plans);
    const pauses = await killer;
    const stormy = await closed(ids);

    expect(stormy.map(settled)).toEqual(calm.map(settled));
    // Every ballot cast was accepted once: none lost, none kept twice.
    let ballots = 0;
    for (const [k, id] of ids.entries()) {
      const cast = members.flatMap((agent, i) => PROPOSALS[k].votes(i).map((choice) => `${agent.agentId} ${JSON.stringify(choice)}`)).sort();
      expect(await keptBallots(id)).toEqual(cast);
      ballots += cast.length;
    }
    console.log(
      `decision chaos: ${KILLS} worker kills (after ${pauses.join(', ')} ms), ${ids.length} decisions and ${ballots} ballots checked, ` +
        `tallies equal to the undisturbed run's`,
    );
  }, 180_000);
});
