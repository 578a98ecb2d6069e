// Collaborative decisions end to end on the real Temporal dev server: the
// worker, the API and reference SDK agents that receive proposals and vote
// with signed ballots over messaging (or the API).
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { signBallot } from '../core/decisions/ballot';
import type { DecisionStatus } from '../core/decisions/status';
import { decisionTopic } from '../core/decisions/topics';
import type { AcceptedBallot, Choice, OutcomeMessage, ProposalMessage } from '../core/decisions/types';
import { swarmTopics } from '../core/topics';
import { decisionWorkflowId, tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('collaborative decisions on a real Temporal server', () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];
  const privateKeys = new Map<string, KeyObject>();

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await stack?.stop();
  });

  /** Registers agents (cpu i+1 each) in a new swarm and waits for visibility to list them ACTIVE. */
  async function swarmOf(count: number, capabilities: (i: number) => string[] = () => ['vote']): Promise<{ swarmId: string; members: QpAgent[] }> {
    const swarmId = uniqueId('dao');
    const members = Array.from({ length: count }, (_, i) => {
      const keys = generateKeyPairSync('ed25519');
      privateKeys.set(`${swarmId}-a${i}`, keys.privateKey);
      return new QpAgent({
          apiUrl: stack.api.url,
          agentId: `${swarmId}-a${i}`,
          swarmId,
          capabilities: capabilities(i),
          resources: { cpu: i + 1, memoryMb: 1024 },
          messaging: stack.ports.messaging,
          heartbeatIntervalMs: 60_000,
          keys,
        });
    });
    agents.push(...members);
    await Promise.all(members.map((agent) => agent.register()));
    await waitFor('visibility to list the agents ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 100 });
      return page.agents.length === count ? true : undefined;
    });
    return { swarmId, members };
  }

  /** Each agent votes its choice for a decision as soon as the proposal reaches it. */
  async function voteOnProposal(members: QpAgent[], choices: Map<string, Map<string, Choice>>): Promise<void> {
    await Promise.all(
      members.map((agent) =>
        agent.onProposal(async (proposal) => {
          const choice = choices.get(proposal.decisionId)?.get(agent.agentId);
          if (choice !== undefined) await agent.vote(proposal.decisionId, choice);
        }),
      ),
    );
  }

  async function open(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${stack.api.url}/api/v1/decisions`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    const json = (await res.json()) as { decisionId: string };
    if (res.status !== 201) throw new Error(`open failed ${res.status}: ${JSON.stringify(json)}`);
    return json.decisionId;
  }

  const get = async (path: string, token = ADMIN_TOKEN) => {
    const res = await fetch(`${stack.api.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const decision = async (decisionId: string) => (await get(`/api/v1/decisions/${decisionId}`)).body as DecisionStatus & Record<string, any>;
  const closed = (decisionId: string): Promise<DecisionStatus> =>
    stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result();

  /** Checks every kept ballot the way the README tells an outsider to, with node:crypto only. */
  function verifiesOutside(ballots: AcceptedBallot[], publicKeys: Record<string, string>): boolean {
    return ballots.every((b) => {
      const choice =
        typeof b.choice === 'string' || Array.isArray(b.choice)
          ? JSON.stringify(b.choice)
          : JSON.stringify(Object.fromEntries(Object.entries(b.choice).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));
      const message = Buffer.from(['qp-ballot/1', b.decisionId, b.agentId, String(b.castAt), choice].join('\n'));
      return verify(null, message, createPublicKey(publicKeys[b.agentId]), Buffer.from(b.signature, 'base64'));
    });
  }

  it('every voting system decides from SDK agents’ signed ballots, closes early once all voted, and keeps verifiable ballots', async () => {
    const { swarmId, members } = await swarmOf(4);
    const [a0, a1, a2, a3] = members.map((agent) => agent.agentId);
    // Quorum is everyone's power, so no decision closes before all four have voted.
    const cases: Array<{ system: string; options?: string[]; power: unknown; votes: Choice[]; winner: string; scores?: Record<string, number> }> = [
      { system: 'basic', power: 'equal', votes: ['for', 'for', 'against', 'abstain'], winner: 'for', scores: { for: 2, against: 1, abstain: 0 } },
      { system: 'single-choice', options: ['a', 'b', 'c'], power: 'equal', votes: ['a', 'b', 'b', 'c'], winner: 'b' },
      { system: 'approval', options: ['a', 'b', 'c'], power: 'equal', votes: [['a', 'b'], ['b'], ['c'], ['a']], winner: 'a', scores: { a: 2, b: 2, c: 1 } },
      // resources: cpu 1, 2, 3, 4, so a 1+2+2 = 5 and b 3+2 = 5: tied, and b is listed first.
      { system: 'weighted', options: ['b', 'a'], power: 'resources', votes: [{ a: 1 }, { a: 1 }, { b: 1 }, { a: 1, b: 1 }], winner: 'b', scores: { a: 5, b: 5 } },
      { system: 'quadratic', options: ['a', 'b'], power: { fixed: { [a0]: 9, [a1]: 4, [a2]: 1, [a3]: 1 } }, votes: [{ a: 1 }, { b: 1 }, { b: 1 }, { b: 1 }], winner: 'b', scores: { a: 3, b: 4 } },
      { system: 'ranked-choice', options: ['x', 'y', 'z'], power: 'equal', votes: [['x'], ['y', 'z'], ['z', 'y'], ['y']], winner: 'y' },
    ];
    const choices = new Map<string, Map<string, Choice>>();
    const control = await stack.ports.messaging.subscribe(swarmTopics(swarmId).control, 'test-watcher', { initialPosition: 'earliest' });
    await voteOnProposal(members, choices);
    const ids: string[] = [];
    for (const c of cases) {
      const decisionId = uniqueId(c.system);
      choices.set(decisionId, new Map(members.map((agent, i) => [agent.agentId, c.votes[i]])));
      ids.push(await open({ decisionId, swarmId, title: `${c.system} vote`, system: c.system, options: c.options, power: c.power, votingPeriodMs: 60_000, quorum: { fraction: 1 } }));
    }
    const results = await Promise.all(ids.map(closed));
    results.forEach((result, i) => {
      expect({ system: cases[i].system, state: result.state, winner: result.outcome?.winner, closedBy: result.closedBy }).toEqual({
        system: cases[i].system, state: 'SUCCEEDED', winner: cases[i].winner, closedBy: 'early',
      });
      expect(result.voters).toBe(4);
      if (cases[i].scores) expect(result.tally.scores).toEqual(cases[i].scores);
    });
    expect(results[5].tally.rounds?.[0]).toEqual({ counts: { x: 1, y: 2, z: 1 }, exhausted: 0, eliminated: 'z' });

    const outcomes = new Map<string, OutcomeMessage>();
    await waitFor('every outcome on the control topic', async () => {
      const message = await control.receive(500);
      if (message) {
        await control.ack(message);
        const parsed = JSON.parse(Buffer.from(message.payload).toString()) as OutcomeMessage | ProposalMessage;
        if (parsed.type === 'decision-outcome') outcomes.set(parsed.decisionId, parsed);
      }
      return ids.every((id) => outcomes.has(id)) ? true : undefined;
    });
    expect(outcomes.get(ids[1])).toMatchObject({ state: 'SUCCEEDED', winner: 'b', closedBy: 'early' });
    await control.close();

    const { status, body } = await get(`/api/v1/decisions/${ids[0]}/ballots`, members[0].token);
    expect(status).toBe(200);
    expect(body.ballots).toHaveLength(4);
    expect(verifiesOutside(body.ballots, body.publicKeys)).toBe(true);
    const forgedCopy = { ...body.ballots[0], choice: body.ballots[0].choice === 'for' ? 'against' : 'for' };
    expect(verifiesOutside([forgedCopy], body.publicKeys)).toBe(false);

    const view = await decision(ids[0]);
    expect(view).toMatchObject({ state: 'SUCCEEDED', timeLeftMs: 0, turnoutVsQuorum: { turnout: 4, quorumPower: 4, reached: true, eligibleVoters: 4 } });
    const listed = await waitFor('visibility to list the six decisions SUCCEEDED', async () => {
      const page = await get(`/api/v1/decisions?swarmId=${swarmId}&state=SUCCEEDED`);
      return page.body.decisions.length === 6 ? page.body.decisions : undefined;
    });
    expect(listed.map((d: { decisionId: string }) => d.decisionId).sort()).toEqual([...ids].sort());
    // Each close reached the worker's metrics once; every member voted, so the turnout is whole.
    const closedBy = (await stack.workerRegistry.getSingleMetric('qp_manager_decisions_closed_total')!.get()).values;
    expect(closedBy.find((v) => v.labels.state === 'succeeded')?.value).toBeGreaterThanOrEqual(6);
    expect((await stack.workerRegistry.getSingleMetric('qp_manager_decision_turnout_ratio')!.get()).values[0]?.value).toBeGreaterThan(0);
  });

  it('quorum not met: one vote of four against a half quorum is QUORUM_NOT_MET at the deadline', async () => {
    const { swarmId, members } = await swarmOf(4);
    const decisionId = uniqueId('quorum');
    await voteOnProposal(members, new Map([[decisionId, new Map<string, Choice>([[members[0].agentId, 'for']])]]));
    await open({ decisionId, swarmId, title: 'too few', system: 'basic', power: 'equal', votingPeriodMs: 2_500, quorum: { fraction: 0.5 } });
    const result = await closed(decisionId);
    expect(result).toMatchObject({ state: 'QUORUM_NOT_MET', closedBy: 'deadline', voters: 1, quorumPower: 2 });
  });

  it('a quorum reached late extends the deadline; a vote change counts the last ballot; refusals are typed', async () => {
    const { swarmId, members } = await swarmOf(4, (i) => (i === 3 ? ['observer'] : ['vote']));
    const [a0, a1, a2, outsider] = members;
    const decisionId = uniqueId('late');
    const period = 3_000;
    const extension = 4_000;
    await open({
      decisionId, swarmId, title: 'late quorum', system: 'single-choice', options: ['keep', 'switch'], power: 'equal',
      electorate: { capabilities: ['vote'] }, votingPeriodMs: period, quorum: { absolute: 2 }, lateQuorumExtensionMs: extension, allowVoteChange: true,
    });
    const opened = await waitFor('voting to open', async () => ((await decision(decisionId)).state === 'ACTIVE' ? decision(decisionId) : undefined));
    const deadline = opened.closesAt;
    expect(opened.snapshot).toMatchObject({ voters: 3, totalPower: 3 });

    await a0.vote(decisionId, 'keep');
    await a0.vote(decisionId, 'switch'); // a vote change: the later ballot counts
    // Refusals over the API, answered at once with a reason.
    const refused = async (agent: QpAgent, body: Record<string, unknown>) => {
      const res = await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}/votes`, {
        method: 'POST', headers: { authorization: `Bearer ${agent.token}` }, body: JSON.stringify(body),
      });
      return { status: res.status, reason: ((await res.json()) as { error: { reason?: string } }).error?.reason };
    };
    const signedBy = (agent: QpAgent, choice: Choice) => signBallot(privateKeys.get(agent.agentId)!, { decisionId, agentId: agent.agentId, choice, castAt: Date.now() });
    expect(await refused(outsider, { ...signedBy(outsider, 'keep'), agentId: undefined, decisionId: undefined })).toEqual({ status: 403, reason: 'ineligible' });
    const forged = signedBy(a2, 'keep');
    expect(await refused(a1, { choice: 'keep', castAt: forged.castAt, signature: forged.signature })).toEqual({ status: 401, reason: 'forged' });
    // A forged ballot straight onto the topic is refused by the counter.
    await stack.ports.messaging.publish(decisionTopic(swarmId, decisionId), Buffer.from(JSON.stringify({ ...signedBy(a2, 'keep'), agentId: a1.agentId })));

    // Quorum (2) is reached late: within the extension of the deadline.
    await waitFor('1.5 s before the deadline', () => (Date.now() >= deadline - 1_500 ? true : undefined), period);
    await a1.vote(decisionId, 'keep');
    const extended = await waitFor('the deadline to move', async () => {
      const view = await decision(decisionId);
      return view.quorumReachedAt !== undefined ? view : undefined;
    });
    expect(extended.closesAt).toBe(extended.quorumReachedAt! + extension);
    expect(extended.closesAt).toBeGreaterThan(deadline);

    const result = await closed(decisionId);
    expect(result.closedAt!).toBeGreaterThanOrEqual(extended.closesAt);
    expect(result.tally.scores).toEqual({ keep: 1, switch: 1 });
    expect(result.outcome).toMatchObject({ state: 'SUCCEEDED', winner: 'keep' }); // the tie goes to the option listed first
    expect(result.refusals.counts).toMatchObject({ forged: 1 });
    const ballots = await get(`/api/v1/decisions/${decisionId}/ballots`);
    expect(ballots.body.ballots.map((b: AcceptedBallot) => [b.agentId, b.choice])).toEqual([
      [a0.agentId, 'keep'], [a0.agentId, 'switch'], [a1.agentId, 'keep'],
    ]);
    expect(await refused(a2, { ...signedBy(a2, 'keep'), agentId: undefined, decisionId: undefined })).toEqual({ status: 409, reason: 'late' });
  });

  it('without vote changes a second ballot is refused as duplicate, over the API at once and on the topic by the counter', async () => {
    const { swarmId, members } = await swarmOf(3);
    const decisionId = uniqueId('dup');
    await open({ decisionId, swarmId, title: 'once', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 1 } });
    await waitFor('voting to open', async () => ((await decision(decisionId)).state === 'ACTIVE' ? true : undefined));
    await members[0].vote(decisionId, 'for', { via: 'api' });
    await members[0].vote(decisionId, 'against'); // over messaging: the counter refuses it
    await waitFor('the first ballot counted', async () => ((await decision(decisionId)).voters === 1 ? true : undefined));
    await expect(members[0].vote(decisionId, 'against', { via: 'api' })).rejects.toMatchObject({ status: 409 });
    await waitFor('the duplicate refused', async () => ((await decision(decisionId)).refusals.counts.duplicate === 1 ? true : undefined));
    await members[1].vote(decisionId, 'for');
    await members[2].vote(decisionId, 'against');
    const result = await closed(decisionId);
    expect(result).toMatchObject({ state: 'SUCCEEDED', closedBy: 'early', tally: { scores: { for: 2, against: 1 } } });
  });

  it('ballots come in pages that cross the counting batches, each page with its voters\' keys', async () => {
    const { swarmId, members } = await swarmOf(5);
    const decisionId = uniqueId('pages');
    await open({ decisionId, swarmId, title: 'paged', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 1 } });
    await waitFor('voting to open', async () => ((await decision(decisionId)).state === 'ACTIVE' ? true : undefined));
    // Two counting batches: three ballots counted before the other two are cast.
    for (const agent of members.slice(0, 3)) await agent.vote(decisionId, 'for', { via: 'api' });
    await waitFor('three ballots counted', async () => ((await decision(decisionId)).voters === 3 ? true : undefined));
    for (const agent of members.slice(3)) await agent.vote(decisionId, 'against', { via: 'api' });
    const result = await closed(decisionId);
    expect(result.ballotChunks.length).toBeGreaterThanOrEqual(2);

    const all = (await get(`/api/v1/decisions/${decisionId}/ballots`)).body;
    expect(all.ballots).toHaveLength(5);
    expect(all.nextPageToken).toBeUndefined();
    const pages: Array<Record<string, any>> = [];
    let token: string | undefined;
    do {
      const page = await get(`/api/v1/decisions/${decisionId}/ballots?pageSize=2${token ? `&pageToken=${token}` : ''}`, members[4].token);
      expect(page.status).toBe(200);
      pages.push(page.body);
      token = page.body.nextPageToken;
    } while (token !== undefined && pages.length < 10);
    expect(pages.map((page) => [page.ballots.length, page.nextPageToken])).toEqual([[2, '2'], [2, '4'], [1, undefined]]);
    expect(pages.flatMap((page) => page.ballots)).toEqual(all.ballots);
    for (const page of pages) {
      expect(Object.keys(page.publicKeys).sort()).toEqual(page.ballots.map((b: AcceptedBallot) => b.agentId).sort());
      expect(verifiesOutside(page.ballots, page.publicKeys)).toBe(true);
    }
    expect((await get(`/api/v1/decisions/${decisionId}/ballots?pageToken=5`)).body.ballots).toEqual([]);
    const refused = async (query: string) => {
      const { status, body } = await get(`/api/v1/decisions/${decisionId}/ballots?${query}`);
      return { status, field: body.error?.field };
    };
    expect(await refused('pageToken=abc')).toEqual({ status: 400, field: 'pageToken' });
    expect(await refused('pageToken=-1')).toEqual({ status: 400, field: 'pageToken' });
    expect(await refused('pageSize=0')).toEqual({ status: 400, field: 'pageSize' });
    expect(await refused('pageSize=5001')).toEqual({ status: 400, field: 'pageSize' });
  });

  it('reputation power: one vote per task the agent completed, read from the tasks\' visibility when voting opens', async () => {
    const { swarmId, members } = await swarmOf(3, (i) => ['vote', `worker-${i}`]);
    const [a0, a1, a2] = members;
    await Promise.all(members.map((agent) => agent.onTask(async () => ({ done: true }))));
    // a0 completes two tasks, a1 one, a2 none.
    for (const worker of [0, 0, 1]) {
      const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
        method: 'POST', headers: admin,
        body: JSON.stringify({ swarmId, kind: 'echo', input: {}, estimatedWork: 1, deadline: 3_600_000, requirements: { capabilities: [`worker-${worker}`] } }),
      });
      expect(res.status).toBe(202);
    }
    await waitFor('visibility to list the three tasks SUCCEEDED', async () => {
      const page = await get(`/api/v1/tasks?swarmId=${swarmId}&status=SUCCEEDED`);
      return page.body.tasks?.length === 3 ? true : undefined;
    });
    const decisionId = uniqueId('reputation');
    await open({ decisionId, swarmId, title: 'by merit', system: 'single-choice', options: ['b', 'a'], power: 'reputation', votingPeriodMs: 60_000, quorum: { fraction: 1 } });
    const opened = await waitFor('voting to open', async () => {
      const view = await decision(decisionId);
      return view.state === 'ACTIVE' ? view : undefined;
    });
    expect(opened.snapshot).toMatchObject({ voters: 2, totalPower: 3 });
    await expect(a2.vote(decisionId, 'b', { via: 'api' })).rejects.toMatchObject({ status: 403 });
    await a0.vote(decisionId, 'a', { via: 'api' });
    await a1.vote(decisionId, 'b', { via: 'api' });
    const result = await closed(decisionId);
    expect(result).toMatchObject({ state: 'SUCCEEDED', closedBy: 'early', tally: { scores: { a: 2, b: 1 } }, outcome: { winner: 'a' } });
  });

  it('a succeeded proposal starts its tuning job after the timelock and links it', async () => {
    const { swarmId, members } = await swarmOf(2);
    const decisionId = uniqueId('act');
    await voteOnProposal(members, new Map([[decisionId, new Map<string, Choice>(members.map((m) => [m.agentId, 'for']))]]));
    await open({
      decisionId, swarmId, title: 'tune now', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 0.5 },
      action: { kind: 'tuning', spec: { rounds: 1, roundTimeoutMs: 1_000, maxRoundAttempts: 1 }, timelockMs: 500 },
    });
    const result = await closed(decisionId);
    expect(result.state).toBe('EXECUTED');
    expect(result.action).toMatchObject({ kind: 'tuning', status: 'started', jobId: `decision-${decisionId}`, workflowId: tuningWorkflowId(`decision-${decisionId}`) });
    expect(result.closedAt! + 500).toBeLessThanOrEqual(result.action!.runsAt! + 1);
    const tuning = stack.client.workflow.getHandle(result.action!.workflowId!);
    expect((await tuning.describe()).type).toBe('federatedTuning');
    await tuning.cancel();
  });

  it('a cancelled proposal is CANCELLED and says so on the control topic; a closed one cannot be cancelled', async () => {
    const { swarmId } = await swarmOf(1);
    const decisionId = uniqueId('cancel');
    await open({ decisionId, swarmId, title: 'later', system: 'basic', power: 'equal', votingDelayMs: 60_000, votingPeriodMs: 60_000, quorum: { fraction: 0.5 } });
    const res = await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}/cancel`, { method: 'POST', headers: admin, body: '{"reason":"superseded"}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'CANCELLED', cancelReason: 'superseded', closedBy: 'cancel' });
    expect((await closed(decisionId)).state).toBe('CANCELLED');
    const again = await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
    expect(again.status).toBe(409);
  });

  it('validates requests (400 naming the field) and keeps agents to their own swarm', async () => {
    const { swarmId, members } = await swarmOf(1);
    const { members: strangers } = await swarmOf(1);
    const base = { swarmId, title: 't', system: 'single-choice', options: ['a', 'b'], power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 0.5 } };
    const post = async (body: unknown, headers: Record<string, string> = admin) => {
      const res = await fetch(`${stack.api.url}/api/v1/decisions`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, field: ((await res.json()) as { error?: { field?: string } }).error?.field };
    };
    expect(await post({ ...base, options: undefined })).toEqual({ status: 400, field: 'options' });
    expect(await post({ ...base, options: ['a', 'a'] })).toEqual({ status: 400, field: 'options' });
    expect(await post({ ...base, votingPeriodMs: undefined })).toEqual({ status: 400, field: 'votingPeriodMs' });
    expect(await post({ ...base, power: 'merit' })).toEqual({ status: 400, field: 'power' });
    expect(await post({ ...base, system: 'plurality' })).toEqual({ status: 400, field: 'system' });
    expect(await post({ ...base, quorum: { fraction: 2 } })).toEqual({ status: 400, field: 'quorum.fraction' });
    expect(await post({ ...base, action: { kind: 'rebalance', spec: { now: true } } })).toEqual({ status: 400, field: 'action.spec' });
    expect(await post({ ...base, action: { kind: 'tuning', spec: { rounds: 0 } } })).toEqual({ status: 400, field: 'action.spec.rounds' });
    // An agent proposes in its own swarm, and the decision names it; never in another swarm.
    const byAgent = { ...base, decisionId: uniqueId('by-agent') };
    const asAgent = (agent: QpAgent) => ({ authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' });
    expect(await post(byAgent, asAgent(members[0]))).toEqual({ status: 201, field: undefined });
    expect(await post({ ...base, decisionId: uniqueId('stranger') }, asAgent(strangers[0]))).toEqual({ status: 403, field: 'swarmId' });
    expect(await post({ ...base, title: '' }, asAgent(members[0]))).toEqual({ status: 400, field: 'title' });
    expect((await decision(byAgent.decisionId)).proposer).toBe(members[0].agentId);
    const viaSdk = await members[0].propose({ title: 'from the SDK', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 0.5 } });
    expect((await decision(viaSdk.decisionId)).proposer).toBe(members[0].agentId);
    await fetch(`${stack.api.url}/api/v1/decisions/${viaSdk.decisionId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
    await fetch(`${stack.api.url}/api/v1/decisions/${byAgent.decisionId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
    expect(await post(base, {})).toMatchObject({ status: 401 });

    const decisionId = await open(base);
    expect((await decision(decisionId)).proposer).toBe('admin');
    expect((await get(`/api/v1/decisions/${decisionId}`, members[0].token)).status).toBe(200);
    expect((await get(`/api/v1/decisions/${decisionId}`, strangers[0].token)).status).toBe(403);
    expect((await get(`/api/v1/decisions/${decisionId}/ballots`, strangers[0].token)).status).toBe(403);
    expect((await get(`/api/v1/decisions?swarmId=${swarmId}`, strangers[0].token)).status).toBe(403);
    await expect(strangers[0].vote(decisionId, 'a', { via: 'api' })).rejects.toMatchObject({ status: 403 });
    expect((await get(`/api/v1/decisions/${uniqueId('none')}`)).status).toBe(404);
    await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
  });
});
