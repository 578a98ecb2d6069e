// One federated round with 1,000 no-op agents on a real Temporal dev server, end to end, beside
// Flower's simulation engine running one round with 1,000 no-op NumPyClients, in one run.
//   ours:   embedded worker + REST API; 1,000 simulated agents (agents/simulate.ts) registered
//           first (not timed), each answering rounds with noopTrainer. A job with model
//           { kind: 'vector', dimension: 650 } is started over REST and awaited (start -> result):
//           a warm-up job, then --repeats 1-round jobs (median and best), then a 5-round job
//           (per-round mean). Where the time of a round goes is read from the job's workflow
//           history (activities and the workflow-task gaps between them) and from the agents'
//           'round-trained' events; a few parts are timed on their own (visibility list, the
//           round-start messages' JSON parse by 1,000 agents, the in-memory broker fan-out).
//   Flower: flwr.simulation.start_simulation (ray), FedAvg, 1 round, 1,000 NumPyClients whose fit
//           returns the parameters unchanged (650 float32), no evaluation; the round is timed
//           from configure_fit to the end of the round's (empty) centralised evaluation, and the
//           whole start_simulation call (ray start, actor pool, 1,000 proxies, shutdown) too.
//   npm run bench:round -- [--part scale,pulsar,flower] [--agents 1000] [--concurrency 128] [--repeats 3] [--heartbeat-ms 30000]
// Two more parts, chosen with --part (default: all three):
//   scale:  durable rounds at --sizes 1000,10000 no-op agents (training disabled: the no-op trainer hands
//           the global model back) on a real Temporal dev server, embedded worker + REST API, in-memory
//           broker. Registration (about 20 agents/s here) would take over 8 minutes for 10,000 agents, so
//           their sessions are started as continue-as-new carries a session on (see seedSessions): the
//           worker's real, cached directory lists them from visibility, and each agent is the SDK's QpAgent
//           resumed with a credential the manager's secret issued. Per size: a 1-round warm-up job, then a
//           --scale-rounds job; per-round seconds are its REST start -> result time over its rounds, and the
//           median round as the workflow measured it (select -> evaluate).
//   pulsar: one round of --big-agents 100 agents each sending a --big-dimension 1,000,000-float32 update
//           over the real Pulsar broker (PULSAR_ADMIN_URL, default http://127.0.0.1:8090), through the
//           collectAndAggregate activity (collect, validate, aggregate, store, acknowledge) in a mock
//           activity context, beside the same 100 x 4 MB messages delivered by the same adapter to one
//           consumer that receives and acknowledges them; both timed from the first publish; best of
//           --big-repeats, alternating.
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTuningActivities, type CollectOutcome } from '../activities/tuning';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import type { AgentRecord } from '../core/agents';
import { issueCredential } from '../core/credentials';
import { signAsAgent } from '../core/message-proof';
import { seededRandom } from '../core/random';
import { AgentIdKey, AgentStatusKey, StandingChangedAtKey, SwarmIdKey } from '../core/search-attributes';
import { swarmTopics } from '../core/topics';
import { encodeUpdateHeader, paramsToBytes } from '../core/tuning';
import { QpAgent } from '../agents/sdk';
import type { RegisterAgentInput } from '../workflows/registration';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import { noopTrainer } from '../agents/trainers';
import { parseConfig } from '../core/config';
import type { RoundStartMessage, TuningProgress } from '../core/tuning';
import { namespace } from '../temporal-config';
import { REGISTRATION_WORKFLOW, registrationWorkflowId, tuningWorkflowId } from '../workflows/definitions';
import { startEmbedded, type Embedded } from '../workers/embedded';
import { ensureFlowerSimulation, runPythonScript } from './support/flower';
import { startDevServer } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const AGENTS = arg('agents', 1000);
const CONCURRENCY = arg('concurrency', 128);
const REPEATS = arg('repeats', 3);
const LONG_ROUNDS = arg('rounds', 5);
const HEARTBEAT_MS = arg('heartbeat-ms', 30_000);
const SCALE_ROUNDS = arg('scale-rounds', 3);
const DIMENSION = 650;
const TARGET_SECONDS = 2;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number, digits = 3): string => x.toFixed(digits);

// ---------------------------------------------------------------- Flower

const FLOWER_ROUND = String.raw`
import json, logging, sys, time
import numpy as np
import flwr
import ray
from flwr.client import NumPyClient
from flwr.common import ndarrays_to_parameters
from flwr.server import ServerConfig
from flwr.server.strategy import FedAvg
from flwr.simulation import start_simulation

N, D = int(sys.argv[1]), int(sys.argv[2])
logging.getLogger("flwr").setLevel(logging.WARNING)


class NoopClient(NumPyClient):
    def fit(self, parameters, config):
        return parameters, 1, {}


def client_fn(context):
    return NoopClient().to_client()


marks = {}


class Timed(FedAvg):
    def configure_fit(self, server_round, parameters, client_manager):
        marks.setdefault("round_start", time.perf_counter())
        return super().configure_fit(server_round, parameters, client_manager)

    def aggregate_fit(self, server_round, results, failures):
        marks["results"] = len(results)
        marks["failures"] = len(failures)
        out = super().aggregate_fit(server_round, results, failures)
        marks["aggregated"] = time.perf_counter()
        return out

    def evaluate(self, server_round, parameters):
        out = super().evaluate(server_round, parameters)
        if server_round == 1:
            marks["round_end"] = time.perf_counter()
        return out


strategy = Timed(
    fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=N, min_available_clients=N,
    initial_parameters=ndarrays_to_parameters([np.zeros(D, np.float32)]),
)
t0 = time.perf_counter()
start_simulation(
    client_fn=client_fn, num_clients=N, config=ServerConfig(num_rounds=1), strategy=strategy,
    client_resources={"num_cpus": 1, "num_gpus": 0.0},
)
total = time.perf_counter() - t0
print("QP_RESULT " + json.dumps({
    "flwr": flwr.__version__, "ray": ray.__version__, "numpy": np.__version__,
    "total": total,
    "round": marks["round_end"] - marks["round_start"],
    "fit": marks["aggregated"] - marks["round_start"],
    "before_round": marks["round_start"] - t0,
    "results": marks.get("results", 0), "failures": marks.get("failures", 0),
    "actors": int(ray.available_resources().get("CPU", 0)) if ray.is_initialized() else None,
}))
`;

interface FlowerRound {
  flwr: string;
  ray: string;
  numpy: string;
  total: number;
  round: number;
  fit: number;
  before_round: number;
  results: number;
  failures: number;
}

function runFlower(): FlowerRound | string {
  const missing = ensureFlowerSimulation();
  if (missing) return missing;
  const run = runPythonScript(FLOWER_ROUND, [String(AGENTS), String(DIMENSION)], {
    timeoutMs: 20 * 60_000,
    env: { RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO: '0' },
  });
  const line = run.stdout?.split('\n').find((l) => l.startsWith('QP_RESULT '));
  if (run.status !== 0 || !line) {
    const tail = (run.stderr ?? '').trim().split('\n').slice(-5).join(' | ');
    return `start_simulation failed (exit ${run.status}${run.error ? `, ${String(run.error)}` : ''}): ${tail}`;
  }
  return JSON.parse(line.slice('QP_RESULT '.length)) as FlowerRound;
}

// ---------------------------------------------------------------- scale: 1,000 and 10,000 agents, durable rounds

/**
 * Registration runs at about 20 agents/s on this machine (a separate, known
 * problem), so 10,000 agents would take over 8 minutes to register and then
 * heartbeat 10,000 times per interval on the same 2 cores as the round. The
 * scale part instead starts each agent's session workflow the way continue-
 * as-new carries one on: registerAgent with the ACTIVE session in its input,
 * the resources memo and the AgentId/SwarmId/AgentStatus=ACTIVE search
 * attributes. Selection therefore reads real sessions from visibility through
 * the worker's own roster (one full listing, then only what changed). Each agent is the SDK's QpAgent, resumed
 * with a credential issued by the manager's secret (as the handshake would),
 * answering rounds from its inbox with the no-op trainer. No heartbeats: no
 * liveness monitor runs, so no agent can turn LOST during the bench.
 */
async function seedSessions(
  stack: Embedded,
  taskQueue: string,
  secret: string,
  swarmId: string,
  count: number,
  onTrained: (jobId: string, round: number) => void,
): Promise<QpAgent[]> {
  const agents: QpAgent[] = [];
  const now = new Date().toISOString();
  const iat = Math.floor(Date.now() / 1000);
  const resources = { cpu: 2, memoryMb: 2048 };
  let next = 0;
  const startOne = async (): Promise<void> => {
    while (next < count) {
      const agentId = `${swarmId}-${String(next++).padStart(5, '0')}`;
      const agent = new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId,
        swarmId,
        capabilities: ['train'],
        resources,
        onEvent: (event) => {
          if (event.type === 'round-trained') onTrained(event.jobId, event.round);
        },
      });
      const record: AgentRecord = {
        agentId,
        swarmId,
        capabilities: ['train'],
        resources,
        publicKey: agent.publicKeyPem,
        status: 'ACTIVE',
        registeredAt: now,
        statusChangedAt: now,
        credentialGeneration: 1,
      };
      const input: RegisterAgentInput = { profile: record, handshakeTimeoutMs: 60_000, session: record };
      await stack.client.workflow.start(REGISTRATION_WORKFLOW, {
        workflowId: registrationWorkflowId(agentId),
        taskQueue,
        args: [input],
        memo: { resources, publicKey: agent.publicKeyPem },
        typedSearchAttributes: [
          { key: AgentIdKey, value: agentId },
          { key: SwarmIdKey, value: swarmId },
          { key: AgentStatusKey, value: 'ACTIVE' },
          { key: StandingChangedAtKey, value: new Date() },
        ],
      });
      agent.resume({ agent: record, credential: issueCredential(secret, { sub: agentId, swarm: swarmId, gen: 1, iat, exp: iat + 3600 }) });
      await agent.participate(noopTrainer);
      agents.push(agent);
    }
  };
  await Promise.all(Array.from({ length: 64 }, startOne));
  return agents;
}

async function runScale(sizes: number[]): Promise<void> {
  const env = await startDevServer();
  let stack: Embedded | undefined;
  const agents: QpAgent[] = [];
  try {
    const adminToken = randomBytes(24).toString('hex');
    const secret = randomBytes(32).toString('hex');
    const taskQueue = `bench-round-scale-${Date.now()}`;
    const config = parseConfig({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: namespace,
      QP_TASK_QUEUE: taskQueue,
      QP_ADMIN_TOKEN: adminToken,
      QP_CREDENTIAL_SECRET: secret,
    });
    stack = await startEmbedded({ config, apiPort: 0 });
    const directory = new TemporalSwarmRoster(stack.client, namespace, { ttlMs: 0, fullEveryMs: 0 });
    const trained = new Map<string, number>();
    const onTrained = (jobId: string, round: number) => trained.set(`${jobId}/${round}`, (trained.get(`${jobId}/${round}`) ?? 0) + 1);
    console.log(`# scale: no-op agents (SDK QpAgent, in-memory broker), model vector(${DIMENSION}), fraction 1, minParticipants = all; sessions seeded (see seedSessions), one ${SCALE_ROUNDS}-round job per size after a 1-round warm-up`);
    for (const size of sizes) {
      const swarmId = `s${size}-${Date.now() % 100_000}`;
      const t0 = performance.now();
      agents.push(...(await seedSessions(stack, taskQueue, secret, swarmId, size, onTrained)));
      const seeded = (performance.now() - t0) / 1000;
      const deadline = Date.now() + 300_000;
      // Counted, not listed, while visibility catches up: a count is one query, a listing ~1-4 ms per session here.
      const activeQuery = `WorkflowType = '${REGISTRATION_WORKFLOW}' AND SwarmId = '${swarmId}' AND AgentStatus = 'ACTIVE' AND ExecutionStatus = 'Running'`;
      let listed = 0;
      while ((listed = Number((await stack.client.workflowService.countWorkflowExecutions({ namespace, query: activeQuery })).count ?? 0)) < size) {
        if (Date.now() > deadline) throw new Error(`visibility counted ${listed} of ${size} sessions within 300 s`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      // The sessions' first workflow tasks queue up on the worker behind the starts: rounds are timed once they are done.
      let backlog = Infinity;
      const drainedBy = Date.now() + 1_800_000;
      while (backlog > 0) {
        if (Date.now() > drainedBy) throw new Error(`${backlog} workflow tasks still queued after 1,800 s`);
        const described = await stack.client.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
          reportStats: true,
        });
        backlog = Number(described.stats?.approximateBacklogCount ?? 0);
        if (backlog > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      const lists: number[] = [];
      for (let i = 0; i < (size >= 10_000 ? 1 : 3); i++) {
        const t = performance.now();
        await directory.listActive(swarmId);
        lists.push(performance.now() - t);
      }
      console.log(`# ${size} sessions started and agents resumed in ${seeded.toFixed(1)} s, all listed ACTIVE and their first workflow tasks done after ${((performance.now() - t0) / 1000).toFixed(1)} s; one uncached visibility listing of ${size}: ${Math.round(median(lists))} ms (median of ${lists.length})`);
      await runJob(stack, adminToken, swarmId, 1, size);
      const job = await runJob(stack, adminToken, swarmId, SCALE_ROUNDS, size);
      const seconds = (job.returned - job.requested) / 1000;
      const inWorkflow = job.result.recentRounds.map((r) => r.durationMs / 1000);
      for (const round of job.result.recentRounds) {
        const got = trained.get(`${job.jobId}/${round.round}`) ?? 0;
        if (got !== size) throw new Error(`round ${round.round}: ${got} of ${size} agents trained`);
      }
      console.log(`# ${size} agents: ${SCALE_ROUNDS}-round job ${fmt(seconds)} s (REST start -> result); rounds as the workflow measured them (select -> evaluate): ${inWorkflow.map((s) => fmt(s)).join(', ')} s`);
      const { spans, bytes, largestEvent } = await historyOf(stack.client.workflow.getHandle(tuningWorkflowId(job.jobId)));
      const perActivity = new Map<string, number[]>();
      for (const span of spans) {
        if (span.completed === undefined) continue;
        perActivity.set(span.name, [...(perActivity.get(span.name) ?? []), (span.completed - span.scheduled) / 1000]);
      }
      const breakdown = [...perActivity].map(([name, took]) => `${name} ${fmt(took.reduce((a, b) => a + b, 0) / SCALE_ROUNDS)}`);
      console.log(`# ${size} agents: seconds per round in each activity (scheduled -> completed): ${breakdown.join(', ')}`);
      const queued = new Map<string, number>();
      for (const span of spans) if (span.started !== undefined) queued.set(span.name, (queued.get(span.name) ?? 0) + (span.started - span.scheduled) / 1000);
      console.log(`# ${size} agents: of which waiting for a worker (scheduled -> started), per round: ${[...queued].map(([name, s]) => `${name} ${fmt(s / SCALE_ROUNDS)}`).join(', ')}`);
      console.log(`# ${size} agents: job history ${(bytes / 1e6).toFixed(2)} MB over ${SCALE_ROUNDS} rounds, largest event ${(largestEvent / 1e3).toFixed(0)} KB (Temporal warns at 256 KB per payload, fails at 2 MB)`);
      // The round's participants are all the swarm's agents (fraction 1): this is the list as JSON that jobs started before
      // participants-by-digest carried four times a round (selection result, startRound and collection inputs, reported).
      const listBytes = Buffer.byteLength(JSON.stringify(agents.slice(-size).map((agent) => agent.agentId)));
      console.log(`# ${size} agents: history per round ${(bytes / SCALE_ROUNDS / 1e3).toFixed(1)} KB; the participant list is ${(listBytes / 1e3).toFixed(1)} KB as JSON and travels in the blob store (its digest in the history)`);
      console.log(`round_${size}_agents_history_kb_per_round ${(bytes / SCALE_ROUNDS / 1e3).toFixed(1)}`);
      console.log(`round_${size}_agents_participant_list_kb ${(listBytes / 1e3).toFixed(1)}`);
      console.log(`round_${size}_agents_seconds_per_round ${fmt(seconds / SCALE_ROUNDS)}`);
      console.log(`round_${size}_agents_seconds_per_round_in_workflow ${fmt(median(inWorkflow))}`);
      if (size >= 10_000) {
        console.log(`# target <= 5 s per durable round at ${size} agents: ${seconds / SCALE_ROUNDS <= 5 ? 'met' : 'NOT met'}`);
      }
      // The next size gets the worker to itself.
      await Promise.all(agents.splice(0).map((agent) => agent.close()));
    }
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await stack?.stop();
    await env.teardown();
  }
}

// ---------------------------------------------------------------- 100 agents x 1M parameters over real Pulsar

const PULSAR_WEB = process.env.PULSAR_ADMIN_URL ?? `http://127.0.0.1:${process.env.PULSAR_WEB_PORT ?? 8090}`;
const BIG_AGENTS = arg('big-agents', 100);
const BIG_DIMENSION = arg('big-dimension', 1_000_000);
const BIG_REPEATS = arg('big-repeats', 2);

/**
 * The agents' side: BIG_AGENTS updates of BIG_DIMENSION float32 published at
 * once on the topic by one client (the adapter pools one producer per topic);
 * resolves when the broker has accepted all of them.
 */
async function publishUpdates(
  messaging: PulsarMessaging,
  topic: string,
  updates: Float32Array[],
  header: (i: number) => Record<string, string>,
): Promise<void> {
  // Eight in flight: all 100 at once over one producer socket outlast the adapter's 30 s send timeout on 2 busy cores.
  let next = 0;
  const sender = async (): Promise<void> => {
    for (let i = next++; i < BIG_AGENTS; i = next++) {
      await messaging.publish(topic, paramsToBytes(updates[i % updates.length]), { key: `agent-${i}`, properties: header(i) });
    }
  };
  await Promise.all(Array.from({ length: 8 }, sender));
}

async function runPulsar(): Promise<void> {
  const tenant = 'qp-bench';
  const options = { webSocketUrl: PULSAR_WEB.replace(/^http/, 'ws'), adminUrl: PULSAR_WEB, tenant };
  const health = await fetch(`${PULSAR_WEB}/admin/v2/brokers/health`).then((r) => r.text(), (e: unknown) => String(e));
  if (health !== 'ok') throw new Error(`no healthy Pulsar broker at ${PULSAR_WEB} (${health}); start it with npm run stack -- up pulsar`);
  const manager = new PulsarMessaging(options);
  const agentsSide = new PulsarMessaging(options);
  const blobs = new MemoryBlobStore();
  const secret = randomBytes(32).toString('hex');
  const activities = createTuningActivities({
    messaging: manager,
    blobs,
    directory: { listActive: async () => [] },
    evaluator: { evaluate: async () => undefined },
    agentKeys: { publicKey: async (_swarm, agentId) => agentKeys.get(agentId)?.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    credentialSecret: secret,
  });
  const global = new Float32Array(BIG_DIMENSION);
  const globalDigest = await blobs.put(paramsToBytes(global));
  const random = seededRandom(11);
  // Four distinct updates, reused: what the broker carries is BIG_AGENTS full messages all the same.
  const updates = Array.from({ length: 4 }, () => Float32Array.from({ length: BIG_DIMENSION }, () => (random() - 0.5) * 0.01));
  const participants = Array.from({ length: BIG_AGENTS }, (_, i) => `agent-${i}`);
  const agentKeys = new Map(participants.map((id) => [id, generateKeyPairSync('ed25519')]));
  const run = `${Date.now() % 1_000_000}`;
  const mb = (BIG_AGENTS * BIG_DIMENSION * 4) / 1e6;
  console.log(`# pulsar: ${BIG_AGENTS} agents x ${BIG_DIMENSION} float32 (${mb.toFixed(0)} MB) over the broker at ${PULSAR_WEB} (WebSocket adapter, one client for the agents, one for the manager); best of ${BIG_REPEATS}, alternating`);

  /** Pulsar alone: the same messages to one exclusive consumer that receives and acknowledges each. */
  const pulsarAlone = async (attempt: number): Promise<number> => {
    const topic = `swarm/big/alone-${run}-${attempt}`;
    const consumer = await manager.subscribe(topic, 'alone', { type: 'exclusive', initialPosition: 'earliest' });
    const t0 = performance.now();
    const published = publishUpdates(agentsSide, topic, updates, (i) => ({ type: 'update', agentId: `agent-${i}` }));
    for (let n = 0; n < BIG_AGENTS; ) {
      const message = await consumer.receive(60_000);
      if (!message) throw new Error(`pulsar alone: ${n} of ${BIG_AGENTS} messages within 60 s`);
      if (message.payload.byteLength !== BIG_DIMENSION * 4) throw new Error('pulsar alone: a message came back truncated');
      await consumer.ack(message);
      n++;
    }
    await published;
    const seconds = (performance.now() - t0) / 1000;
    await consumer.close();
    return seconds;
  };

  /** The round: the same messages as updates, through collectAndAggregate (collect, validate, aggregate, store, acknowledge). */
  const round = async (attempt: number): Promise<number> => {
    const jobId = `big-${run}-${attempt}`;
    const topic = swarmTopics('big').updates(jobId);
    // The activity's subscription exists before the agents publish, as after startRound.
    const consumer = await manager.subscribe(topic, `aggregator-${jobId}`, { type: 'exclusive', initialPosition: 'earliest' });
    await consumer.close();
    const deadlineAt = Date.now() + 600_000;
    const environment = new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR') });
    const t0 = performance.now();
    // Each agent signs its update as it sends it (sha-256 of 4 MB and one Ed25519 signature, a few ms),
    // which this figure includes and the Pulsar-alone baseline does not.
    const published = publishUpdates(agentsSide, topic, updates, (i) =>
      signAsAgent(
        agentKeys.get(participants[i])!.privateKey,
        participants[i],
        topic,
        encodeUpdateHeader({ jobId, round: 1, attempt: 1, agentId: participants[i], examples: 10 }),
        paramsToBytes(updates[i % updates.length]),
        Date.now(),
      ),
    );
    const outcome = (await environment.run(activities.collectAndAggregate, {
      jobId,
      swarmId: 'big',
      round: 1,
      attempt: 1,
      participants,
      deadlineAt,
      minParticipants: BIG_AGENTS,
      dimension: BIG_DIMENSION,
      globalDigest,
      strategy: 'fedavg' as const,
      strategyOptions: {},
      seed: 1,
    })) as CollectOutcome;
    const seconds = (performance.now() - t0) / 1000;
    await published;
    if (outcome.status !== 'aggregated' || outcome.accepted !== BIG_AGENTS) {
      throw new Error(`round: ${outcome.status}, ${outcome.accepted} accepted, rejected ${JSON.stringify(outcome.rejected)}`);
    }
    return seconds;
  };

  try {
    const alone: number[] = [];
    const rounds: number[] = [];
    for (let i = 0; i < BIG_REPEATS; i++) {
      alone.push(await pulsarAlone(i));
      rounds.push(await round(i));
      console.log(`# repeat ${i + 1}: pulsar alone ${fmt(alone[i])} s, round ${fmt(rounds[i])} s`);
    }
    const roundSeconds = Math.min(...rounds);
    const aloneSeconds = Math.min(...alone);
    console.log(`round_100x1M_seconds ${fmt(roundSeconds)}`);
    console.log(`pulsar_alone_100x1M_seconds ${fmt(aloneSeconds)}`);
    console.log(`ratio_pulsar_alone_over_round ${(aloneSeconds / roundSeconds).toFixed(2)}`);
    console.log(`# target ratio >= 0.7: ${aloneSeconds / roundSeconds >= 0.7 ? 'met' : 'NOT met'}`);
  } finally {
    await manager.close();
    await agentsSide.close();
  }
}

// ---------------------------------------------------------------- ours (1,000 registered agents, beside Flower)

interface ActivitySpan {
  name: string;
  scheduled: number;
  started?: number;
  completed?: number;
}

interface JobTiming {
  jobId: string;
  /** Client clock, ms: before the REST call, and when result() returned. */
  requested: number;
  returned: number;
  result: TuningProgress;
}

/** The job's activities and workflow start/end, from its history (server clock, same machine). */
async function historyOf(handle: WorkflowHandle): Promise<{ started: number; completed: number; spans: ActivitySpan[]; bytes: number; largestEvent: number }> {
  const history = await handle.fetchHistory();
  const sizes = (history.events ?? []).map((event) => temporal.api.history.v1.HistoryEvent.encode(event).finish().length);
  const byId = new Map<number, ActivitySpan>();
  const spans: ActivitySpan[] = [];
  let started = Number.NaN;
  let completed = Number.NaN;
  for (const event of history.events ?? []) {
    const at = tsToMs(event.eventTime);
    if (event.workflowExecutionStartedEventAttributes) started = at;
    if (event.workflowExecutionCompletedEventAttributes) completed = at;
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const span: ActivitySpan = { name: scheduled.activityType?.name ?? '?', scheduled: at };
      byId.set(Number(event.eventId), span);
      spans.push(span);
    }
    const start = event.activityTaskStartedEventAttributes;
    if (start) {
      const span = byId.get(Number(start.scheduledEventId));
      if (span) span.started = at;
    }
    const done = event.activityTaskCompletedEventAttributes;
    if (done) {
      const span = byId.get(Number(done.scheduledEventId));
      if (span) span.completed = at;
    }
  }
  return { started, completed, spans, bytes: sizes.reduce((a, b) => a + b, 0), largestEvent: Math.max(0, ...sizes) };
}

async function runJob(stack: Embedded, adminToken: string, swarmId: string, rounds: number, agents = AGENTS): Promise<JobTiming> {
  const requested = Date.now();
  const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      swarmId,
      model: { kind: 'vector', dimension: DIMENSION },
      rounds,
      fraction: 1,
      minParticipants: agents,
      roundTimeoutMs: 60_000,
      training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      seed: 7,
    }),
  });
  const body = (await res.json()) as { jobId?: string };
  if (res.status !== 202 || !body.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(body)}`);
  const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(body.jobId)).result();
  const returned = Date.now();
  if (result.status !== 'COMPLETED') throw new Error(`job ${body.jobId} ended ${result.status}: ${result.failureReason ?? ''}`);
  for (const round of result.recentRounds) {
    if (round.accepted !== agents || round.attempts !== 1) {
      throw new Error(`round ${round.round}: ${round.accepted} of ${agents} accepted in ${round.attempts} attempts`);
    }
  }
  return { jobId: body.jobId, requested, returned, result };
}

/** Milliseconds from publishing each agent its round-start (in its inbox) until the aggregator holds every update. */
async function brokerFanOut(agentIds: string[]): Promise<{ fanOut: number; parsed: number; collected: number }> {
  const messaging = new MemoryMessaging();
  const updates = 'swarm/bench/updates-job';
  const aggregator = await messaging.subscribe(updates, 'aggregator', { type: 'exclusive', initialPosition: 'earliest' });
  const inbox = (id: string) => `swarm/bench/inbox-${id}`;
  const consumers = await Promise.all(agentIds.map((id) => messaging.subscribe(inbox(id), `agent-${id}-rounds`)));
  const params = new Uint8Array(DIMENSION * 4);
  let received = 0;
  let parsed = 0;
  let t0 = 0;
  let lastReceived = 0;
  let lastParsed = 0;
  const agents = consumers.map(async (consumer, i) => {
    const got = await consumer.receive(30_000);
    if (!got) throw new Error('fan-out: a consumer got nothing');
    if (++received === agentIds.length) lastReceived = performance.now();
    await consumer.ack(got);
    const start = JSON.parse(Buffer.from(got.payload).toString('utf8')) as RoundStartMessage;
    if (start.agentId !== agentIds[i]) throw new Error('not the addressee');
    if (++parsed === agentIds.length) lastParsed = performance.now();
    await messaging.publish(updates, params, { key: agentIds[i], properties: { type: 'update', agentId: agentIds[i] } });
  });
  t0 = performance.now();
  await Promise.all(
    agentIds.map((id) =>
      messaging.publish(inbox(id), Buffer.from(JSON.stringify(roundStart(id))), { key: id, properties: { type: 'round-start', jobId: 'job' } }),
    ),
  );
  for (let n = 0; n < agentIds.length; n++) {
    const update = await aggregator.receive(30_000);
    if (!update) throw new Error('fan-out: the aggregator missed updates');
  }
  const collected = performance.now() - t0;
  await Promise.all(agents);
  await messaging.close();
  return { fanOut: lastReceived - t0, parsed: lastParsed - t0, collected };
}

function roundStart(agentId: string): RoundStartMessage {
  return {
    type: 'round-start',
    agentId,
    jobId: 'job',
    round: 1,
    attempt: 1,
    globalDigest: 'f'.repeat(64),
    globalParams: Buffer.from(new Uint8Array(DIMENSION * 4)).toString('base64'),
    training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    deadlineAt: Date.now() + 60_000,
    updatesTopic: 'swarm/bench/updates-job',
  };
}

interface OursResult {
  registrationSeconds: number;
  warmUp: JobTiming;
  single: JobTiming[];
  long: JobTiming;
  /** Figure lines and the comment lines that explain them. */
  profile: string[];
  notes: string[];
}

async function runOurs(): Promise<OursResult> {
  const env = await startDevServer();
  let stack: Embedded | undefined;
  let swarm: SwarmSimulation | undefined;
  try {
    const adminToken = randomBytes(24).toString('hex');
    const config = parseConfig({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: namespace,
      QP_TASK_QUEUE: `bench-round-${Date.now()}`,
      QP_ADMIN_TOKEN: adminToken,
      QP_HEARTBEAT_GRACE_MS: String(Math.max(30_000, 4 * HEARTBEAT_MS)),
      QP_HANDSHAKE_TIMEOUT_MS: '60000',
    });
    stack = await startEmbedded({ config, apiPort: 0 });
    const swarmId = `bench-round-${Date.now()}`;
    // Agent-side clock: when each agent had published its update, per job and round.
    const trained = new Map<string, number[]>();
    let failedRounds = 0;
    const t0 = performance.now();
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: AGENTS,
      swarmId,
      idPrefix: swarmId,
      concurrency: CONCURRENCY,
      heartbeatIntervalMs: HEARTBEAT_MS,
      trainers: Array.from({ length: AGENTS }, () => noopTrainer),
      onEvent: (_agentId, event) => {
        if (event.type === 'round-trained') {
          const key = `${event.jobId}/${event.round}`;
          const list = trained.get(key) ?? [];
          list.push(Date.now());
          trained.set(key, list);
        } else if (event.type === 'round-failed') failedRounds++;
      },
    });
    if (swarm.failed.length > 0) throw new Error(`${swarm.failed.length} registrations failed: ${swarm.failed[0].error}`);
    const directory = new TemporalSwarmRoster(stack.client, namespace, { ttlMs: 0, fullEveryMs: 0 });
    const deadline = Date.now() + 120_000;
    while ((await directory.listActive(swarmId)).length < AGENTS) {
      if (Date.now() > deadline) throw new Error(`visibility did not list ${AGENTS} agents ACTIVE within 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const registrationSeconds = (performance.now() - t0) / 1000;

    const warmUp = await runJob(stack, adminToken, swarmId, 1);
    const single: JobTiming[] = [];
    for (let i = 0; i < REPEATS; i++) single.push(await runJob(stack, adminToken, swarmId, 1));
    const long = await runJob(stack, adminToken, swarmId, LONG_ROUNDS);
    if (failedRounds > 0) throw new Error(`${failedRounds} agent rounds failed`);

    // ---- where a round's time goes: the median 1-round job, from its history and the agents' clock
    const profile: string[] = [];
    const notes: string[] = [];
    const queueing: string[] = [];
    const figure = (name: string, value: number) => profile.push(`profile_${name}_ms ${Math.round(value)} ms`);
    const ms = (x: number) => `${Math.round(x)}`;
    const sorted = [...single].sort((a, b) => a.returned - a.requested - (b.returned - b.requested));
    const job = sorted[sorted.length >> 1];
    const history = await historyOf(stack.client.workflow.getHandle(tuningWorkflowId(job.jobId)));
    figure('request_to_workflow_started', history.started - job.requested);
    let cursor = history.started;
    let gaps = 0;
    let activities = 0;
    for (const span of history.spans) {
      const gap = span.scheduled - cursor;
      gaps += gap;
      const end = span.completed ?? span.scheduled;
      activities += end - span.scheduled;
      figure(`workflow_task_before_${span.name}`, gap);
      figure(`activity_${span.name}`, end - span.scheduled);
      if (span.started !== undefined) queueing.push(`${span.name} ${ms(span.started - span.scheduled)}`);
      cursor = end;
    }
    gaps += history.completed - cursor;
    notes.push(`activity time is scheduled -> completed; of it, scheduled -> started (ms): ${queueing.join(', ')}`);
    figure('workflow_task_before_completion', history.completed - cursor);
    figure('workflow_completed_to_result', job.returned - history.completed);
    figure('sum_activities', activities);
    figure('sum_workflow_task_gaps', gaps);
    const broadcast = history.spans.find((s) => s.name === 'startRound');
    const collect = history.spans.find((s) => s.name === 'collectAndAggregate');
    const agentTimes = (trained.get(`${job.jobId}/1`) ?? []).sort((a, b) => a - b);
    if (broadcast && agentTimes.length > 0) {
      // The broker dispatches the round-start inside startRound's publish, so agents may finish
      // before that activity's completion reaches the server: count from when it was scheduled.
      const from = broadcast.scheduled;
      figure('first_agent_update_after_startRound_scheduled', agentTimes[0] - from);
      figure('median_agent_update_after_startRound_scheduled', median(agentTimes) - from);
      figure('last_agent_update_after_startRound_scheduled', agentTimes[agentTimes.length - 1] - from);
      notes.push(`${agentTimes.length} agents published their update (agents' clock, counted from startRound's scheduled event)`);
      if (collect?.completed !== undefined) figure('collect_done_after_last_update', collect.completed - agentTimes[agentTimes.length - 1]);
    }
    // ---- parts timed on their own, with the same sizes
    const lists: number[] = [];
    let ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      ids = (await directory.listActive(swarmId)).map((e) => e.agentId).sort();
      lists.push(performance.now() - t);
    }
    figure(`visibility_list_${ids.length}_active`, median(lists));
    notes.push(`visibility list: median of 3 listActive() calls (${lists.map(ms).join(', ')} ms)`);
    const payloads = ids.map((id) => Buffer.from(JSON.stringify(roundStart(id))));
    const tParse = performance.now();
    for (let i = 0; i < ids.length; i++) {
      const message = JSON.parse(Buffer.from(payloads[i]).toString('utf8')) as RoundStartMessage;
      if (message.agentId !== ids[i]) throw new Error('not the addressee');
    }
    figure(`round_start_parse_by_${ids.length}_agents`, performance.now() - tParse);
    notes.push(`round-start message: ${(payloads[0].byteLength / 1024).toFixed(1)} KB, one per participant in its inbox; each agent copies, decodes and JSON.parses its own`);
    const fan = await brokerFanOut(ids);
    figure('memory_broker_fanout_all_received', fan.fanOut);
    figure('memory_broker_fanout_all_parsed', fan.parsed);
    figure('memory_broker_round_all_updates_collected', fan.collected);
    notes.push(`memory broker alone: a round-start to each of ${ids.length} inboxes, each parses it and publishes a ${DIMENSION * 4}-byte update; timed until the aggregator received all`);
    return { registrationSeconds, warmUp, single, long, profile, notes };
  } finally {
    await swarm?.stop();
    await stack?.stop();
    await env.teardown();
  }
}

async function main(): Promise<void> {
  const parts = (process.argv.includes('--part') ? process.argv[process.argv.indexOf('--part') + 1] : 'scale,pulsar,flower').split(',');
  if (parts.includes('scale')) {
    const i = process.argv.indexOf('--sizes');
    await runScale((i > 0 ? process.argv[i + 1] : '1000,10000').split(',').map(Number));
  }
  if (parts.includes('pulsar')) await runPulsar();
  if (parts.includes('flower')) await runFlowerComparison();
}

async function runFlowerComparison(): Promise<void> {
  console.log(
    `# ${AGENTS} no-op agents, model vector(${DIMENSION}), fraction 1, minParticipants ${AGENTS}; Temporal dev server (in-memory), embedded worker + API, in-memory broker; heartbeats every ${HEARTBEAT_MS / 1000} s`,
  );
  const ours = await runOurs();
  const seconds = (job: JobTiming) => (job.returned - job.requested) / 1000;
  const singles = ours.single.map(seconds);
  const oursRound = median(singles);
  const longSeconds = seconds(ours.long);
  const perRound = longSeconds / LONG_ROUNDS;
  console.log(`# registration of ${AGENTS} agents (${CONCURRENCY} in flight) until visibility listed all ACTIVE: ${ours.registrationSeconds.toFixed(1)} s (not timed below)`);
  console.log(`# warm-up 1-round job: ${fmt(seconds(ours.warmUp))} s; 1-round jobs: ${singles.map((s) => fmt(s)).join(', ')} s`);
  console.log(`# ours_round_seconds: median of ${REPEATS} 1-round jobs, REST start -> result`);
  console.log(`ours_round_seconds ${fmt(oursRound)} s`);
  console.log(`ours_round_seconds_best ${fmt(Math.min(...singles))} s`);
  console.log(`ours_${LONG_ROUNDS}round_job_seconds ${fmt(longSeconds)} s`);
  console.log(`ours_${LONG_ROUNDS}round_per_round_seconds ${fmt(perRound)} s`);
  const inWorkflow = ours.long.result.recentRounds.map((r) => r.durationMs / 1000);
  console.log(`# rounds of the ${LONG_ROUNDS}-round job as the workflow measured them (select -> evaluate): ${inWorkflow.map((s) => fmt(s)).join(', ')} s`);

  const flower = runFlower();
  if (typeof flower === 'string') {
    console.log(`# flower_simulation_round_seconds could not be measured: ${flower}`);
  } else {
    if (flower.results !== AGENTS || flower.failures > 0) {
      console.log(`# WARNING: Flower's round had ${flower.results} results and ${flower.failures} failures`);
    }
    console.log(`# flower_simulation_round_seconds: configure_fit -> end of round 1 (${flower.results} results); total: the whole start_simulation call, ${fmt(flower.before_round)} s of it before round 1 (ray start, actor pool, ${AGENTS} proxies)`);
    console.log(`flower_simulation_round_seconds ${fmt(flower.round)} s`);
    console.log(`flower_simulation_total_seconds ${fmt(flower.total)} s`);
    console.log(`ratio_flower_round_over_ours_round ${(flower.round / oursRound).toFixed(2)} x`);
    console.log(`ratio_flower_total_over_ours_round ${(flower.total / oursRound).toFixed(2)} x`);
    console.log(`# Flower: flwr ${flower.flwr}, ray ${flower.ray}, numpy ${flower.numpy}; FedAvg, fraction_fit 1, no evaluation, client_resources num_cpus 1 (2 actors on 2 cores)`);
  }
  console.log(`# target: ours <= ${TARGET_SECONDS} s per round: ${oursRound <= TARGET_SECONDS ? 'met' : 'NOT met'} (median 1-round job ${fmt(oursRound)} s, ${LONG_ROUNDS}-round mean ${fmt(perRound)} s); the brief measured Flower's engine at 20.4 s`);
  console.log('# where the median 1-round job spent its time (history event times; agents\' clock for their updates):');
  for (const line of ours.profile) console.log(line);
  for (const note of ours.notes) console.log(`# ${note}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
