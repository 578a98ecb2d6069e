// What a succeeded decision does, on the real Temporal dev server with SDK agents: it starts a
// task batch or rebalances the swarm's tasks (and says clearly when that fails); agents propose
// only above the proposal threshold and cancel only their own proposals; a finished decision
// leaves nothing unacknowledged on its ballot topic.
import { generateKeyPairSync } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import { DIGITS_DIMENSION, noopTrainer } from '../agents/trainers';
import type { MessagingBacklog } from '../adapters/ports';
import type { DecisionStatus } from '../core/decisions/status';
import { decisionTopic } from '../core/decisions/topics';
import type { TaskState } from '../core/tasks';
import { BALLOT_SUBSCRIPTION } from '../activities/decisions';
import { decisionWorkflowId } from '../workflows/definitions';
import { taskRebalanceScheduleId, taskWorkflowId } from '../workflows/definitions-tasks';
import { contributionCountsQuery, reputationLedgerWorkflowId } from '../workflows/definitions-reputation';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('decision actions, proposal threshold and proposer cancellation', () => {
  let stack: Embedded;
  const agents: QpAgent[] = [];
  const simulations: SwarmSimulation[] = [];
  /** Ends the silent agent's task run, so that it can close. */
  let release: () => void = () => undefined;

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_DECISION_PROPOSAL_THRESHOLD: '1',
      // A task with a LOST agent stays put until something rebalances it: here, only a decision.
      QP_TASK_ATTEMPT_TIMEOUT_MS: '600000',
      QP_HEARTBEAT_GRACE_MS: '1500',
    });
  });
  afterAll(async () => {
    release();
    await Promise.all(agents.map((agent) => agent.close()));
    await Promise.all(simulations.map((simulation) => simulation.stop()));
    await stack?.stop();
  });

  async function agentOf(swarmId: string, name: string, options: { capabilities?: string[]; carbonGPerKWh?: number } = {}): Promise<QpAgent> {
    const agent = new QpAgent({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId: `${swarmId}-${name}`,
      swarmId,
      capabilities: options.capabilities ?? ['vote'],
      heartbeatIntervalMs: 300,
      keys: generateKeyPairSync('ed25519'),
      resources: {
        cpu: 1,
        memoryMb: 512,
        ...(options.carbonGPerKWh === undefined
          ? {}
          : { energy: { source: 'grid' as const, carbonGPerKWh: options.carbonGPerKWh, busyWatts: 100, idleWatts: 10, speed: 1 } }),
      },
    });
    agents.push(agent);
    await agent.register();
    agent.startHeartbeats();
    return agent;
  }

  async function activeIn(swarmId: string, count: number): Promise<void> {
    await waitFor('visibility to list the agents ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 100 });
      return page.agents.length === count ? true : undefined;
    });
  }

  async function post(path: string, body: unknown, headers: Record<string, string> = admin): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`${stack.api.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const listTasks = async (query: string): Promise<Array<{ taskId: string }>> => {
    const res = await fetch(`${stack.api.url}/api/v1/tasks?${query}`, { headers: admin });
    return ((await res.json()) as { tasks: Array<{ taskId: string }> }).tasks;
  };
  const asAgent = (agent: QpAgent) => ({ authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' });
  const closed = (decisionId: string): Promise<DecisionStatus> => stack.client.workflow.getHandle(decisionWorkflowId(decisionId)).result();
  const task = (taskId: string): Promise<TaskState> => stack.client.workflow.getHandle(taskWorkflowId(taskId)).query<TaskState>('taskState');

  /** Each agent votes "for" every proposal that reaches it. */
  async function votesFor(members: QpAgent[]): Promise<void> {
    await Promise.all(members.map((agent) => agent.onProposal(async (proposal) => void (await agent.vote(proposal.decisionId, 'for')))));
  }

  const basic = (swarmId: string, decisionId: string) => ({
    decisionId, swarmId, title: 'act', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 0.5 },
  });
  const echo = (swarmId: string, extra: Record<string, unknown> = {}) => ({ swarmId, kind: 'echo', input: { n: 1 }, estimatedWork: 1, deadline: 3_600_000, ...extra });

  it('a succeeded proposal starts its task batch after the timelock, links the tasks, and leaves no ballot backlog', async () => {
    const swarmId = uniqueId('dao-tasks');
    const members = [await agentOf(swarmId, 'a0'), await agentOf(swarmId, 'a1')];
    await activeIn(swarmId, 2);
    await votesFor(members);
    await Promise.all(members.map((agent) => agent.onTask(async (t) => ({ ranOn: agent.agentId, input: t.input }))));
    const decisionId = uniqueId('batch');
    const named = uniqueId('named');
    const opened = await post('/api/v1/decisions', {
      ...basic(swarmId, decisionId),
      action: { kind: 'tasks', spec: { tasks: [echo(swarmId, { taskId: named }), echo(swarmId)] }, timelockMs: 300 },
    });
    expect(opened.status).toBe(201);
    const result = await closed(decisionId);
    expect(result.state).toBe('EXECUTED');
    expect(result.action).toMatchObject({ kind: 'tasks', status: 'started', taskIds: [named, `decision-${decisionId}-1`] });
    expect(result.closedAt! + 300).toBeLessThanOrEqual(result.action!.runsAt! + 1);
    for (const taskId of result.action!.taskIds!) {
      const done = await stack.client.workflow.getHandle(taskWorkflowId(taskId)).result();
      expect(done).toMatchObject({ status: 'SUCCEEDED', swarmId });
    }
    // Both ballots came in one batch, the last one: it is acknowledged once the workflow recorded it.
    expect(result.voters).toBe(2);
    const backlog = await (stack.ports.messaging as unknown as MessagingBacklog).backlog(decisionTopic(swarmId, decisionId));
    expect(backlog.find((s) => s.subscription === BALLOT_SUBSCRIPTION)).toEqual({ subscription: BALLOT_SUBSCRIPTION, backlog: 0 });
  });

  it('a task batch with a refused task records the failure clearly: SUCCEEDED, action failed with the typed code, the rest started', async () => {
    const swarmId = uniqueId('dao-fail');
    const [voter] = [await agentOf(swarmId, 'a0')];
    await activeIn(swarmId, 1);
    await votesFor([voter]);
    // The id is taken by a task of another swarm: POST /tasks answers that with CONFLICT.
    const taken = uniqueId('taken');
    expect((await post('/api/v1/tasks', echo(uniqueId('elsewhere'), { taskId: taken }))).status).toBe(202);
    const decisionId = uniqueId('batch-fail');
    expect((await post('/api/v1/decisions', {
      ...basic(swarmId, decisionId),
      action: { kind: 'tasks', spec: { tasks: [echo(swarmId, { taskId: taken }), echo(swarmId, { requirements: { capabilities: ['nobody'] } })] } },
    })).status).toBe(201);
    const result = await closed(decisionId);
    expect(result.state).toBe('SUCCEEDED');
    expect(result.action).toMatchObject({
      kind: 'tasks',
      status: 'failed',
      errorCode: 'TASK_REFUSED',
      failed: 1,
      failures: [{ taskId: taken, code: 'CONFLICT' }],
      taskIds: [`decision-${decisionId}-1`],
    });
    expect(result.action!.error).toContain(taken);
    expect((await task(`decision-${decisionId}-1`)).swarmId).toBe(swarmId);
    await stack.client.workflow.getHandle(taskWorkflowId(`decision-${decisionId}-1`)).cancel();
    await stack.client.workflow.getHandle(taskWorkflowId(taken)).cancel();
  });

  it('a succeeded rebalance proposal runs the swarm\'s rebalancing now: the task of a LOST agent moves and the run is linked', async () => {
    const swarmId = uniqueId('dao-rebalance');
    // The greener agent takes the task and never answers; then its heartbeats stop.
    const silent = await agentOf(swarmId, 'silent', { capabilities: [], carbonGPerKWh: 10 });
    const steady = await agentOf(swarmId, 'steady', { capabilities: [], carbonGPerKWh: 500 });
    await activeIn(swarmId, 2);
    await silent.onTask(() => new Promise((resolve) => (release = () => resolve(null))));
    await steady.onTask(async () => ({ ranOn: 'steady' }));
    await votesFor([steady]);
    const taskId = uniqueId('stranded');
    expect((await post('/api/v1/tasks', echo(swarmId, { taskId }))).status).toBe(202);
    await waitFor('the task to be with the silent agent', async () => ((await task(taskId)).agentId === silent.agentId ? true : undefined));
    silent.stopHeartbeats();
    await waitFor('visibility to list the silent agent LOST', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'LOST', pageSize: 10 });
      return page.agents.some((a) => a.agentId === silent.agentId) ? true : undefined;
    }, 30_000);
    await waitFor('visibility to list the task ASSIGNED to the silent agent', async () => {
      const page = await listTasks(`swarmId=${swarmId}&status=ASSIGNED&agentId=${silent.agentId}`);
      return page.some((t) => t.taskId === taskId) ? true : undefined;
    });

    const decisionId = uniqueId('rebalance');
    expect((await post('/api/v1/decisions', {
      ...basic(swarmId, decisionId), electorate: { agentIds: [steady.agentId] }, action: { kind: 'rebalance', spec: {} },
    })).status).toBe(201);
    const result = await closed(decisionId);
    expect(result.state).toBe('EXECUTED');
    expect(result.action).toMatchObject({
      kind: 'rebalance',
      status: 'started',
      workflowId: `${taskRebalanceScheduleId(swarmId)}-decision-${decisionId}`,
      assigned: 1,
      taskIds: [taskId],
    });
    expect((await stack.client.workflow.getHandle(result.action!.workflowId!).describe()).type).toBe('taskRebalance');
    const moved: TaskState = await stack.client.workflow.getHandle(taskWorkflowId(taskId)).result();
    expect(moved.status).toBe('SUCCEEDED');
    expect(moved.attempts.map((a) => [a.agentId, a.outcome])).toEqual([
      [silent.agentId, 'lost'],
      [steady.agentId, 'succeeded'],
    ]);
  }, 90_000);

  it('validates task and rebalance actions when the proposal is made (400 naming the field)', async () => {
    const swarmId = uniqueId('dao-valid');
    const base = basic(swarmId, uniqueId('never'));
    const field = async (action: unknown) => {
      const res = await post('/api/v1/decisions', { ...base, action });
      return { status: res.status, field: res.body.error?.field };
    };
    const tasks = [echo(swarmId), echo(swarmId), echo(swarmId), echo(swarmId, { deadline: 'tomorrow' })];
    expect(await field({ kind: 'tasks', spec: { tasks } })).toEqual({ status: 400, field: 'action.spec.tasks[3].deadline' });
    expect(await field({ kind: 'tasks', spec: { tasks: [echo(swarmId), echo('another-swarm')] } })).toEqual({ status: 400, field: 'action.spec.tasks[1].swarmId' });
    expect(await field({ kind: 'tasks', spec: { tasks: [] } })).toEqual({ status: 400, field: 'action.spec.tasks' });
    expect(await field({ kind: 'tasks', spec: {} })).toEqual({ status: 400, field: 'action.spec.tasks' });
    expect(await field({ kind: 'rebalance', spec: { swarmId } })).toEqual({ status: 400, field: 'action.spec' });
    expect(await field({ kind: 'merge', spec: {} })).toEqual({ status: 400, field: 'action.kind' });
    expect((await stack.api.decisions!.list({ swarmId, pageSize: 10 })).length).toBe(0);
  });

  it('an agent proposes only at or above the proposal threshold, and only the proposer (or the admin) cancels', async () => {
    const swarmId = uniqueId('dao-threshold');
    const worker = await agentOf(swarmId, 'worker', { capabilities: ['vote', 'work'] });
    const idle = await agentOf(swarmId, 'idle');
    const stranger = await agentOf(uniqueId('dao-other'), 'stranger');
    await activeIn(swarmId, 2);
    const proposal = { title: 'later', system: 'basic', power: 'equal', votingDelayMs: 60_000, votingPeriodMs: 60_000, quorum: { fraction: 0.5 } };

    // Reputation 0 against a threshold of 1: refused, with the reason typed.
    const refused = await post('/api/v1/decisions', { ...proposal, swarmId }, asAgent(worker));
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'below-proposal-threshold' });
    // Below the threshold, a bad body is still a 400 naming the field: validation comes first, and nothing is stored or started.
    const badActions: Array<[unknown, string]> = [
      [{ kind: 'tasks', spec: { tasks: [{ ...echo(swarmId), deadline: 'soon' }] } }, 'action.spec.tasks[0].deadline'],
      [{ kind: 'rebalance', spec: { now: true } }, 'action.spec'],
      [{ kind: 'teleport', spec: {} }, 'action.kind'],
    ];
    for (const [action, field] of badActions) {
      const bad = await post('/api/v1/decisions', { ...proposal, swarmId, action }, asAgent(worker));
      expect({ status: bad.status, field: bad.body.error?.field }).toEqual({ status: 400, field });
    }
    // A valid action from the same agent is still refused for its standing.
    const validAction = { kind: 'rebalance', spec: {} };
    expect((await post('/api/v1/decisions', { ...proposal, swarmId, action: validAction }, asAgent(worker))).body.error).toMatchObject({
      reason: 'below-proposal-threshold',
    });

    await worker.onTask(async () => ({ done: true }));
    expect((await post('/api/v1/tasks', echo(swarmId, { requirements: { capabilities: ['work'] } }))).status).toBe(202);
    await waitFor('visibility to list the worker\'s task SUCCEEDED', async () => {
      const page = await listTasks(`swarmId=${swarmId}&status=SUCCEEDED&agentId=${worker.agentId}`);
      return page.length === 1 ? true : undefined;
    });
    const { decisionId } = await worker.propose(proposal);
    expect((await stack.api.decisions!.status(decisionId)).proposer).toBe(worker.agentId);
    expect((await post('/api/v1/decisions', { ...proposal, swarmId }, asAgent(idle))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });
    // The admin is never held to the threshold.
    const byAdmin = uniqueId('by-admin');
    expect((await post('/api/v1/decisions', { ...proposal, swarmId, decisionId: byAdmin })).status).toBe(201);

    const cancel = (id: string, agent: QpAgent) => post(`/api/v1/decisions/${id}/cancel`, { reason: 'withdrawn' }, asAgent(agent));
    const notMine = await cancel(decisionId, idle);
    expect(notMine.status).toBe(403);
    expect(notMine.body.error).toMatchObject({ reason: 'not-proposer' });
    expect((await cancel(decisionId, stranger)).body.error).toMatchObject({ code: 'FORBIDDEN', field: 'swarmId' });
    expect((await cancel(byAdmin, worker)).status).toBe(403);
    await expect(worker.cancelProposal(decisionId, 'withdrawn')).resolves.toMatchObject({ state: 'CANCELLED', cancelReason: 'withdrawn' });
    expect((await closed(decisionId)).state).toBe('CANCELLED');
    const again = await cancel(decisionId, worker);
    expect(again.status).toBe(409);
    expect((await post(`/api/v1/decisions/${byAdmin}/cancel`, {})).status).toBe(200);
  });

  it('accepted federated round updates count toward reputation: the ledger, voting power and the proposal threshold', async () => {
    const swarmId = uniqueId('dao-fl');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 2,
      swarmId,
      idPrefix: swarmId,
      trainers: [noopTrainer, noopTrainer],
      heartbeatIntervalMs: 300,
      handshakeTimeoutMs: 60_000,
    });
    simulations.push(swarm);
    expect(swarm.failed).toEqual([]);
    await activeIn(swarmId, 2);
    const [a0, a1] = swarm.agents;
    const proposal = { swarmId, title: 'by merit', system: 'basic', power: 'reputation', votingDelayMs: 0, votingPeriodMs: 60_000, quorum: { fraction: 1 } };
    // No task done, no update accepted yet: below the threshold of 1.
    expect((await post('/api/v1/decisions', proposal, asAgent(a0))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });

    const started = await post('/api/v1/tuning/start', {
      swarmId, model: { kind: 'vector', dimension: DIGITS_DIMENSION }, rounds: 2, fraction: 1, minParticipants: 2, roundTimeoutMs: 20_000,
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 }, seed: 7,
    });
    expect(started.status).toBe(202);
    const job = await stack.client.workflow.getHandle(tuningWorkflowId(started.body.jobId)).result();
    expect(job.status).toBe('COMPLETED');
    // Two aggregated rounds, each with both agents' updates accepted: two each in the swarm's ledger.
    const ledger = stack.client.workflow.getHandle(reputationLedgerWorkflowId(swarmId));
    expect(await ledger.query(contributionCountsQuery)).toEqual({ [a0.agentId]: 2, [a1.agentId]: 2 });

    const opened = await post('/api/v1/decisions', proposal, asAgent(a0));
    expect(opened.status).toBe(201);
    const view = await waitFor('voting to open', async () => {
      const status = await stack.api.decisions.status(opened.body.decisionId);
      return status.state === 'ACTIVE' ? status : undefined;
    });
    expect(view.snapshot).toMatchObject({ voters: 2, totalPower: 4 });
    expect((await post(`/api/v1/decisions/${opened.body.decisionId}/cancel`, {}, asAgent(a0))).status).toBe(200);
  }, 90_000);

  it('accepted asynchronous (buffered) updates count toward reputation as synchronous rounds do: one per agent per version', async () => {
    const swarmId = uniqueId('dao-fedbuff');
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 2,
      swarmId,
      idPrefix: swarmId,
      trainers: [noopTrainer, noopTrainer],
      heartbeatIntervalMs: 300,
      handshakeTimeoutMs: 60_000,
    });
    simulations.push(swarm);
    expect(swarm.failed).toEqual([]);
    await activeIn(swarmId, 2);
    const [a0, a1] = swarm.agents;
    const proposal = { swarmId, title: 'by merit', system: 'basic', power: 'reputation', votingDelayMs: 0, votingPeriodMs: 60_000, quorum: { fraction: 1 } };
    expect((await post('/api/v1/decisions', proposal, asAgent(a1))).body.error).toMatchObject({ reason: 'below-proposal-threshold' });

    // A buffer of 2 with no staleness allowed: each version needs one update of each agent (an agent's second update on one base is refused).
    const started = await post('/api/v1/tuning/start', {
      swarmId, mode: 'async', bufferSize: 2, maxStaleness: 0, rounds: 3, fraction: 1, minParticipants: 2,
      model: { kind: 'vector', dimension: 16 }, roundTimeoutMs: 20_000, training: { learningRate: 0.1, epochs: 1, batchSize: 32 }, seed: 7,
    });
    expect(started.status).toBe(202);
    const job = await stack.client.workflow.getHandle(tuningWorkflowId(started.body.jobId)).result();
    expect(job).toMatchObject({ status: 'COMPLETED', round: 3, mode: 'async' });
    const ledger = stack.client.workflow.getHandle(reputationLedgerWorkflowId(swarmId));
    expect(await ledger.query(contributionCountsQuery)).toEqual({ [a0.agentId]: 3, [a1.agentId]: 3 });

    const opened = await post('/api/v1/decisions', proposal, asAgent(a1));
    expect(opened.status).toBe(201);
    const view = await waitFor('voting to open', async () => {
      const status = await stack.api.decisions.status(opened.body.decisionId);
      return status.state === 'ACTIVE' ? status : undefined;
    }, 120_000);
    expect(view.snapshot).toMatchObject({ voters: 2, totalPower: 6 });
    expect((await post(`/api/v1/decisions/${opened.body.decisionId}/cancel`, {}, asAgent(a1))).status).toBe(200);
  }, 240_000);
});
