// Python agents (agents/python, qp_agent) with delegated tasks and votes on the real stack with
// QP_MESSAGING=pulsar: a central task runs on a Python agent (one that raises FAILS with its
// reason, one it declines is declined), a Python agent wins a Contract Net task against a TypeScript one by bidding from its
// declared profile, and Python and TypeScript agents vote on one decision whose tally counts both.
// Real Temporal, real worker and HTTP API, the shared test broker; each Python agent is a process.
import { createPublicKey, verify } from 'node:crypto';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { QpAgent } from '../agents/sdk';
import type { DecisionStatus } from '../core/decisions/status';
import type { AcceptedBallot, Choice } from '../core/decisions/types';
import { taskResultsTopic, type TaskAssignmentMessage, type TaskOutcomeMessage, type TaskState } from '../core/tasks';
import { swarmTopics } from '../core/topics';
import { decisionWorkflowId } from '../workflows/definitions';
import { taskWorkflowId } from '../workflows/definitions-tasks';
import type { Embedded } from '../workers/embedded';
import { sharedPulsarOptions } from './support/pulsar';
import { pythonSdkBin } from './support/python-sdk';
import { PythonTaskAgent as PythonAgent } from './support/python-task-agent';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

const { python, reason } = pythonSdkBin();
if (!python) console.log(`python SDK task/vote test skipped: the python-sdk venv could not be created (${reason})`);
const maybe = python ? describe : describe.skip;

maybe('Python agents run tasks and vote on the real stack (Pulsar over its WebSocket API)', () => {
  let stack: Embedded;
  let pulsar: ReturnType<typeof sharedPulsarOptions>;
  const pythons: PythonAgent[] = [];
  const typescripts: QpAgent[] = [];
  const brokers: PulsarMessaging[] = [];

  beforeAll(async () => {
    pulsar = sharedPulsarOptions();
    stack = await startTestEmbedded({
      QP_MESSAGING: 'pulsar',
      PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL as string,
      PULSAR_ADMIN_URL: pulsar.adminUrl,
      PULSAR_TENANT: pulsar.tenant as string,
      QP_HANDSHAKE_TIMEOUT_MS: '15000',
      QP_TASK_BID_WINDOW_MS: '4000',
      QP_TASK_MAX_ATTEMPTS: '1',
    });
  });
  afterAll(async () => {
    for (const agent of pythons) agent.child.kill();
    await Promise.all(typescripts.map((agent) => agent.close()));
    await Promise.all(brokers.map((broker) => broker.close()));
    await stack?.stop();
  });

  async function startPython(swarmId: string, name: string, env: Record<string, string> = {}): Promise<PythonAgent> {
    const agent = PythonAgent.start(python as string, `${swarmId}-${name}`, {
      QP_API_URL: stack.api.url,
      QP_PULSAR_URL: pulsar.webSocketUrl,
      QP_PULSAR_TENANT: pulsar.tenant as string,
      QP_SWARM_ID: swarmId,
      ...env,
    });
    pythons.push(agent);
    expect(await agent.next('registered')).toMatchObject({ status: 'ACTIVE', swarmId });
    await agent.next('listening');
    return agent;
  }

  /** A TypeScript SDK agent on the same broker, as a separate client of it. */
  async function startTypeScript(swarmId: string, name: string, resources: Record<string, unknown>): Promise<QpAgent> {
    const messaging = new PulsarMessaging(pulsar);
    brokers.push(messaging);
    const agent = new QpAgent({
      apiUrl: stack.api.url,
      messaging,
      agentId: `${swarmId}-${name}`,
      swarmId,
      capabilities: ['echo', 'vote'],
      resources: resources as never,
      heartbeatIntervalMs: 60_000,
    });
    typescripts.push(agent);
    await agent.register();
    return agent;
  }

  async function runTask(body: Record<string, unknown>): Promise<TaskState> {
    const taskId = uniqueId('pytask');
    const res = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ taskId, input: { n: 7 }, estimatedWork: 60, deadline: 3_600_000, ...body }),
    });
    expect(res.status).toBe(202);
    return stack.client.workflow.getHandle(taskWorkflowId(taskId)).result();
  }

  it('a central task runs on the Python agent and succeeds with its result; one whose handler raises FAILS with the reason, one it declines is declined', async () => {
    const swarmId = uniqueId('pytasks');
    const agent = await startPython(swarmId, 'py');
    const state = await runTask({ swarmId, kind: 'echo' });
    expect(state).toMatchObject({ status: 'SUCCEEDED', agentId: agent.agentId, result: { ranOn: agent.agentId, input: { n: 7 }, lang: 'python' } });
    expect(state.attempts).toHaveLength(1);
    expect(state.attempts[0]).toMatchObject({ agentId: agent.agentId, outcome: 'succeeded' });
    // The task's own progress report (0.5) was signed too: a rejected proof would show as no outcome at all.

    const failed = await runTask({ swarmId, kind: 'fail' });
    expect(failed.status).toBe('FAILED');
    expect(failed.attempts[0]).toMatchObject({ agentId: agent.agentId, outcome: 'failed' });
    expect(failed.attempts[0].reason).toMatch(/cannot run pytask/);

    // A decline is not a failure: the manager would give the task to another agent (none here, one attempt).
    const declined = await runTask({ swarmId, kind: 'decline' });
    expect(declined.status).toBe('FAILED');
    expect(declined.attempts[0]).toMatchObject({ agentId: agent.agentId, outcome: 'declined', reason: 'not my kind of task' });
    await agent.stop();
  }, 120_000);

  it('an attempt the manager sends again is answered again with the answer given, without running the task again', async () => {
    const swarmId = uniqueId('pyagain');
    const agent = await startPython(swarmId, 'py');
    const state = await runTask({ swarmId, kind: 'echo' });
    expect(state).toMatchObject({ status: 'SUCCEEDED', agentId: agent.agentId });
    const taskId = state.taskId;
    const answers = await stack.ports.messaging.subscribe(taskResultsTopic(swarmId), uniqueId('watch'), { initialPosition: 'latest' });
    try {
      // As a worker that crashed while placing and dispatching would: the same attempt in the inbox again.
      const again: TaskAssignmentMessage = { type: 'task', taskId, attempt: 1, swarmId, kind: 'echo', input: { n: 7 }, deadlineMs: Date.now() + 600_000, replyTopic: taskResultsTopic(swarmId) };
      await stack.ports.messaging.publish(swarmTopics(swarmId).inbox(agent.agentId), Buffer.from(JSON.stringify(again)), {
        key: taskId,
        properties: { type: 'task', taskId, attempt: '1' },
      });
      const repeated = await waitFor(
        'the Python agent to answer the attempt again',
        async () => {
          const message = await answers.receive(500);
          if (!message) return undefined;
          await answers.ack(message);
          const outcome = JSON.parse(Buffer.from(message.payload).toString('utf8')) as TaskOutcomeMessage;
          return outcome.taskId === taskId && outcome.outcome !== 'progress' ? outcome : undefined;
        },
        120_000,
      );
      expect(repeated).toMatchObject({ taskId, attempt: 1, agentId: agent.agentId, outcome: 'succeeded', result: state.result as object });
      // The agent reports it after the broker took the answer: wait for the line.
      await waitFor('the agent to report the repeated answer', () => (agent.sdkEvents('task-answered-again').length > 0 ? true : undefined), 60_000);
      expect(agent.sdkEvents('task-answered-again')).toEqual([{ type: 'task-answered-again', taskId, attempt: 1, outcome: 'succeeded' }]);
      expect(agent.events.filter((e) => e.event === 'task' && e.taskId === taskId)).toHaveLength(1);
    } finally {
      await answers.close();
    }
    await agent.stop();
  }, 240_000);

  it('Contract Net: the Python agent bids from its declared profile and wins against a dirtier TypeScript agent', async () => {
    const swarmId = uniqueId('pycnp');
    const energy = (carbonGPerKWh: number) => ({ cpu: 2, memoryMb: 1024, energy: { source: 'grid', carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1 } });
    const green = await startPython(swarmId, 'green', { QP_RESOURCES: JSON.stringify(energy(20)) });
    const coal = await startTypeScript(swarmId, 'coal', energy(700));
    await coal.onTask(async (task) => ({ ranOn: coal.agentId, input: task.input }));

    const state = await runTask({ swarmId, kind: 'echo', allocation: 'contract-net' });
    expect(state.status).toBe('SUCCEEDED');
    expect(state.agentId).toBe(green.agentId);
    expect(state.result).toEqual({ ranOn: green.agentId, input: { n: 7 }, lang: 'python' });
    expect(state.attempts[0].bids).toBe(2);
    // 60 work units at speed 1 and 100 W: 1.667 Wh; at 20 g/kWh: 0.0333 g, as the Python bid said.
    expect(state.energyWh).toBeCloseTo(100 / 60, 9);
    expect(state.carbonG).toBeCloseTo((100 / 60 / 1000) * 20, 9);
    expect(green.sdkEvents('task-bid').length).toBeGreaterThan(0);
    await green.stop();
  }, 120_000);

  it('a ballot the Python agent casts during a broker outage is sent again and counted in its decision', async () => {
    const swarmId = uniqueId('pyvote-outage');
    const voter = await startPython(swarmId, 'py', { QP_VOTE: JSON.stringify({ basic: 'for' }), QP_BALLOT_OUTAGE: '3' });
    await waitFor(
      'visibility to list the agent ACTIVE',
      async () => ((await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 })).agents.length === 1 ? true : undefined),
      120_000,
    );
    const decisionId = uniqueId('py-outage');
    const res = await fetch(`${stack.api.url}/api/v1/decisions`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ decisionId, swarmId, title: 'outage', system: 'basic', power: 'equal', votingPeriodMs: 120_000, quorum: { fraction: 1 } }),
    });
    expect(res.status).toBe(201);
    const status = (await stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result()) as DecisionStatus;
    // Quorum is everyone: an early close means the one ballot, refused three times by the broker, counted.
    expect(status).toMatchObject({ state: 'SUCCEEDED', closedBy: 'early', voters: 1, outcome: { winner: 'for' } });
    expect(status.tally.ballots).toBe(1);
    expect(voter.events.filter((e) => e.event === 'outage')).toHaveLength(3);
    expect((await voter.next('voted')).decisionId).toBe(decisionId);
    await voter.stop();
  }, 240_000);

  it('Python agents (over messaging and over the API) and a TypeScript agent vote on one decision: the tally counts all three', async () => {
    const swarmId = uniqueId('pyvote');
    const viaMessaging = await startPython(swarmId, 'py-msg', { QP_VOTE: JSON.stringify({ basic: 'for', weighted: { b: 1, a: 3 } }) });
    const viaApi = await startPython(swarmId, 'py-api', { QP_VOTE: JSON.stringify({ basic: 'against', weighted: { a: 1 } }), QP_VOTE_VIA: 'api' });
    const typescript = await startTypeScript(swarmId, 'ts', { cpu: 1, memoryMb: 1024 });
    const tsChoices: Record<string, Choice> = { basic: 'for', weighted: { b: 1 } };
    await typescript.onProposal(async (proposal) => {
      await typescript.vote(proposal.decisionId, tsChoices[proposal.system as string]);
    });
    await waitFor('visibility to list the three agents ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 100 });
      return page.agents.length === 3 ? true : undefined;
    });

    const open = async (system: string, options?: string[]): Promise<string> => {
      const decisionId = uniqueId(`py-${system}`);
      const res = await fetch(`${stack.api.url}/api/v1/decisions`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ decisionId, swarmId, title: `${system} vote`, system, options, power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 1 } }),
      });
      expect(res.status).toBe(201);
      return decisionId;
    };
    const basic = await open('basic');
    const weighted = await open('weighted', ['a', 'b']);
    const [basicResult, weightedResult] = await Promise.all(
      [basic, weighted].map((id) => stack.client.workflow.getHandle(decisionWorkflowId(id)).result() as Promise<DecisionStatus>),
    );
    // Quorum is everyone, so an early close means all three ballots counted.
    expect(basicResult).toMatchObject({ state: 'SUCCEEDED', closedBy: 'early', voters: 3, outcome: { winner: 'for' } });
    expect(basicResult.tally.scores).toEqual({ for: 2, against: 1, abstain: 0 });
    // Weighted: each ballot spreads the voter's power over its options in proportion.
    expect(weightedResult).toMatchObject({ state: 'SUCCEEDED', closedBy: 'early', voters: 3, outcome: { winner: 'a' } });
    expect(weightedResult.tally.scores.a).toBeCloseTo(1.75, 12);
    expect(weightedResult.tally.scores.b).toBeCloseTo(1.25, 12);
    expect(basicResult.refusals.counts).toEqual({});

    // The kept ballots verify with node:crypto alone against the agents' registered keys.
    const res = await fetch(`${stack.api.url}/api/v1/decisions/${weighted}/ballots`, { headers: admin });
    const { ballots, publicKeys } = (await res.json()) as { ballots: AcceptedBallot[]; publicKeys: Record<string, string> };
    expect(ballots.map((b) => b.agentId).sort()).toEqual([viaApi.agentId, viaMessaging.agentId, typescript.agentId].sort());
    for (const b of ballots) {
      const choice =
        typeof b.choice === 'string' || Array.isArray(b.choice)
          ? JSON.stringify(b.choice)
          : JSON.stringify(Object.fromEntries(Object.entries(b.choice).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));
      const message = Buffer.from(['qp-ballot/1', b.decisionId, b.agentId, String(b.castAt), choice].join('\n'));
      expect(verify(null, message, createPublicKey(publicKeys[b.agentId]), Buffer.from(b.signature, 'base64'))).toBe(true);
    }
    expect(viaApi.events.filter((e) => e.event === 'voted')).toHaveLength(2);
    await Promise.all([viaMessaging.stop(), viaApi.stop()]);
  }, 120_000);
});
