// A real Prometheus scrapes a running swarm: the API, the worker's /metrics and
// the Temporal SDK's own metrics, on ports written into its file_sd targets. After
// registrations, a lost agent, a tuning job and a behaviour sweep, every PromQL
// expression the project ships (alert rules, dashboard panels) parses and has
// series behind it, queried through Prometheus's HTTP API.
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { TuningProgress } from '../core/tuning';
import { DEFAULT_BEHAVIOR } from '../core/autoscaling';
import { DEFAULT_AGENT_POWER } from '../core/tasks';
import { agentPoolWorkflowId, autoscaleScheduleId, tuningWorkflowId } from '../workflows/definitions';
import { startEmbedded, type Embedded } from '../workers/embedded';
import { alertExpressions, dashboardExpressions, metricNames, withoutGrafanaMacros } from './support/promql';
import { freePort, promQuery, requireTestPrometheus, scrapeTargets } from './support/prometheus';
import { ADMIN_TOKEN, testConfig, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('Prometheus scraping a running swarm', () => {
  let stack: Embedded;
  let swarm: SwarmSimulation;
  let removeTargets: () => void = () => undefined;
  const suite = uniqueId('prom');
  const swarmId = uniqueId('prom-swarm');
  const pool = uniqueId('prom-pool').toLowerCase();
  const value = async (expr: string) => Number((await promQuery(expr)).data?.result[0]?.value[1] ?? Number.NaN);

  beforeAll(async () => {
    requireTestPrometheus();
    // The SDK's metrics need a runtime of their own: the quiet one of the set-up has none.
    await Runtime.instance().shutdown();
    const sdkPort = await freePort();
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}` } } },
    });
    stack = await startEmbedded({
      // Pools on the memory cluster, and an autoscaling Schedule that does not fire during the test.
      config: testConfig({ QP_HEARTBEAT_GRACE_MS: '3000', QP_BEHAVIOR_SWEEP_CRON: 'off', QP_CLUSTER: 'memory', QP_AUTOSCALE_INTERVAL_S: '3600' }),
      apiPort: 0,
      workerMetricsPort: 0,
    });
    removeTargets = scrapeTargets(suite, {
      'qp-manager-api': `127.0.0.1:${stack.api.port}`,
      'qp-manager-worker': `127.0.0.1:${stack.workerHttp!.port}`,
      'qp-manager-worker-sdk': `127.0.0.1:${sdkPort}`,
    });
  }, 120_000);

  afterAll(async () => {
    removeTargets();
    await stack?.client.schedule.getHandle(autoscaleScheduleId(pool)).delete().catch(() => undefined);
    await stack?.client.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('test over').catch(() => undefined);
    await swarm?.stop();
    await stack?.stop();
    // Its Prometheus endpoint would keep the jest worker alive.
    await Runtime.instance().shutdown();
  });

  it('scrapes the API, the worker and the SDK, all up', async () => {
    let last = '';
    await waitFor(
      'three targets up',
      async () => {
        const up = await promQuery(`up{suite="${suite}"}`);
        last = JSON.stringify(up.data?.result.map((r) => [r.metric.job, r.value[1]]));
        return up.data?.result.filter((r) => r.value[1] === '1').length === 3 ? true : undefined;
      },
      60_000,
      250,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; up: ${last}`);
    });
  }, 90_000);

  it('sees a small swarm register, lose an agent, tune and sweep, in its series', async () => {
    const agents = 6;
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: agents,
      swarmId,
      idPrefix: swarmId,
      heartbeatIntervalMs: 500,
      trainers: digitsTrainers({ agents, alpha: 0.5, seed: 5 }),
    });
    expect(swarm.failed).toEqual([]);
    swarm.agents[0].stopHeartbeats();
    await waitFor('one agent LOST', async () => {
      const page = await stack.api.swarm.listAgents({ swarmId, status: 'LOST', pageSize: 10 });
      return page.agents.length === 1 ? true : undefined;
    }, 30_000, 250);

    const started = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        swarmId,
        model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
        rounds: 3,
        fraction: 1,
        minParticipants: 2,
        roundTimeoutMs: 10_000,
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
        // With central DP, so that the privacy panel has its series.
        privacy: { clipNorm: 5, noiseMultiplier: 0.5, delta: 1e-5 },
        seed: 5,
      }),
    });
    expect(started.status).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    expect(result.status).toBe('COMPLETED');

    for (const [i, agent] of swarm.agents.slice(1).entries()) {
      for (let episode = 0; episode < 4; episode++) {
        const descriptor = Array.from({ length: 16 }, (_, d) => Math.sin(i * 7 + episode * 3 + d));
        await agent.reportBehavior({ episodeId: `e${episode}`, descriptor, fitness: i + episode / 10 });
      }
    }
    const sweep = await fetch(`${stack.api.url}/api/v1/behaviors/sweep`, { method: 'POST', headers: admin, body: JSON.stringify({ swarmId }) });
    expect(sweep.status).toBe(202);

    await waitFor('Prometheus to have scraped the job and the sweep', async () => {
      const rounds = await value(`sum(qp_manager_rounds_total{suite="${suite}",outcome="completed"})`);
      const sweeps = await value(`sum(qp_manager_behavior_sweeps_total{suite="${suite}"})`);
      return rounds >= 3 && sweeps >= 1 ? true : undefined;
    }, 60_000, 500);
    // rate() needs two samples of a series: wait for two more scrapes of the worker.
    const seen = Date.now() / 1000;
    await waitFor('two scrapes after the sweep', async () =>
      (await value(`timestamp(up{suite="${suite}",job="qp-manager-worker"})`)) > seen + 2.5 ? true : undefined,
    );

    expect(await value(`sum(qp_manager_registration_credentials_issued_total{suite="${suite}"})`)).toBeGreaterThanOrEqual(agents);
    expect(await value(`sum(qp_manager_registration_handshake_duration_seconds_count{suite="${suite}"})`)).toBeGreaterThanOrEqual(agents);
    expect(await value(`sum(qp_manager_liveness_transitions_total{suite="${suite}",to="LOST"})`)).toBeGreaterThanOrEqual(1);
    await waitFor('the agents gauge to show the LOST agent of this swarm', async () =>
      (await value(`qp_manager_agents{suite="${suite}",swarm="${swarmId}",status="LOST"}`)) === 1 ? true : undefined,
    );
    expect(await value(`qp_manager_round_accuracy_ratio{suite="${suite}",swarm="${swarmId}"}`)).toBeCloseTo(result.recentRounds.at(-1)!.accuracy!, 6);
    expect(await value(`qp_manager_round_privacy_epsilon{suite="${suite}",swarm="${swarmId}"}`)).toBeCloseTo(result.recentRounds.at(-1)!.epsilon!, 6);
    expect(await value(`sum(qp_manager_round_updates_accepted_total{suite="${suite}"})`)).toBe(
      result.recentRounds.reduce((sum, r) => sum + r.accepted, 0),
    );
    expect(await value(`sum(qp_manager_messaging_published_total{suite="${suite}",channel="inbox"})`)).toBeGreaterThan(0);
    expect(await value(`sum(qp_manager_vector_operation_duration_seconds_count{suite="${suite}"})`)).toBeGreaterThan(0);
    expect(await value(`sum(temporal_workflow_completed{suite="${suite}"})`)).toBeGreaterThan(0);
  }, 180_000);

  it("records a running task's power and the pools' carbon budget, and the carbon alert fires once a task emits more than the budget", async () => {
    // A pool whose energy budget allows 0.01 Wh a day at 10 g/kWh: a budget of 0.0001 g of CO2 a day.
    const policy = {
      minReplicas: 0,
      maxReplicas: 2,
      fallbackReplicas: 0,
      energy: { wattsPerReplica: 10, budgetWh: 0.01, windowSeconds: 86_400 },
      behavior: DEFAULT_BEHAVIOR,
    };
    const put = await fetch(`${stack.api.url}/api/v1/pools/${pool}`, { method: 'PUT', headers: admin, body: JSON.stringify({ policy }) });
    expect(put.status).toBe(200);
    const carbon = await fetch(`${stack.api.url}/api/v1/pools/${pool}/carbon`, { method: 'POST', headers: admin, body: JSON.stringify({ intensity: 10 }) });
    expect(carbon.status).toBe(200);
    await waitFor('the carbon budget in Prometheus', async () => {
      const grams = await value(`qp_manager_carbon_budget_grams{suite="${suite}"}`);
      return Math.abs(grams - 0.0001) < 1e-12 ? true : undefined;
    }, 60_000, 500);

    // Every live agent runs tasks, and holds each until the test lets it finish.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    for (const agent of swarm.agents.slice(1)) await agent.onTask(async () => (await released, { done: true }));
    const taskId = uniqueId('prom-task');
    const submitted = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ taskId, swarmId, kind: 'echo', input: {}, estimatedWork: 5, deadline: 3_600_000 }),
    });
    expect(submitted.status).toBe(202);
    const task = await waitFor('the task on an agent', async () => {
      const t = (await fetch(`${stack.api.url}/api/v1/tasks/${taskId}`, { headers: admin }).then((r) => r.json())) as { status: string; agentId?: string };
      return t.status === 'ASSIGNED' && t.agentId ? t : undefined;
    }, 30_000, 250);
    const agent = (await fetch(`${stack.api.url}/api/v1/swarm/agents/${task.agentId}`, { headers: admin }).then((r) => r.json())) as {
      resources: { energy?: { busyWatts?: number } };
    };
    const busyWatts = agent.resources.energy?.busyWatts ?? DEFAULT_AGENT_POWER.busyWatts;
    await waitFor(`the running task's ${busyWatts} W in Prometheus`, async () =>
      (await value(`qp_manager_task_power_watts{suite="${suite}"}`)) === busyWatts ? true : undefined,
    60_000, 500);

    release();
    const finished = await waitFor('the task SUCCEEDED', async () => {
      const t = (await fetch(`${stack.api.url}/api/v1/tasks/${taskId}`, { headers: admin }).then((r) => r.json())) as { status: string; carbonG?: number };
      return t.status === 'SUCCEEDED' ? t : undefined;
    }, 30_000, 250);
    expect(finished.carbonG).toBeGreaterThan(0.0001);
    await waitFor('the power back to 0 and the carbon emitted in Prometheus', async () => {
      const watts = await value(`qp_manager_task_power_watts{suite="${suite}"}`);
      const grams = await value(`sum(qp_manager_carbon_emitted_grams_total{suite="${suite}"})`);
      return watts === 0 && Math.abs(grams - finished.carbonG!) < 1e-9 ? true : undefined;
    }, 60_000, 500);
    // The shipped alert, on this run's series only: the day's emissions are above the budget.
    const alert = alertExpressions().find((e) => e.source.includes('QpCarbonBudgetExceeded'))!;
    const scoped = alert.expr.replace(/(qp_manager_[a-z_]+)(?=[[)\s])/g, `$1{suite="${suite}"}`);
    await waitFor('QpCarbonBudgetExceeded to fire', async () => ((await promQuery(scoped)).data?.result.length === 1 ? true : undefined), 30_000, 500);
  }, 180_000);

  const shipped = [...alertExpressions(), ...dashboardExpressions()];

  it('ships expressions from the alert rules and the dashboards', () => {
    expect(alertExpressions().length).toBeGreaterThanOrEqual(7);
    expect(dashboardExpressions().length).toBeGreaterThan(40);
  });

  it.each(shipped.map((e) => [e.source, e] as const))('%s parses and has series', async (_source, shippedExpr) => {
    const evaluated = await promQuery(withoutGrafanaMacros(shippedExpr.expr));
    expect({ status: evaluated.status, error: evaluated.error }).toEqual({ status: 'success', error: undefined });
    if (shippedExpr.kind === 'dashboard') {
      expect(evaluated.data!.result.length).toBeGreaterThan(0);
    }
    // An alert's comparison is empty while all is well: each series it selects must exist.
    const names = metricNames(shippedExpr.expr);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const series = await promQuery(`count(${name})`);
      expect({ name, series: series.data?.result.length }).toEqual({ name, series: 1 });
    }
  });
});
