// Registration and tuning on task queues of their own (QP_REGISTRATION_TASK_QUEUE,
// QP_TUNING_TASK_QUEUE, derived from QP_TASK_QUEUE), with a session started on the
// general queue, as every session was before, still served and listed.
import { randomBytes } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { noopTrainer } from '../agents/trainers';
import type { AgentRecord } from '../core/agents';
import { taskQueues } from '../core/config';
import { issueCredential } from '../core/credentials';
import { AgentIdKey, AgentStatusKey, StandingChangedAtKey, SwarmIdKey } from '../core/search-attributes';
import type { TuningProgress } from '../core/tuning';
import { REGISTRATION_WORKFLOW, livenessWorkflowId, registrationWorkflowId, tuningWorkflowId } from '../workflows/definitions';
import type { RegisterAgentInput } from '../workflows/registration';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, testConfig, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('task queues of their own for registration and tuning', () => {
  let stack: Embedded;
  const secret = randomBytes(32).toString('hex');
  const config = testConfig({ QP_CREDENTIAL_SECRET: secret });
  const queues = taskQueues(config);
  const agents: QpAgent[] = [];

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_TASK_QUEUE: config.QP_TASK_QUEUE, QP_CREDENTIAL_SECRET: secret });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await stack?.stop();
  }, 120_000);

  const newAgent = (swarmId: string, agentId = uniqueId('tq-agent')) => {
    const agent = new QpAgent({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId,
      swarmId,
      capabilities: ['train'],
      resources: { cpu: 2, memoryMb: 2048 },
      heartbeatIntervalMs: 1_000,
      handshakeTimeoutMs: 60_000,
    });
    agents.push(agent);
    return agent;
  };
  const taskQueueOf = async (workflowId: string) => (await stack.client.workflow.getHandle(workflowId).describe()).taskQueue;

  it('the embedded worker polls the general, registration and tuning queues, derived from QP_TASK_QUEUE', () => {
    expect(queues).toEqual({
      general: config.QP_TASK_QUEUE,
      registration: `${config.QP_TASK_QUEUE}-registration`,
      tuning: `${config.QP_TASK_QUEUE}-tuning`,
    });
    expect(stack.workers.map((worker) => worker.options.taskQueue)).toEqual([queues.general, queues.registration, queues.tuning]);
  });

  it('a session and its swarm monitor run on the registration queue, a tuning job on the tuning queue', async () => {
    const swarmId = uniqueId('tq-swarm');
    const agent = newAgent(swarmId);
    await agent.register();
    agent.startHeartbeats();
    await agent.participate(noopTrainer);
    expect(await taskQueueOf(registrationWorkflowId(agent.agentId))).toBe(queues.registration);
    expect(await waitFor('the swarm monitor', () => taskQueueOf(livenessWorkflowId(swarmId)), 120_000, 500)).toBe(queues.registration);
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ swarmId, rounds: 1, minParticipants: 1, fraction: 1, roundTimeoutMs: 60_000, model: { kind: 'vector', dimension: 8 } }),
    });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const job = stack.client.workflow.getHandle(tuningWorkflowId(jobId));
    expect((await job.describe()).taskQueue).toBe(queues.tuning);
    const result: TuningProgress = await job.result();
    expect(result).toMatchObject({ status: 'COMPLETED', round: 1 });
    expect(result.recentRounds[0]).toMatchObject({ participants: 1, accepted: 1 });
  }, 300_000);

  it('a session started on the general queue, as before, keeps it: the worker serves it and the API lists it', async () => {
    const swarmId = uniqueId('tq-old');
    const agent = newAgent(swarmId);
    const now = new Date().toISOString();
    const record: AgentRecord = {
      agentId: agent.agentId,
      swarmId,
      capabilities: ['train'],
      resources: { cpu: 2, memoryMb: 2048 },
      publicKey: agent.publicKeyPem,
      status: 'ACTIVE',
      registeredAt: now,
      statusChangedAt: now,
      credentialGeneration: 1,
    };
    const input: RegisterAgentInput = { profile: record, handshakeTimeoutMs: 60_000, session: record };
    const session = await stack.client.workflow.start(REGISTRATION_WORKFLOW, {
      workflowId: registrationWorkflowId(agent.agentId),
      taskQueue: queues.general,
      args: [input],
      memo: { resources: record.resources, publicKey: agent.publicKeyPem },
      typedSearchAttributes: [
        { key: AgentIdKey, value: agent.agentId },
        { key: SwarmIdKey, value: swarmId },
        { key: AgentStatusKey, value: 'ACTIVE' },
        { key: StandingChangedAtKey, value: new Date() },
      ],
    });
    const iat = Math.floor(Date.now() / 1000);
    agent.resume({ agent: record, credential: issueCredential(secret, { sub: agent.agentId, swarm: swarmId, gen: 1, iat, exp: iat + 3600 }) });
    // Listed with the deployment's agents (visibility catches up on its own time).
    await waitFor(
      'the general-queue session in the listing',
      async () => {
        const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
        return page.agents.some((a) => a.agentId === agent.agentId) ? true : undefined;
      },
      120_000,
      500,
    );
    await waitFor('the swarm in the live swarms', async () => ((await stack.api.swarm.liveSwarms(50)).includes(swarmId) ? true : undefined), 120_000, 500);
    expect(await taskQueueOf(session.workflowId)).toBe(queues.general);
    // The general queue's worker still runs it: a deregistration completes the session.
    await agent.deregister();
    await session.result();
    expect((await session.describe()).status.name).toBe('COMPLETED');
  }, 300_000);
});
