// A Python agent (agents/python, qp_agent) against the real stack with QP_MESSAGING=pulsar:
// it registers through its Pulsar inbox (WebSocket API, or the native client), becomes ACTIVE, its
// heartbeats signed over messaging are consumed by the liveness monitor, and it deregisters. Real Temporal, real
// worker and HTTP API, the shared test broker; the agent is a separate Python process.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { QpAgent, type Trainer } from '../agents/sdk';
import { DIGITS_DIMENSION, digitsTrainers } from '../agents/trainers';
import type { AgentRecord } from '../core/agents';
import { bytesToParams, type TuningProgress } from '../core/tuning';
import { clipL2, l2Norm } from '../core/privacy/gaussian';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { sharedPulsarOptions } from './support/pulsar';
import { PYTHON_SDK_DIR, pythonEnv, pythonSdkBin, ROOT } from './support/python-sdk';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const execFileAsync = promisify(execFile);
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

const { python, reason } = pythonSdkBin();
if (!python) console.log(`python SDK end-to-end test skipped: the python-sdk venv could not be created (${reason})`);
const maybe = python ? describe : describe.skip;

async function getAgent(stack: Embedded, agentId: string): Promise<AgentRecord> {
  const res = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}`, { headers: admin });
  if (!res.ok) throw new Error(`GET agent ${res.status}`);
  return (await res.json()) as AgentRecord;
}

/** A counter's value, summed over its labels (0 when absent). */
async function metric(stack: Embedded, name: string, labels = ''): Promise<number> {
  const text = await stack.workerRegistry.getSingleMetricAsString(name).catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

/** The agent process's JSON event lines, awaited one kind at a time. */
class AgentProcess {
  readonly events: { event: string; [field: string]: unknown }[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as { event: string });
      } catch {
        this.stderr.push(line);
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin.on('error', () => undefined); // a line written as the process exits
  }

  next(event: string, timeoutMs = 45_000) {
    return waitFor(
      `the Python agent's "${event}" (stderr: ${this.stderr.slice(-5).join(' | ')})`,
      () => this.events.find((e) => e.event === event),
      timeoutMs,
    );
  }
}

maybe('a Python agent on the real stack (Pulsar over its WebSocket API, or the native client)', () => {
  let stack: Embedded;
  const swarmId = uniqueId('pyswarm');
  let pulsar: ReturnType<typeof sharedPulsarOptions>;
  const running: AgentProcess[] = [];

  beforeAll(async () => {
    pulsar = sharedPulsarOptions();
    stack = await startTestEmbedded({
      QP_MESSAGING: 'pulsar',
      PULSAR_SERVICE_URL: process.env.QP_TEST_PULSAR_URL as string,
      PULSAR_ADMIN_URL: pulsar.adminUrl,
      PULSAR_TENANT: pulsar.tenant as string,
      QP_HANDSHAKE_TIMEOUT_MS: '15000',
      QP_HEARTBEAT_GRACE_MS: '3000',
      QP_LIVENESS_WINDOW_MS: '250',
    });
  });
  afterAll(async () => {
    for (const agent of running) agent.child.kill();
    await stack?.stop();
  });

  async function startJob(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { jobId: string };
    if (res.status !== 202) throw new Error(`start failed ${res.status}: ${JSON.stringify(json)}`);
    return json.jobId;
  }

  function startAgent(agentId: string, extraEnv: Record<string, string> = {}): AgentProcess {
    const child = spawn(python as string, [join(ROOT, 'test/support/python_agent.py')], {
      env: pythonEnv({
        QP_API_URL: stack.api.url,
        QP_PULSAR_URL: pulsar.webSocketUrl,
        QP_PULSAR_TENANT: pulsar.tenant as string,
        QP_AGENT_ID: agentId,
        QP_SWARM_ID: swarmId,
        ...extraEnv,
      }),
    });
    const agent = new AgentProcess(child);
    running.push(agent);
    return agent;
  }

  it('registers through its inbox, is ACTIVE, its signed heartbeats are consumed, and it deregisters', async () => {
    const agentId = uniqueId('pyagent');
    const consumedBefore = await metric(stack, 'qp_manager_heartbeats_consumed_total');
    const agent = startAgent(agentId);

    const registered = await agent.next('registered');
    expect(registered).toMatchObject({ status: 'ACTIVE', swarmId, credential: true });
    expect((await getAgent(stack, agentId)).status).toBe('ACTIVE');

    // The agent sends no HTTP heartbeat: every heartbeat consumed here came signed over messaging.
    await waitFor('three signed heartbeats to be consumed', async () =>
      (await metric(stack, 'qp_manager_heartbeats_consumed_total')) >= consumedBefore + 3 ? true : undefined,
    );
    expect(await metric(stack, 'qp_manager_heartbeats_rejected_total')).toBe(0);
    expect((await getAgent(stack, agentId)).status).toBe('ACTIVE');

    agent.child.stdin.write('deregister\n');
    await agent.next('deregistered');
    expect(await agent.exited).toBe(0);
    await waitFor('the agent to be DEREGISTERED', async () =>
      (await getAgent(stack, agentId)).status === 'DEREGISTERED' ? true : undefined,
    );
  }, 120_000);

  it('on the native transport (the official pulsar-client over pulsar://): registers through its inbox, its signed heartbeats are consumed, and it trains a round', async () => {
    const jobSwarm = uniqueId('pynative');
    const agentId = uniqueId('pyagent');
    const consumedBefore = await metric(stack, 'qp_manager_heartbeats_consumed_total');
    const agent = startAgent(agentId, {
      QP_SWARM_ID: jobSwarm,
      QP_PULSAR_URL: process.env.QP_TEST_PULSAR_URL as string,
      QP_PULSAR_TRANSPORT: 'native',
      QP_PARTICIPATE: '1',
    });
    expect(await agent.next('registered')).toMatchObject({ status: 'ACTIVE', swarmId: jobSwarm, credential: true });
    await agent.next('participating');
    await waitFor('signed heartbeats over the native transport to be consumed', async () =>
      (await metric(stack, 'qp_manager_heartbeats_consumed_total')) >= consumedBefore + 3 ? true : undefined,
    );
    expect(await metric(stack, 'qp_manager_heartbeats_rejected_total')).toBe(0);
    await waitFor('visibility to list the native agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
      return page.agents.length === 1 ? true : undefined;
    });

    const jobId = await startJob({
      swarmId: jobSwarm,
      model: { kind: 'vector', dimension: 8 },
      rounds: 1,
      fraction: 1,
      minParticipants: 1,
      roundTimeoutMs: 20_000,
      training: { learningRate: 0.5, epochs: 1, batchSize: 32 },
      seed: 13,
    });
    const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds[0]).toMatchObject({ participants: 1, accepted: 1, rejected: {} });
    const trained = agent.events.filter((e) => e.event === 'trained') as unknown as { round: number; params: string }[];
    expect(trained.map((t) => t.round)).toEqual([1]);
    // Its update, published through the native client, is the job's model.
    const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
    expect(Array.from(finalModel)).toEqual(Array.from(bytesToParams(Buffer.from(trained[0].params, 'base64'))));

    agent.child.stdin.write('deregister\n');
    await agent.next('deregistered');
    expect(await agent.exited).toBe(0);
  }, 180_000);

  it('the transport contract (agents/python/tests/test_transport.py) passes on both Python transports against this broker', async () => {
    const { stdout } = await execFileAsync(python as string, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rs', 'tests/test_transport.py'], {
      cwd: PYTHON_SDK_DIR,
      env: pythonEnv({
        QP_TEST_PULSAR_URL: process.env.QP_TEST_PULSAR_URL as string,
        QP_TEST_PULSAR_WS_URL: pulsar.webSocketUrl,
        QP_TEST_PULSAR_ADMIN_URL: pulsar.adminUrl,
      }),
      timeout: 240_000,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`pytest failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    expect(Number(/(\d+) passed/.exec(stdout)?.[1] ?? 0)).toBeGreaterThanOrEqual(27);
    expect(stdout).not.toMatch(/skipped|failed|error/i);
  }, 300_000);

  it("raises ApiError with the API's status, code and message when the manager refuses", async () => {
    const script = [
      'import json, sys',
      'from qp_agent import ApiError, QpAgent',
      'api, pulsar, tenant, agent_id, swarm = sys.argv[1:6]',
      'agent = QpAgent(api, agent_id, pulsar_url=pulsar, pulsar_tenant=tenant, swarm_id=swarm, resources={"cpu": -1, "memoryMb": 512})',
      'try:',
      '    agent.register()',
      '    print(json.dumps({"registered": True}))',
      'except ApiError as error:',
      '    print(json.dumps({"status": error.status, "code": error.code, "message": error.message}))',
    ].join('\n');
    const { stdout } = await execFileAsync(
      python as string,
      ['-c', script, stack.api.url, pulsar.webSocketUrl, pulsar.tenant as string, uniqueId('pyagent'), swarmId],
      { env: pythonEnv(), timeout: 60_000 },
    );
    const refused = JSON.parse(stdout.trim()) as { status: number; code: string; message: string };
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    expect(refused.message).toContain('cpu');
  }, 120_000);

  it('takes part in plain federated rounds with a numpy training step: its signed updates make the global model', async () => {
    const rounds = 2;
    const jobSwarm = uniqueId('pyjob');
    const agentId = uniqueId('pyagent');
    const agent = startAgent(agentId, { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1' });
    await agent.next('participating');
    await waitFor('visibility to list the Python agent ACTIVE', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
      return page.agents.length === 1 ? true : undefined;
    });

    const jobId = await startJob({
      swarmId: jobSwarm,
      model: { kind: 'vector', dimension: 8 },
      rounds,
      fraction: 1,
      minParticipants: 1,
      roundTimeoutMs: 20_000,
      training: { learningRate: 0.5, epochs: 1, batchSize: 32 },
      seed: 5,
    });
    const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
    expect(result.status).toBe('COMPLETED');
    expect(result.recentRounds).toHaveLength(rounds);
    for (const round of result.recentRounds) expect(round).toMatchObject({ participants: 1, accepted: 1, rejected: {} });

    const trained = agent.events.filter((e) => e.event === 'trained') as unknown as { round: number; global_params: string; params: string }[];
    expect(trained.map((t) => t.round)).toEqual([1, 2]);
    // Round 2 trained on round 1's aggregate (one agent: its own update), and the job's model is round 2's update.
    expect(trained[1].global_params).toBe(trained[0].params);
    const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
    const sent = bytesToParams(Buffer.from(trained[1].params, 'base64'));
    expect(Array.from(finalModel)).toEqual(Array.from(sent));
    // The step itself: w + 0.5 * (target - w), computed here from the global the agent received.
    const received = bytesToParams(Buffer.from(trained[1].global_params, 'base64'));
    for (let i = 0; i < 8; i++) {
      const target = -1 + (2 * i) / 7;
      expect(sent[i]).toBeCloseTo(received[i] + 0.5 * (target - received[i]), 5);
    }

    agent.child.stdin.write('deregister\n');
    expect(await agent.exited).toBe(0);
  }, 180_000);

  /** The Python agent's step (test/support/python_agent.py) in float32, toward scale × the evenly spaced points of [-1, 1]. */
  function stepToward(scale: number, examples: number, sent?: Float32Array[]): Trainer {
    return async ({ global, training }) => {
      const rate = Math.fround(training.learningRate);
      const params = Float32Array.from(global, (w, i) => {
        const target = Math.fround(Math.fround(scale) * Math.fround(i * (2 / (global.length - 1)) - 1));
        return Math.fround(w + Math.fround(rate * Math.fround(target - w)));
      });
      sent?.push(params);
      return { params, examples };
    };
  }

  /** The example-weighted mean of every agent's step from `global`, added to it (float64, as the expectation). */
  function expectedAggregate(global: Float32Array, agents: { scale: number; examples: number }[], rate: number): number[] {
    const total = agents.reduce((sum, a) => sum + a.examples, 0);
    return Array.from(global, (w, i) => {
      let mean = 0;
      for (const { scale, examples } of agents) {
        const target = Math.fround(Math.fround(scale) * Math.fround(i * (2 / (global.length - 1)) - 1));
        const delta = Math.fround(Math.fround(w + Math.fround(Math.fround(rate) * Math.fround(target - w))) - w);
        mean += (examples * delta) / total;
      }
      return w + mean;
    });
  }

  /** The mean of every agent's step from `global`, each change clipped to L2 norm clipNorm first (central DP under secure aggregation). */
  function expectedClippedAggregate(global: Float32Array, agents: { scale: number }[], rate: number, clipNorm: number): number[] {
    const deltas = agents.map(({ scale }) => {
      const delta = Float32Array.from(global, (w, i) => {
        const target = Math.fround(Math.fround(scale) * Math.fround(i * (2 / (global.length - 1)) - 1));
        return Math.fround(Math.fround(w + Math.fround(Math.fround(rate) * Math.fround(target - w))) - w);
      });
      return clipL2(delta, clipNorm).vector;
    });
    return Array.from(global, (w, i) => w + deltas.reduce((sum, d) => sum + d[i], 0) / agents.length);
  }

  /** Runs a secure-aggregation job over TypeScript and Python agents (each with its own target and example count). */
  async function secureJob(
    agents: { language: 'ts' | 'py'; scale: number; examples: number; dropAfterShares?: boolean }[],
    job: { rounds: number; learningRate: number; clipRange: number; maxWeight: number; privacy?: Record<string, number>; stageTimeoutMs?: number; roundTimeoutMs?: number; minParticipants?: number },
  ): Promise<{ result: TuningProgress; finalModel: Float32Array; globals: Float32Array[]; pythonRounds: number[] }> {
    const jobSwarm = uniqueId('pysecure');
    const agentSide = new PulsarMessaging(pulsar);
    const typescript: QpAgent[] = [];
    const python: AgentProcess[] = [];
    /** The global model each round started from, as the agents received it. */
    const globals = new Map<number, Float32Array>();
    try {
      for (const agent of agents) {
        if (agent.language === 'py') {
          python.push(
            startAgent(uniqueId('pyagent'), {
              QP_SWARM_ID: jobSwarm,
              QP_PARTICIPATE: '1',
              QP_TARGET_SCALE: String(agent.scale),
              QP_EXAMPLES: String(agent.examples),
              ...(agent.dropAfterShares ? { QP_DROP_AFTER_SHARES: '1' } : {}),
            }),
          );
          continue;
        }
        const step = stepToward(agent.scale, agent.examples);
        const ts = new QpAgent({
          apiUrl: stack.api.url,
          messaging: agentSide,
          agentId: uniqueId('tsagent'),
          swarmId: jobSwarm,
          capabilities: ['train'],
          resources: { cpu: 1, memoryMb: 512 },
          heartbeatIntervalMs: 1000,
        });
        await ts.register();
        ts.startHeartbeats();
        await ts.participate(async (task) => {
          globals.set(task.round, Float32Array.from(task.global));
          return step(task);
        });
        typescript.push(ts);
      }
      for (const agent of python) await agent.next('participating');
      await waitFor(`visibility to list ${agents.length} agents ACTIVE`, async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 20 });
        return page.agents.length === agents.length ? true : undefined;
      });
      const jobId = await startJob({
        swarmId: jobSwarm,
        model: { kind: 'vector', dimension: 8 },
        rounds: job.rounds,
        fraction: 1,
        minParticipants: job.minParticipants ?? agents.length,
        roundTimeoutMs: job.roundTimeoutMs ?? 20_000,
        training: { learningRate: job.learningRate, epochs: 1, batchSize: 32 },
        secureAggregation: { stageTimeoutMs: job.stageTimeoutMs ?? 8000, clipRange: job.clipRange, maxWeight: job.maxWeight },
        ...(job.privacy ? { privacy: job.privacy } : {}),
        seed: 11,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
      for (const agent of python) {
        for (const trained of agent.events.filter((e) => e.event === 'trained') as unknown as { round: number; global_params: string }[]) {
          globals.set(trained.round, bytesToParams(Buffer.from(trained.global_params, 'base64')));
        }
      }
      const pythonRounds = python.flatMap((agent) =>
        (agent.events.filter((e) => e.event === 'sdk' && (e.detail as { type?: string }).type === 'round-trained') as unknown as {
          detail: { round: number };
        }[]).map((e) => e.detail.round),
      );
      return { result, finalModel, globals: [...globals].sort(([a], [b]) => a - b).map(([, g]) => g), pythonRounds };
    } finally {
      for (const ts of typescript) await ts.deregister().catch(() => undefined);
      await agentSide.close();
      for (const agent of python) if (agent.child.exitCode === null) agent.child.stdin.write('deregister\n');
      await Promise.all(python.map((agent) => agent.exited));
    }
  }

  it('secure aggregation in a mixed swarm: Python and TypeScript agents mask their changes, and the model is the weighted mean an all-TypeScript job reaches', async () => {
    const swarm = [
      { scale: 1, examples: 10 },
      { scale: -0.5, examples: 40 },
      { scale: 2, examples: 25 },
      { scale: 0.25, examples: 30 },
    ];
    const job = { rounds: 2, learningRate: 0.5, clipRange: 4, maxWeight: 100 };
    const mixed = await secureJob(
      swarm.map((agent, i) => ({ ...agent, language: i % 2 === 0 ? ('py' as const) : ('ts' as const) })),
      job,
    );
    expect(mixed.result.status).toBe('COMPLETED');
    for (const round of mixed.result.recentRounds) expect(round).toMatchObject({ participants: 4, accepted: 4, rejected: {} });
    // Both Python agents finished the protocol (unmask sent) in both rounds.
    expect(mixed.pythonRounds.sort()).toEqual([1, 1, 2, 2]);
    // Each agent's quantisation error is at most one step 2c/R of its weight-scaled change, in weight units
    // maxWeight; the mean divides by the total weight (core/secagg/quantize.ts quantizationErrorBound).
    const totalExamples = swarm.reduce((sum, a) => sum + a.examples, 0);
    const perRound = (swarm.length * ((2 * job.clipRange) / 2 ** 20) * job.maxWeight) / totalExamples + 1e-6;
    // Round 1 aggregates into round 2's global model, round 2 into the final one.
    const aggregates = [mixed.globals[1], mixed.finalModel];
    expect(mixed.globals).toHaveLength(2);
    for (let r = 0; r < 2; r++) {
      const expected = expectedAggregate(mixed.globals[r], swarm, job.learningRate);
      const worst = Math.max(...expected.map((value, i) => Math.abs(value - aggregates[r][i])));
      expect(worst).toBeLessThanOrEqual(perRound);
    }
    // The same job over TypeScript agents only reaches the same model, up to the two runs' quantisation noise.
    const typescriptOnly = await secureJob(swarm.map((agent) => ({ ...agent, language: 'ts' as const })), job);
    expect(typescriptOnly.result.status).toBe('COMPLETED');
    expect(Array.from(typescriptOnly.globals[0])).toEqual(Array.from(mixed.globals[0]));
    const worst = Math.max(...Array.from(mixed.finalModel, (value, i) => Math.abs(value - typescriptOnly.finalModel[i])));
    expect(worst).toBeLessThanOrEqual(2 * 2 * perRound);
  }, 300_000);

  it('secure aggregation with central DP: Python agents clip their own change and weigh the same as every other agent', async () => {
    const swarm = [
      { scale: 1, examples: 10 },
      { scale: -0.5, examples: 40 },
      { scale: 2, examples: 25 },
    ];
    const clipNorm = 0.3;
    const job = { rounds: 2, learningRate: 0.5, clipRange: 4, maxWeight: 100, privacy: { clipNorm, noiseMultiplier: 0, delta: 1e-5 } };
    const run = await secureJob(
      swarm.map((agent, i) => ({ ...agent, language: i === 1 ? ('ts' as const) : ('py' as const) })),
      job,
    );
    expect(run.result.status).toBe('COMPLETED');
    for (const round of run.result.recentRounds) expect(round).toMatchObject({ participants: 3, accepted: 3, rejected: {} });
    expect(run.pythonRounds.sort()).toEqual([1, 1, 2, 2]);
    // Weight 1 each: the quantisation error of the mean is one step 2c/R × maxWeight per agent over the agent count.
    const bound = ((2 * job.clipRange) / 2 ** 20) * job.maxWeight + 1e-6;
    const aggregates = [run.globals[1], run.finalModel];
    for (let r = 0; r < 2; r++) {
      const expected = expectedClippedAggregate(run.globals[r], swarm, job.learningRate, clipNorm);
      const unclipped = expectedAggregate(run.globals[r], swarm.map((a) => ({ ...a, examples: 1 })), job.learningRate);
      const worst = Math.max(...expected.map((value, i) => Math.abs(value - aggregates[r][i])));
      expect(worst).toBeLessThanOrEqual(bound);
      // Clipping mattered: without it the mean would be far off.
      expect(Math.max(...unclipped.map((value, i) => Math.abs(value - aggregates[r][i])))).toBeGreaterThan(100 * bound);
    }
  }, 300_000);

  it('work budgets: Python agents get localSteps scaled by their cpu, a time budget stops one, and accept-partial counts its partial work', async () => {
    const jobSwarm = uniqueId('pybudget');
    const agents = [
      startAgent(uniqueId('pyagent'), { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1', QP_TRAINER: 'stepping', QP_CPU: '8' }),
      startAgent(uniqueId('pyagent'), { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1', QP_TRAINER: 'stepping', QP_CPU: '1' }),
    ];
    try {
      for (const agent of agents) await agent.next('participating');
      await waitFor('visibility to list both agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 2 ? true : undefined;
      });
      // 40 steps of 20 ms cannot finish in 400 ms; the 1-cpu agent's 5 steps can.
      const jobId = await startJob({
        swarmId: jobSwarm,
        model: { kind: 'vector', dimension: 4 },
        rounds: 1,
        fraction: 1,
        minParticipants: 2,
        roundTimeoutMs: 20_000,
        training: { learningRate: 0.1, batchSize: 32, localSteps: 40, timeBudgetMs: 400, scaleByCapacity: true },
        stragglers: { policy: 'accept-partial' },
        seed: 4,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      const [big, small] = agents.map(
        (agent) => agent.events.find((e) => e.event === 'trained') as unknown as { budget: Record<string, number>; steps: number },
      );
      expect(big.budget).toEqual({ localSteps: 40, timeBudgetMs: 400 });
      expect(small.budget).toEqual({ localSteps: 5, timeBudgetMs: 400 });
      expect(small.steps).toBe(5);
      expect(big.steps).toBeGreaterThan(0);
      expect(big.steps).toBeLessThan(40);
      const [round] = result.recentRounds;
      expect(round).toMatchObject({ accepted: 2, partial: 1, dropped: 0, stepsPlanned: 45, stepsCompleted: 5 + big.steps });
    } finally {
      for (const agent of agents) agent.child.stdin.write('deregister\n');
      await Promise.all(agents.map((agent) => agent.exited));
    }
  }, 180_000);

  it('local DP: a Python agent clips its change as the TypeScript agent does before anything leaves it', async () => {
    const jobSwarm = uniqueId('pyldp');
    const pyAgent = startAgent(uniqueId('pyagent'), { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1' });
    const agentSide = new PulsarMessaging(pulsar);
    const typescript = new QpAgent({
      apiUrl: stack.api.url,
      messaging: agentSide,
      agentId: uniqueId('tsagent'),
      swarmId: jobSwarm,
      capabilities: ['train'],
      resources: { cpu: 1, memoryMb: 512 },
      heartbeatIntervalMs: 1000,
    });
    const clipNorm = 0.2;
    try {
      await typescript.register();
      typescript.startHeartbeats();
      await typescript.participate(stepToward(1, 25));
      await pyAgent.next('participating');
      await waitFor('visibility to list both agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 2 ? true : undefined;
      });
      // Noise far below float32 resolution at these magnitudes: what is left to compare is the clipping.
      const jobId = await startJob({
        swarmId: jobSwarm,
        model: { kind: 'vector', dimension: 8 },
        rounds: 1,
        fraction: 1,
        minParticipants: 2,
        roundTimeoutMs: 20_000,
        training: { learningRate: 0.3, epochs: 1, batchSize: 32 },
        localPrivacy: { clipNorm, noiseMultiplier: 1e-12, delta: 1e-5 },
        seed: 13,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      expect(result.status).toBe('COMPLETED');
      const [round] = result.recentRounds;
      expect(round).toMatchObject({ participants: 2, accepted: 2, rejected: {} });
      expect(round.localEpsilon).toBeGreaterThan(0);
      const trained = pyAgent.events.find((e) => e.event === 'trained') as unknown as { global_params: string; params: string };
      const global = bytesToParams(Buffer.from(trained.global_params, 'base64'));
      const step = bytesToParams(Buffer.from(trained.params, 'base64'));
      const change = Float32Array.from(step, (value, i) => value - global[i]);
      expect(l2Norm(change)).toBeGreaterThan(2 * clipNorm); // the step is clipped, not sent as is
      // Both agents release global + clip(step): the mean of the two is that release.
      const release = Float32Array.from(clipL2(change, clipNorm).vector, (delta, i) => delta + global[i]);
      const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
      const worst = Math.max(...Array.from(finalModel, (value, i) => Math.abs(value - release[i])));
      expect(worst).toBeLessThan(1e-6);
    } finally {
      await typescript.deregister().catch(() => undefined);
      await agentSide.close();
      pyAgent.child.stdin.write('deregister\n');
      await pyAgent.exited;
    }
  }, 180_000);

  it('asynchronous rounds (FedBuff): a Python and a TypeScript agent fill the buffers, each training on the newest version it holds', async () => {
    const jobSwarm = uniqueId('pyasync');
    const pyAgent = startAgent(uniqueId('pyagent'), { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1' });
    const agentSide = new PulsarMessaging(pulsar);
    const typescriptVersions: number[] = [];
    const step = stepToward(1, 25);
    const typescript = new QpAgent({
      apiUrl: stack.api.url,
      messaging: agentSide,
      agentId: uniqueId('tsagent'),
      swarmId: jobSwarm,
      capabilities: ['train'],
      resources: { cpu: 1, memoryMb: 512 },
      heartbeatIntervalMs: 1000,
    });
    try {
      await typescript.register();
      typescript.startHeartbeats();
      await typescript.participate(async (task) => {
        typescriptVersions.push(task.round);
        return step(task);
      });
      await pyAgent.next('participating');
      await waitFor('visibility to list both agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 2 ? true : undefined;
      });
      const versions = 4;
      const jobId = await startJob({
        swarmId: jobSwarm,
        mode: 'async',
        bufferSize: 2,
        maxStaleness: 1,
        rounds: versions,
        model: { kind: 'vector', dimension: 8 },
        training: { learningRate: 0.3, epochs: 1, batchSize: 32 },
        seed: 17,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      expect(result).toMatchObject({ status: 'COMPLETED', mode: 'async', round: versions });
      // Each agent sends at most one update per version it holds: 4 buffers of 2 need 4 of the Python agent's.
      for (const version of result.recentVersions!) expect(version).toMatchObject({ buffered: 2, rejected: {} });
      const trained = (pyAgent.events.filter((e) => e.event === 'trained') as unknown as { round: number; attempt: number; params: string }[]);
      const pythonVersions = trained.map((t) => t.round);
      expect(trained.every((t) => t.attempt === 0)).toBe(true);
      expect(pythonVersions.length).toBeGreaterThanOrEqual(versions);
      expect(pythonVersions).toEqual([...pythonVersions].sort((a, b) => a - b));
      expect(new Set(pythonVersions).size).toBe(pythonVersions.length);
      // Both agents step from the same version to the same point: the last version is the Python agent's update on the one before.
      const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
      const onPrevious = trained.find((t) => t.round === versions - 1)!;
      const sent = bytesToParams(Buffer.from(onPrevious.params, 'base64'));
      expect(Math.max(...Array.from(finalModel, (value, i) => Math.abs(value - sent[i])))).toBeLessThan(1e-6);
      expect(typescriptVersions).toContain(versions - 1);
    } finally {
      await typescript.deregister().catch(() => undefined);
      await agentSide.close();
      pyAgent.child.stdin.write('deregister\n');
      await pyAgent.exited;
    }
  }, 180_000);

  it('a mixed swarm: a TypeScript and a Python agent with the same float32 step send bit-identical updates in one job', async () => {
    const jobSwarm = uniqueId('pymix');
    const pyAgent = startAgent(uniqueId('pyagent'), { QP_SWARM_ID: jobSwarm, QP_PARTICIPATE: '1' });
    // The Python agent's step (test/support/python_agent.py) in float32, as numpy computes it.
    const sameStep: Trainer = async ({ global, training }) => {
      const rate = Math.fround(training.learningRate);
      const params = Float32Array.from(global, (w, i) => {
        const target = Math.fround(i * (2 / (global.length - 1)) - 1);
        return Math.fround(w + Math.fround(rate * Math.fround(target - w)));
      });
      typescriptUpdates.push(params);
      return { params, examples: 25 };
    };
    const typescriptUpdates: Float32Array[] = [];
    const agentSide = new PulsarMessaging(pulsar);
    const typescript = new QpAgent({
      apiUrl: stack.api.url,
      messaging: agentSide,
      agentId: uniqueId('tsagent'),
      swarmId: jobSwarm,
      capabilities: ['train'],
      resources: { cpu: 1, memoryMb: 512 },
      heartbeatIntervalMs: 1000,
    });
    try {
      await typescript.register();
      typescript.startHeartbeats();
      await typescript.participate(sameStep);
      await pyAgent.next('participating');
      await waitFor('visibility to list both agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 2 ? true : undefined;
      });
      const jobId = await startJob({
        swarmId: jobSwarm,
        model: { kind: 'vector', dimension: 8 },
        rounds: 2,
        fraction: 1,
        minParticipants: 2,
        roundTimeoutMs: 20_000,
        training: { learningRate: 0.3, epochs: 1, batchSize: 32 },
        seed: 9,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      expect(result.status).toBe('COMPLETED');
      for (const round of result.recentRounds) expect(round).toMatchObject({ participants: 2, accepted: 2, rejected: {} });
      const fromPython = (pyAgent.events.filter((e) => e.event === 'trained') as unknown as { params: string }[]).map((t) =>
        Array.from(bytesToParams(Buffer.from(t.params, 'base64'))),
      );
      expect(fromPython).toEqual(typescriptUpdates.map((u) => Array.from(u)));
      // Equal updates: the job's model is each agent's last update, bit for bit.
      const finalModel = bytesToParams((await stack.ports.blobs.get(result.globalDigest))!);
      expect(Array.from(finalModel)).toEqual(Array.from(typescriptUpdates[1]));
    } finally {
      await typescript.deregister().catch(() => undefined);
      await agentSide.close();
      pyAgent.child.stdin.write('deregister\n');
      await pyAgent.exited;
    }
  }, 180_000);

  /** Registration steps the API has seen (register calls and challenge answers), all outcomes. */
  async function apiRegistrations(): Promise<number> {
    const text = await (await fetch(`${stack.api.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('qp_manager_registrations_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  }

  it('an agent process restarted with its saved session resumes it instead of registering anew: back to ACTIVE on the same credential, and it trains', async () => {
    const jobSwarm = uniqueId('pyresume');
    const agentId = uniqueId('pyagent');
    const sessionDir = mkdtempSync(join(tmpdir(), 'qp-py-session-'));
    const sessionFile = join(sessionDir, 'session.json');
    // HTTP heartbeats carry the credential: the restarted process's heartbeats count only if the saved one still works.
    const env = { QP_SWARM_ID: jobSwarm, QP_SESSION_FILE: sessionFile, QP_HEARTBEAT_VIA: 'http', QP_PARTICIPATE: '1' };
    try {
      const first = startAgent(agentId, env);
      expect(await first.next('registered', 120_000)).toMatchObject({ status: 'ACTIVE', swarmId: jobSwarm });
      const registered = await getAgent(stack, agentId);
      expect(JSON.parse(readFileSync(sessionFile, 'utf8'))).toMatchObject({ agentId, agent: { agentId, swarmId: jobSwarm } });
      const registrations = await apiRegistrations();

      first.child.kill('SIGKILL');
      await first.exited;
      await waitFor('the killed agent to be declared LOST', async () => ((await getAgent(stack, agentId)).status === 'LOST' ? true : undefined), 180_000);

      const restarted = startAgent(agentId, env);
      expect(await restarted.next('resumed', 120_000)).toMatchObject({ swarmId: jobSwarm, credential: true });
      await restarted.next('participating', 120_000);
      await waitFor('the resumed agent to be ACTIVE again and listed so', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId: jobSwarm, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === 1 && (await getAgent(stack, agentId)).status === 'ACTIVE' ? true : undefined;
      }, 180_000);
      // No new handshake: the same session, no credential issued since, no registration call.
      const resumed = await getAgent(stack, agentId);
      expect(resumed.registeredAt).toBe(registered.registeredAt);
      expect(resumed.credentialGeneration).toBe(registered.credentialGeneration);
      expect(await apiRegistrations()).toBe(registrations);
      expect(restarted.events.filter((e) => e.event === 'registered')).toEqual([]);
      expect(restarted.events.filter((e) => e.event === 'sdk' && (e.detail as { type: string }).type === 'heartbeat-failed')).toEqual([]);

      const jobId = await startJob({
        swarmId: jobSwarm,
        model: { kind: 'vector', dimension: 8 },
        rounds: 1,
        fraction: 1,
        minParticipants: 1,
        roundTimeoutMs: 90_000,
        training: { learningRate: 0.5, epochs: 1, batchSize: 32 },
        seed: 7,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      expect(result.status).toBe('COMPLETED');
      expect(result.recentRounds[0]).toMatchObject({ participants: 1, accepted: 1, rejected: {} });
      expect(restarted.events.filter((e) => e.event === 'trained').map((e) => e.round)).toEqual([1]);

      // The saved credential also ends the session; the session file goes with it.
      restarted.child.stdin.write('deregister\n');
      await restarted.next('deregistered', 120_000);
      expect(await restarted.exited).toBe(0);
      await waitFor('the agent to be DEREGISTERED', async () => ((await getAgent(stack, agentId)).status === 'DEREGISTERED' ? true : undefined), 120_000);
      expect(existsSync(sessionFile)).toBe(false);
    } finally {
      rmSync(sessionDir, { recursive: true, force: true });
    }
  }, 600_000);

  /** TypeScript and Python digits agents (agents/python/examples/digits_agent.py) on the same split, one job each. */
  async function digitsParity(split: { agents: number; seed: number; alpha?: number }, rounds: number): Promise<{ tsResult: TuningProgress; pyResult: TuningProgress }> {
    const { agents } = split;
    const tsSwarm = uniqueId('tsdigits');
    const pySwarm = uniqueId('pydigits');
    const agentSide = new PulsarMessaging(pulsar);
    const typescript = digitsTrainers(split).map(
      (trainer, index) =>
        [
          new QpAgent({
            apiUrl: stack.api.url,
            messaging: agentSide,
            agentId: uniqueId(`tsdigits${index}`),
            swarmId: tsSwarm,
            capabilities: ['train'],
            resources: { cpu: 1, memoryMb: 512 },
            heartbeatIntervalMs: 1000,
          }),
          trainer,
        ] as const,
    );
    const pyAgents = Array.from({ length: agents }, (_, index) => {
      const child = spawn(
        python as string,
        [
          join(ROOT, 'agents/python/examples/digits_agent.py'),
          ...['--api', stack.api.url, '--pulsar', pulsar.webSocketUrl, '--tenant', pulsar.tenant as string],
          ...['--swarm', pySwarm, '--agent-id', uniqueId(`pydigits${index}`), '--index', String(index), '--agents', String(agents), '--seed', String(split.seed)],
          ...(split.alpha === undefined ? [] : ['--alpha', String(split.alpha)]),
        ],
        { env: pythonEnv() },
      );
      const agent = new AgentProcess(child);
      running.push(agent);
      return agent;
    });
    try {
      for (const [agent, trainer] of typescript) {
        await agent.register();
        agent.startHeartbeats();
        await agent.participate(trainer);
      }
      for (const agent of pyAgents) await agent.next('participating', 120_000);
      for (const swarmId of [tsSwarm, pySwarm]) {
        await waitFor(`visibility to list the ${agents} agents of ${swarmId} ACTIVE`, async () => {
          const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
          return page.agents.length === agents ? true : undefined;
        }, 180_000);
      }
      const job = (swarmId: string) => ({
        swarmId,
        model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
        rounds,
        fraction: 1,
        minParticipants: agents,
        roundTimeoutMs: 120_000,
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
        seed: 7,
      });
      const [tsJob, pyJob] = [await startJob(job(tsSwarm)), await startJob(job(pySwarm))];
      const [tsResult, pyResult] = (await Promise.all(
        [tsJob, pyJob].map((jobId) => stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()),
      )) as TuningProgress[];
      for (const result of [tsResult, pyResult]) {
        expect(result.status).toBe('COMPLETED');
        for (const round of result.recentRounds) expect(round).toMatchObject({ participants: agents, accepted: agents, rejected: {} });
      }
      // The manager's score of each round's model on the test split, and the agents' scores on their held-out parts.
      const figures = (result: TuningProgress) => result.recentRounds.map(({ round, accuracy, agentAccuracy }) => ({ round, accuracy, agentAccuracy }));
      expect(figures(pyResult)).toEqual(figures(tsResult));
      const model = async (result: TuningProgress) => Array.from(bytesToParams((await stack.ports.blobs.get(result.globalDigest))!));
      expect(await model(pyResult)).toEqual(await model(tsResult));
      const everyRound = Array.from({ length: rounds }, (_, i) => i + 1);
      for (const agent of pyAgents) expect(agent.events.filter((e) => e.event === 'trained').map((e) => e.round)).toEqual(everyRound);
      return { tsResult, pyResult };
    } finally {
      for (const [agent] of typescript) await agent.deregister().catch(() => undefined);
      await agentSide.close();
      for (const agent of pyAgents) agent.child.stdin.write('deregister\n');
      await Promise.all(pyAgents.map((agent) => agent.exited));
    }
  }

  it('digits: numpy softmax agents (agents/python/examples/digits_agent.py) reach the accuracy per round of TypeScript agents with the same seeds, with the same model bit for bit', async () => {
    const { tsResult } = await digitsParity({ agents: 3, seed: 11 }, 3);
    expect(tsResult.recentRounds[2].accuracy).toBeGreaterThan(0.85);
  }, 600_000);

  it('digits on a Dirichlet(0.5) split: each Python agent trains on the TypeScript agent\'s shard (qp_agent.partition), so the jobs agree round by round and bit for bit', async () => {
    const { tsResult } = await digitsParity({ agents: 3, seed: 11, alpha: 0.5 }, 2);
    // The skewed split still learns: round 2's model scores well above chance (0.1) on the test split.
    expect(tsResult.recentRounds[1].accuracy).toBeGreaterThan(0.5);
  }, 600_000);

  it('LoRA: Python agents fine-tune a frozen classifier through low-rank adapters, only the adapters travel, and the held-out accuracy rises', async () => {
    const agents = 2;
    const swarmId = uniqueId('pylora');
    const loraAgents = Array.from({ length: agents }, (_, index) => {
      const child = spawn(
        python as string,
        [
          join(ROOT, 'agents/python/examples/lora_agent.py'),
          ...['--api', stack.api.url, '--pulsar', pulsar.webSocketUrl, '--tenant', pulsar.tenant as string],
          ...['--swarm', swarmId, '--agent-id', uniqueId(`pylora${index}`), '--index', String(index), '--agents', String(agents), '--seed', '11'],
        ],
        { env: pythonEnv() },
      );
      const agent = new AgentProcess(child);
      running.push(agent);
      return agent;
    });
    try {
      const dimension = (await loraAgents[0].next('participating', 120_000)).dimension as number;
      expect(dimension).toBe(296); // rank 4 x (64 features + 10 classes), against 650 for the whole classifier
      for (const agent of loraAgents) await agent.next('participating', 120_000);
      await waitFor('visibility to list the LoRA agents ACTIVE', async () => {
        const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 10 });
        return page.agents.length === agents ? true : undefined;
      }, 180_000);
      const jobId = await startJob({
        swarmId,
        model: { kind: 'vector', dimension },
        rounds: 3,
        fraction: 1,
        minParticipants: agents,
        roundTimeoutMs: 120_000,
        training: { learningRate: 0.5, epochs: 1, batchSize: 32 },
        seed: 3,
      });
      const result = (await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result()) as TuningProgress;
      expect(result.status).toBe('COMPLETED');
      for (const round of result.recentRounds) expect(round).toMatchObject({ participants: agents, accepted: agents, rejected: {} });
      // Each round's agentAccuracy scores the incoming adapters on the agents' held-out parts: round 1's are zero (the frozen
      // base, which never saw digits 5-9), the later ones what the federation learnt.
      const accuracy = result.recentRounds.map((round) => round.agentAccuracy as number);
      expect(accuracy[0]).toBeLessThan(0.6);
      expect(accuracy[2]).toBeGreaterThan(0.85);
      expect(bytesToParams((await stack.ports.blobs.get(result.globalDigest))!)).toHaveLength(dimension);
      for (const agent of loraAgents) {
        expect(agent.events.filter((e) => e.event === 'trained').map((e) => [e.round, e.floats])).toEqual([[1, 296], [2, 296], [3, 296]]);
      }
    } finally {
      for (const agent of loraAgents) agent.child.stdin.write('deregister\n');
      await Promise.all(loraAgents.map((agent) => agent.exited));
    }
  }, 600_000);

  it('secure aggregation with a dropout: a Python agent that dies right after sending its shares leaves the round to the survivors, whose sum is unmasked', async () => {
    const swarm = [
      { language: 'py' as const, scale: 1, examples: 20, dropAfterShares: true },
      { language: 'py' as const, scale: -0.5, examples: 40 },
      { language: 'ts' as const, scale: 2, examples: 10 },
      { language: 'ts' as const, scale: 0.25, examples: 30 },
    ];
    // The dropout is only noticed when the masked-input stage times out: the stage time is the test's extra cost.
    const job = { rounds: 1, learningRate: 0.5, clipRange: 4, maxWeight: 100, stageTimeoutMs: 30_000, roundTimeoutMs: 120_000, minParticipants: 3 };
    const run = await secureJob(swarm, job);
    expect(run.result.status).toBe('COMPLETED');
    expect(run.result.recentRounds[0]).toMatchObject({ participants: 4, accepted: 3, rejected: {} });
    // Only the surviving Python agent finished the protocol; the other one's masks were removed with the shares of its secret key.
    expect(run.pythonRounds).toEqual([1]);
    const survivors = swarm.slice(1);
    const bound = (survivors.length * ((2 * job.clipRange) / 2 ** 20) * job.maxWeight) / survivors.reduce((sum, a) => sum + a.examples, 0) + 1e-6;
    const expected = expectedAggregate(run.globals[0], survivors, job.learningRate);
    expect(Math.max(...expected.map((value, i) => Math.abs(value - run.finalModel[i])))).toBeLessThanOrEqual(bound);
    // With the dropped agent's change in the mean, the model would be far off.
    const withDropped = expectedAggregate(run.globals[0], swarm, job.learningRate);
    expect(Math.max(...withDropped.map((value, i) => Math.abs(value - run.finalModel[i])))).toBeGreaterThan(100 * bound);
  }, 600_000);
});
