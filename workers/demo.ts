// The main job: `npm start`. Brings up the local Temporal dev server if none
// answers, runs the worker and the API on the embedded default, and takes a
// simulated swarm through registration, heartbeats and a few crashes.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Runtime } from '@temporalio/worker';
import { createJsonLogger } from '../adapters/logging/json-logger';
import { parseConfig, ConfigError, type Config } from '../core/config';
import { simulateSwarm } from '../agents/simulate';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { decisionStatusQuery, decisionWorkflowId, tuningProgressQuery, tuningWorkflowId } from '../workflows/definitions';
import type { QpAgent } from '../agents/sdk';
import type { DecisionStatus } from '../core/decisions/status';
import { delegationPhase } from './demo-delegation';
import { startEmbedded, type Embedded } from './embedded';
import { describePorts } from './ports';
import { localDevServer, temporalWebUiUrl } from './local-temporal';

const STACK = join(__dirname, '..', 'infra', 'local', 'stack.sh');
/** What the printed Prometheus link shows: agents by status. */
const PROMETHEUS_QUERY = 'sum by (status) (qp_manager_agents{swarm="_all"})';

interface DemoOptions {
  agents: number;
  crashes: number;
  rounds: number;
  once: boolean;
  /** Start Prometheus (`stack.sh up prometheus`) scraping this run's API and worker. */
  prometheus: boolean;
  scaling: boolean;
  /** Tasks of the delegation phase (default: two per agent, at most 1,000). */
  tasks: number;
}

function parseArgs(argv: string[]): DemoOptions {
  const options: DemoOptions = { agents: 50, crashes: -1, rounds: 20, once: false, prometheus: false, scaling: false, tasks: -1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--once') options.once = true;
    else if (arg === '--prometheus') options.prometheus = true;
    else if (arg === '--agents') options.agents = Number(argv[++i]);
    else if (arg === '--crashes') options.crashes = Number(argv[++i]);
    else if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else if (arg === '--scaling') options.scaling = true;
    else if (arg === '--tasks') options.tasks = Number(argv[++i]);
    else if (arg === '--help') {
      console.log('usage: npm start -- [--agents N] [--crashes K] [--rounds R] [--tasks T] [--scaling] [--once] [--prometheus]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (!Number.isInteger(options.agents) || options.agents < 1) throw new Error('--agents must be a positive integer');
  if (options.crashes < 0) options.crashes = Math.max(1, Math.floor(options.agents / 10));
  if (options.crashes >= options.agents) throw new Error('--crashes must leave some agents running');
  if (!Number.isInteger(options.rounds) || options.rounds < 0) throw new Error('--rounds must be a whole number');
  if (options.tasks < 0) options.tasks = Math.min(1000, 2 * options.agents);
  if (!Number.isInteger(options.tasks) || options.tasks > 1000) throw new Error('--tasks must be a whole number up to 1000');
  return options;
}

function reachable(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port), host, () => done(true));
  });
}

function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  // The demo orders its own shutdown (agents, then worker, then server): the
  // SDK must not stop the worker on SIGINT before the agents are deregistered.
  const config: Config = parseConfig({
    QP_HEARTBEAT_GRACE_MS: '5000',
    QP_LIVENESS_WINDOW_MS: '1000',
    QP_AUTOSCALE_INTERVAL_S: '1',
    QP_ADMIN_TOKEN: randomBytes(16).toString('hex'),
    ...process.env,
  });
  // With --prometheus the SDK's own metrics are served too (QP_SDK_METRICS_PORT).
  const sdkMetrics = `${config.QP_LISTEN_HOST}:${config.QP_SDK_METRICS_PORT}`;
  Runtime.install({
    // The demo talks to a person: only warnings and errors, as JSON lines, never its admin token.
    logger: createJsonLogger('WARN', { extraSecrets: [config.QP_ADMIN_TOKEN ?? ''] }),
    shutdownSignals: [],
    ...(options.prometheus ? { telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetrics } } } } : {}),
  });

  let startedStack = false;
  let startedPrometheus = false;
  if (!(await reachable(config.TEMPORAL_ADDRESS))) {
    const devServer = localDevServer(config);
    console.log(`No Temporal at ${config.TEMPORAL_ADDRESS}: installing and starting the local dev server...`);
    const up = spawnSync('bash', [STACK, 'up', 'temporal'], {
      stdio: 'inherit',
      env: { ...process.env, ...devServer.stackEnv },
    });
    if (up.status !== 0) throw new Error('infra/local/stack.sh up failed (see above)');
    startedStack = true;
    if (!(await reachable(config.TEMPORAL_ADDRESS, 5000))) {
      throw new ConfigError([
        {
          variable: 'TEMPORAL_ADDRESS',
          message: `the stack's dev server is running but not on ${config.TEMPORAL_ADDRESS} (started earlier on another port?); \`bash infra/local/stack.sh down temporal\` first, or point TEMPORAL_ADDRESS at it`,
        },
      ]);
    }
  }

  console.log('Starting worker and API (embedded default: in-process messaging, vectors, cluster, blobs)...');
  let embedded: Embedded | undefined;
  let simulation: Awaited<ReturnType<typeof simulateSwarm>> | undefined;
  let stopping = false;
  // A swarm per run: a persistent dev server keeps earlier runs' sessions.
  const swarmId = `demo-${randomBytes(3).toString('hex')}`;
  const stopAll = async (code: number): Promise<never> => {
    // npm and tsx forward the terminal's Ctrl-C too: repeats while stopping are ignored.
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    console.log('\nStopping...');
    setTimeout(() => {
      console.error('could not stop cleanly within 60 s; exiting');
      process.exit(1);
    }, 60_000).unref();
    // The simulated agents stop first (a running agent whose session ends registers again), then
    // every session of the swarm, crashed agents' included, is ended while the worker still runs
    // them, so a stopped demo leaves no live sessions behind (bounded).
    await simulation?.stop().catch(() => undefined);
    if (embedded) {
      const ended = await embedded.api.swarm
        .deregisterSwarm(swarmId, 'demo finished', {
          timeoutMs: 45_000,
          onProgress: (running, asked) => process.stdout.write(`\r  deregistering: ${asked - running}/${asked} sessions ended`),
        })
        .catch((error: unknown) => {
          console.error('\nending the swarm\'s sessions:', error);
          return undefined;
        });
      if (ended) {
        console.log(ended.stillRunning === 0 ? '' : `\n  ! ${ended.stillRunning} sessions still running after 45 s`);
      }
    }
    await embedded?.stop().catch((error) => console.error('stopping the worker:', error));
    if (startedPrometheus) spawnSync('bash', [STACK, 'down', 'prometheus'], { stdio: 'inherit' });
    if (startedStack) spawnSync('bash', [STACK, 'down', 'temporal'], { stdio: 'inherit' });
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  embedded = await startEmbedded({ config, workerMetricsPort: config.QP_METRICS_PORT });
  console.log(`API on ${embedded.api.url}; worker on task queue ${config.QP_TASK_QUEUE}`);
  for (const [role, adapter] of Object.entries(describePorts(embedded.ports))) console.log(`  ${role.padEnd(10)}${adapter}`);
  const workerMetrics = `${config.QP_LISTEN_HOST}:${embedded.workerHttp!.port}`;
  console.log(`Status page ${embedded.api.url}/  (live: swarms, agents, jobs with accuracy per round)`);
  console.log(`Metrics     ${embedded.api.url}/metrics (API), http://${workerMetrics}/metrics (worker)`);
  if (options.prometheus) {
    const up = spawnSync('bash', [STACK, 'up', 'prometheus'], {
      stdio: 'inherit',
      env: {
        ...process.env,
        PROMETHEUS_TARGETS_API: `${config.QP_LISTEN_HOST}:${embedded.api.port}`,
        PROMETHEUS_TARGETS_WORKER: workerMetrics,
        PROMETHEUS_TARGETS_SDK: sdkMetrics,
      },
    });
    startedPrometheus = up.status === 0;
    if (!startedPrometheus) console.log('  ! infra/local/stack.sh up prometheus failed (see above)');
  }
  // Empty counts as unset, as for every variable of core/config.ts.
  const prometheusUrl = process.env.PROMETHEUS_URL || `http://127.0.0.1:${process.env.PROMETHEUS_PORT || '9090'}`;
  if (await fetch(`${prometheusUrl}/-/ready`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)) {
    console.log(`Prometheus  ${prometheusUrl}/graph?g0.expr=${encodeURIComponent(PROMETHEUS_QUERY)}&g0.tab=0&g0.range_input=15m`);
  }

  console.log(`\nRegistering ${options.agents} simulated agents in swarm "${swarmId}"...`);
  const started = Date.now();
  simulation = await simulateSwarm({
    apiUrl: embedded.api.url,
    messaging: embedded.ports.messaging,
    count: options.agents,
    swarmId,
    idPrefix: `${swarmId}-agent`,
    heartbeatIntervalMs: 1000,
    trainers: digitsTrainers({ agents: options.agents, alpha: 0.5, seed: 1 }),
    onProgress: (done, total) => process.stdout.write(`\r  ${bar(done, total)}`),
  });
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n  ${simulation.registered} registered in ${seconds.toFixed(1)} s (${(simulation.registered / seconds).toFixed(1)}/s)`);
  for (const failure of simulation.failed) console.log(`  ! ${failure.agentId}: ${failure.error}`);

  const swarm = embedded.api.swarm;
  const count = async (status: 'ACTIVE' | 'LOST') =>
    (await swarm.listAgents({ swarmId, status, pageSize: 500 })).agents.length;

  const crashed = simulation.agents.slice(0, options.crashes);
  console.log(`\nSimulating ${crashed.length} agent crashes (heartbeats stop; grace period ${config.QP_HEARTBEAT_GRACE_MS} ms)...`);
  for (const agent of crashed) agent.stopHeartbeats();
  const sawLost = await waitUntil(async () => {
    const lost = await count('LOST');
    process.stdout.write(`\r  LOST: ${bar(Math.min(lost, crashed.length), crashed.length)}`);
    return lost >= crashed.length;
  }, config.QP_HEARTBEAT_GRACE_MS + 30_000);
  console.log(sawLost ? '\n  the liveness monitor marked every crashed agent LOST' : '\n  ! not every crashed agent was marked LOST in time');

  const [active, lost] = await Promise.all([count('ACTIVE'), count('LOST')]);
  console.log('\nSummary');
  console.log(`  registered  ${simulation.registered}`);
  console.log(`  active      ${active}`);
  console.log(`  lost        ${lost}`);
  console.log(`  failed      ${simulation.failed.length}`);
  console.log(`  Web UI      ${temporalWebUiUrl(config)}`);
  console.log(`  API         ${embedded.api.url}  (admin token: ${config.QP_ADMIN_TOKEN})`);
  console.log(`  try         curl -H "Authorization: Bearer ${config.QP_ADMIN_TOKEN}" "${embedded.api.url}/api/v1/swarm/agents?swarmId=${swarmId}&status=LOST"`);

  let finalAccuracy: number | undefined;
  if (options.rounds > 0) finalAccuracy = await tune(embedded, swarmId, options.rounds);

  // Agents whose registration failed take no part in what follows.
  const failedIds = new Set(simulation.failed.map((f) => f.agentId));
  const registered = simulation.agents.filter((agent) => !failedIds.has(agent.agentId));
  const decided = await decideStrategy(embedded, swarmId, registered);
  let delegated = true;
  if (options.tasks > 0) {
    const summary = await delegationPhase(
      { url: embedded.api.url, adminToken: config.QP_ADMIN_TOKEN! },
      swarmId,
      registered.filter((agent) => !crashed.includes(agent)),
      { tasks: options.tasks, runId: randomBytes(3).toString('hex') },
    );
    delegated = summary.succeeded === summary.tasks;
  }
  let scaled = true;
  if (options.scaling) scaled = await scalingPhase(embedded, config.QP_AUTOSCALE_INTERVAL_S);

  const ok =
    simulation.failed.length === 0 &&
    sawLost &&
    (options.rounds === 0 || finalAccuracy !== undefined) &&
    decided.state === 'SUCCEEDED' &&
    delegated &&
    scaled;
  if (options.once) await stopAll(ok ? 0 : 1);
  console.log('\nThe swarm keeps heartbeating. Ctrl-C stops everything this command started.');
}

/**
 * The autoscaling Schedule on the local process pool: a burst of tasks builds backlog on the
 * pool's subscription and the pool scales up on it while its ready replicas work the backlog
 * off (two tasks per replica per second); then the grid's carbon intensity rises and its band
 * caps the pool. Prints replicas over time and the reason of each change.
 */
async function scalingPhase(embedded: Embedded, intervalSeconds: number): Promise<boolean> {
  const pool = `demo-pool-${randomBytes(2).toString('hex')}`;
  console.log(`\nAutoscaling: pool "${pool}" of simulator agent processes (Schedule every ${intervalSeconds} s)...`);
  const pools = embedded.api.pools;
  const tasksTopic = `swarm/${pool}/tasks`;
  const work = await embedded.ports.messaging.subscribe(tasksTopic, 'workers', { type: 'shared' });
  const burst = 300;
  for (let i = 0; i < burst; i++) await embedded.ports.messaging.publish(tasksTopic, Buffer.from(JSON.stringify({ task: i })));
  console.log(`  a burst of ${burst} tasks on ${tasksTopic}; each ready replica works off 2 per second`);
  let working = true;
  const workOff = (async () => {
    while (working) {
      const ready = (await embedded.ports.cluster.getPool(pool))?.ready ?? 0;
      for (let i = 0; i < ready * 2 && working; i++) {
        const task = await work.receive(50);
        if (task) await work.ack(task);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  await pools.setPolicy(pool, {
    minReplicas: 1,
    maxReplicas: 6,
    fallbackReplicas: 1,
    backlog: { targetPerReplica: 50, activationThreshold: 0 },
    carbon: { bands: [{ maxIntensity: 250, maxReplicas: 6 }, { maxIntensity: 10_000, maxReplicas: 1 }] },
    behavior: {
      scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 2, periodSeconds: 2 }] },
      scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 2, periodSeconds: 2 }] },
    },
  }, tasksTopic);
  await pools.setCarbon(pool, { intensity: 120, forecast: [] });
  let printed = 0;
  const started = Date.now();
  const show = async () => {
    const view = await pools.get(pool);
    for (const decision of view.autoscaling?.decisions.slice(printed) ?? []) {
      const why = decision.reasons.map((r) => r.message).join('; ');
      const change = decision.desiredReplicas === decision.currentReplicas ? '  ' : decision.desiredReplicas > decision.currentReplicas ? '↑ ' : '↓ ';
      console.log(`  t+${((decision.at - started) / 1000).toFixed(0).padStart(3)}s  ${change}${String(decision.currentReplicas).padStart(2)} -> ${String(decision.desiredReplicas).padEnd(2)} ready ${view.replicas?.ready ?? 0}  ${why}`);
    }
    printed = view.autoscaling?.decisions.length ?? printed;
    return view;
  };
  // A size is reached once its decision is recorded and its replicas are ready.
  const until = async (replicas: number) =>
    waitUntil(async () => {
      const view = await show();
      return view.autoscaling?.decisions.at(-1)?.desiredReplicas === replicas && view.replicas?.ready === replicas;
    }, 60_000);
  const grew = await until(6);
  console.log('  the grid gets dirtier: carbon intensity 480 g/kWh');
  await pools.setCarbon(pool, { intensity: 480, forecast: [] });
  const capped = await until(1);
  console.log(grew && capped ? '  scaled up on the backlog, capped by the carbon band' : '  ! the pool did not reach the expected sizes in time');
  working = false;
  await workOff;
  await work.close();
  await embedded.client.schedule.getHandle(`autoscale-${pool}`).delete().catch(() => undefined);
  await embedded.ports.cluster.deletePool(pool);
  await embedded.ports.messaging.deleteTopic(tasksTopic);
  return grew && capped;
}

/** Runs a FedAvg job on the live agents and prints test accuracy per round. */
async function tune(embedded: Embedded, swarmId: string, rounds: number): Promise<number | undefined> {
  console.log(`\nFederated tuning: ${rounds} rounds of FedAvg on the digits data (Dirichlet 0.5 split, softmax regression)...`);
  const { jobId } = await embedded.api.tuning.start({
    swarmId,
    model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
    rounds,
    fraction: 1,
    minParticipants: 2,
    roundTimeoutMs: 30_000,
    maxRoundAttempts: 3,
    strategy: 'fedavg',
    strategyOptions: {},
    training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
    evaluateEvery: 1,
    seed: 1,
  });
  const handle = embedded.client.workflow.getHandle(tuningWorkflowId(jobId));
  let printed = 0;
  const printRounds = (progress: TuningProgress) => {
    for (const round of progress.recentRounds.filter((r) => r.round > printed)) {
      const accuracy = round.accuracy !== undefined ? (round.accuracy * 100).toFixed(1).padStart(5) + '%' : '   n/a';
      console.log(`  ${bar(round.round, rounds, 20)}  accuracy ${accuracy}  agents ${round.accepted}  ${round.durationMs} ms`);
      printed = round.round;
    }
  };
  const result = handle.result();
  for (let done = false; !done; ) {
    done = await Promise.race([result.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
    printRounds(await handle.query(tuningProgressQuery));
  }
  const final = await result;
  printRounds(final);
  const accuracy = final.recentRounds.at(-1)?.accuracy;
  console.log(`  job ${jobId}: ${final.status}, final test accuracy ${accuracy !== undefined ? (accuracy * 100).toFixed(1) + '%' : 'n/a'}`);
  return accuracy;
}

const STRATEGIES = ['forage-near-base', 'explore-frontier', 'cluster-and-share', 'conserve-energy'];

/**
 * The decision phase: the swarm ranks behavior strategies (instant runoff,
 * power = cores + GPUs); each agent ranks by its own situation, the terminal
 * shows the live tally until the outcome. Crashed agents are not in the
 * electorate (it is the ACTIVE agents when voting opens): their ballots are
 * refused as ineligible.
 */
async function decideStrategy(embedded: Embedded, swarmId: string, agents: QpAgent[]): Promise<DecisionStatus> {
  console.log(`\nDecision: the swarm ranks ${STRATEGIES.length} behavior strategies (ranked-choice, power = cores + GPUs)...`);
  const ranking = (agent: QpAgent): string[] => {
    const cpu = agent.agent?.resources.cpu ?? 1;
    const wh = agent.agent?.resources.energy?.budgetWh ?? 100;
    const first = wh < 150 ? 'conserve-energy' : cpu >= 6 ? 'explore-frontier' : cpu >= 3 ? 'cluster-and-share' : 'forage-near-base';
    return [first, ...STRATEGIES.filter((s) => s !== first)].slice(0, 3);
  };
  const { decisionId } = await embedded.api.decisions.create(
    {
      swarmId,
      title: 'Which behavior strategy does the swarm adopt?',
      system: 'ranked-choice',
      options: STRATEGIES,
      power: 'resources',
      votingDelayMs: 0,
      votingPeriodMs: 30_000,
      quorum: { fraction: 0.5 },
      allowVoteChange: false,
    },
    'admin',
  );
  await Promise.all(
    agents.map((agent) =>
      agent.onProposal(async (proposal) => {
        if (proposal.decisionId === decisionId) await agent.vote(decisionId, ranking(agent));
      }),
    ),
  );
  const handle = embedded.client.workflow.getHandle(decisionWorkflowId(decisionId));
  const result: Promise<DecisionStatus> = handle.result();
  const show = (status: DecisionStatus) => {
    const total = status.snapshot?.totalPower ?? 0;
    const firstRound = status.tally.rounds?.[0]?.counts ?? {};
    const line = STRATEGIES.map((s) => `${s} ${(firstRound[s] ?? 0).toFixed(0)}`).join('  ');
    process.stdout.write(`\r  turnout ${status.tally.turnout.toFixed(0)}/${total.toFixed(0)}  first choices: ${line}   `);
  };
  for (let done = false; !done; ) {
    done = await Promise.race([result.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
    show(await handle.query(decisionStatusQuery));
  }
  const final = await result;
  show(final);
  console.log('');
  for (const [i, round] of (final.tally.rounds ?? []).entries()) {
    const counts = Object.entries(round.counts).map(([option, count]) => `${option} ${count.toFixed(0)}`).join(', ');
    console.log(`  round ${i + 1}: ${counts}${round.eliminated ? `; eliminated ${round.eliminated}` : ''}${round.exhausted ? `; exhausted ${round.exhausted}` : ''}`);
  }
  const refused = Object.entries(final.refusals.counts).map(([reason, n]) => `${n} ${reason}`).join(', ');
  console.log(`  decision ${decisionId}: ${final.state}${final.outcome?.winner ? `, adopted ${final.outcome.winner}` : ''} (closed ${final.closedBy}${refused ? `; refused: ${refused}` : ''})`);
  return final;
}

main().catch((error) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
