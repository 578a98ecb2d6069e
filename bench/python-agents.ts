// Per-round time of a federated job whose agents are Python (agents/python, qp_agent) beside the
// same job with TypeScript agents (agents/sdk.ts), in one run, on the product's own path: a real
// Temporal dev server, the embedded worker and REST API with QP_MESSAGING=pulsar, and the Pulsar
// broker both kinds of agent reach over its WebSocket API.
//   TypeScript: --agents QpAgents in this process (agents/simulate.ts) sharing one Pulsar client.
//   Python:     --agents QpAgents in one Python process (bench/support/python_agents.py), each with
//               its own broker connections, as separate agent processes would have.
// Both answer rounds with a no-op trainer (the global model back), so what differs is the SDK:
// reading the round start, decoding the model, signing and publishing the update. Each swarm
// registers first (not timed), runs a 1-round warm-up job, then --repeats jobs of --rounds rounds,
// alternating TypeScript and Python; a job's per-round seconds are its REST start -> result time
// over its rounds, and the round time the workflow measured (median of its rounds' durationMs).
//   npm run bench:python-agents -- [--agents 100] [--rounds 5] [--repeats 2] [--dimension 650] [--registrations 8]
// Needs the broker: bash infra/local/stack.sh up pulsar (PULSAR_ADMIN_URL, default http://127.0.0.1:8090).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import { simulateSwarm } from '../agents/simulate';
import { noopTrainer } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { runOnEmbeddedStack } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const AGENTS = arg('agents', 100);
const ROUNDS = arg('rounds', 5);
const REPEATS = arg('repeats', 2);
const DIMENSION = arg('dimension', 650);
const HEARTBEAT_S = 30;
/** Registrations in flight at once, per swarm. */
const REGISTRATIONS = arg('registrations', 8);
const PULSAR_WEB = process.env.PULSAR_ADMIN_URL ?? 'http://127.0.0.1:8090';
const PULSAR_BROKER = process.env.PULSAR_SERVICE_URL ?? 'pulsar://127.0.0.1:6650';
const TENANT = 'qp-bench';
const ROOT = join(__dirname, '..');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number, digits = 3): string => x.toFixed(digits);

interface JobTiming {
  /** REST start -> result, over the job's rounds (seconds). */
  perRound: number;
  /** Median of the rounds' durationMs as the workflow measured them (seconds). */
  workflowRound: number;
}

async function runJob(stack: Embedded, adminToken: string, swarmId: string, rounds: number): Promise<JobTiming> {
  const started = performance.now();
  const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      swarmId,
      model: { kind: 'vector', dimension: DIMENSION },
      rounds,
      fraction: 1,
      minParticipants: AGENTS,
      roundTimeoutMs: 120_000,
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      evaluateEvery: 1000,
      seed: 1,
    }),
  });
  const body = (await res.json()) as { jobId?: string };
  if (res.status !== 202 || !body.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(body)}`);
  const result = (await stack.client.workflow.getHandle(tuningWorkflowId(body.jobId)).result()) as TuningProgress;
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 'COMPLETED') throw new Error(`job ${body.jobId} ended ${result.status}`);
  for (const round of result.recentRounds) {
    if (round.accepted !== AGENTS) throw new Error(`round ${round.round} accepted ${round.accepted} of ${AGENTS} updates`);
  }
  return { perRound: seconds / rounds, workflowRound: median(result.recentRounds.map((r) => r.durationMs)) / 1000 };
}

async function waitActive(stack: Embedded, swarmId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const page = await stack.api.swarm.listAgents({ swarmId, status: 'ACTIVE', pageSize: 1000 });
    if (page.agents.length === AGENTS) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`visibility did not list ${AGENTS} ACTIVE agents of ${swarmId} within 120 s`);
}

/** Starts the Python swarm and resolves once every agent has registered. */
function startPythonSwarm(python: string, apiUrl: string, swarmId: string) {
  const child = spawn(
    python,
    [
      join(ROOT, 'bench/support/python_agents.py'),
      apiUrl,
      PULSAR_WEB.replace(/^http/, 'ws'),
      TENANT,
      swarmId,
      String(AGENTS),
      swarmId,
      String(REGISTRATIONS),
      String(HEARTBEAT_S),
    ],
    { env: { ...process.env, PYTHONPATH: join(ROOT, 'agents/python'), PYTHONDONTWRITEBYTECODE: '1' } },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const lines = createInterface({ input: child.stdout });
  const events: { event: string; seconds?: number; failed?: string[] }[] = [];
  lines.on('line', (line) => {
    try {
      events.push(JSON.parse(line) as { event: string });
    } catch {
      stderr.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = async (event: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = events.find((e) => e.event === event);
      if (found) return found;
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the Python swarm did not report "${event}" (stderr: ${stderr.slice(-5).join(' | ')})`);
  };
  const stop = async () => {
    child.stdin.write('stop\n');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    if (child.exitCode === null) child.kill();
  };
  return { next, stop };
}

async function main(): Promise<void> {
  const health = await fetch(`${PULSAR_WEB}/admin/v2/brokers/health`).then((r) => r.text(), (e: unknown) => String(e));
  if (health !== 'ok') throw new Error(`no healthy Pulsar broker at ${PULSAR_WEB} (${health}); start it with bash infra/local/stack.sh up pulsar`);
  const python = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'python-sdk'], { encoding: 'utf8' }).trim();
  const adminToken = randomBytes(24).toString('hex');
  const config = {
    QP_MESSAGING: 'pulsar',
    PULSAR_SERVICE_URL: PULSAR_BROKER,
    PULSAR_ADMIN_URL: PULSAR_WEB,
    PULSAR_TENANT: TENANT,
    QP_HEARTBEAT_GRACE_MS: String(10 * HEARTBEAT_S * 1000),
  };
  await runOnEmbeddedStack(
    'bench-python-agents',
    adminToken,
    async (stack, onStop) => {
      const run = Date.now().toString(36);
      const tsSwarmId = `bench-ts-${run}`;
      const pySwarmId = `bench-py-${run}`;
      console.log(`# ${AGENTS} agents per swarm, no-op trainer, vector model of ${DIMENSION} float32, ${ROUNDS}-round jobs x ${REPEATS}, alternating; Pulsar at ${PULSAR_WEB}`);

      const agentSide = new PulsarMessaging({ webSocketUrl: PULSAR_WEB.replace(/^http/, 'ws'), adminUrl: PULSAR_WEB, tenant: TENANT });
      let t0 = performance.now();
      const typescript = await simulateSwarm({
        apiUrl: stack.api.url,
        messaging: agentSide,
        count: AGENTS,
        swarmId: tsSwarmId,
        idPrefix: tsSwarmId,
        concurrency: REGISTRATIONS,
        heartbeatIntervalMs: HEARTBEAT_S * 1000,
        handshakeTimeoutMs: 60_000,
        trainers: Array.from({ length: AGENTS }, () => noopTrainer),
      });
      onStop(async () => {
        await typescript.stop();
        await agentSide.close();
      });
      if (typescript.failed.length > 0) {
        throw new Error(`${typescript.failed.length} TypeScript agents failed to register: ${typescript.failed[0].error}`);
      }
      await waitActive(stack, tsSwarmId);
      console.log(`# TypeScript swarm registered in ${fmt((performance.now() - t0) / 1000, 1)} s`);

      t0 = performance.now();
      const pythonSwarm = startPythonSwarm(python, stack.api.url, pySwarmId);
      onStop(pythonSwarm.stop);
      const ready = await pythonSwarm.next('ready', 600_000);
      if (ready.failed?.length) throw new Error(`${ready.failed.length} Python agents failed to register: ${ready.failed[0]}`);
      await waitActive(stack, pySwarmId);
      console.log(`# Python swarm registered in ${fmt((performance.now() - t0) / 1000, 1)} s`);

      await runJob(stack, adminToken, tsSwarmId, 1);
      await runJob(stack, adminToken, pySwarmId, 1);
      const ts: JobTiming[] = [];
      const py: JobTiming[] = [];
      for (let i = 0; i < REPEATS; i++) {
        ts.push(await runJob(stack, adminToken, tsSwarmId, ROUNDS));
        py.push(await runJob(stack, adminToken, pySwarmId, ROUNDS));
        console.log(
          `# repeat ${i + 1}: TypeScript ${fmt(ts[i].perRound)} s/round (workflow ${fmt(ts[i].workflowRound)}), Python ${fmt(py[i].perRound)} s/round (workflow ${fmt(py[i].workflowRound)})`,
        );
      }
      const tsRound = median(ts.map((t) => t.perRound));
      const pyRound = median(py.map((t) => t.perRound));
      const tsWorkflow = median(ts.map((t) => t.workflowRound));
      const pyWorkflow = median(py.map((t) => t.workflowRound));
      console.log(`typescript_agents_${AGENTS}_seconds_per_round ${fmt(tsRound)}`);
      console.log(`python_agents_${AGENTS}_seconds_per_round ${fmt(pyRound)}`);
      console.log(`ratio_python_over_typescript_per_round ${(pyRound / tsRound).toFixed(2)}`);
      console.log(`typescript_agents_${AGENTS}_workflow_round_seconds ${fmt(tsWorkflow)}`);
      console.log(`python_agents_${AGENTS}_workflow_round_seconds ${fmt(pyWorkflow)}`);
      console.log(`ratio_python_over_typescript_workflow_round ${(pyWorkflow / tsWorkflow).toFixed(2)}`);
    },
    config,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
