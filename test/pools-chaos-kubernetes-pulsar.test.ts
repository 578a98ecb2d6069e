// Chaos for the autoscaling pools family on a real control plane: a pool's Schedule scales its
// Deployment on the backlog of a Pulsar topic, then a carbon band caps it, once undisturbed and once
// while the worker process (QP_CLUSTER=kubernetes, its own KUBECONFIG) is SIGKILLed at seeded moments
// and started again. The disturbed pool must end as the undisturbed one: the same Deployment replicas
// and Running pods, the same sequence of desired replicas in its record, and no decision recorded
// twice (a recordScaling retried after its completion was lost brings the same decision again).
// The same again while a Temporal dev server of the suite's own is stopped (SIGTERM) and crashed
// (SIGKILL) and started on its SQLite file: the Schedule and the pool's record outlive it.
// And while a Pulsar broker of the suite's own restarts as the pool scales up: the backlog reads
// that fail meanwhile fall back to the policy's fallback replicas, and the pool ends the same.
import { ScheduleNotFoundError } from '@temporalio/client';
import { createAutoscalingActivities } from '../activities/autoscaling';
import { KubernetesCluster } from '../adapters/kubernetes/cluster';
import { TemporalPoolStore } from '../adapters/temporal/pool-store';
import type { PoolView } from '../api/pool-service';
import type { ScalingDecision } from '../core/autoscaling';
import { seededRandom } from '../core/random';
import { agentPoolWorkflowId, autoscaleScheduleId, recordScalingUpdate } from '../workflows/definitions';
import { DedicatedTemporal } from './support/dedicated-temporal';
import { removeExtraBrokers, startExtraBroker, type ExtraBroker } from './support/pulsar';
import { TestKubernetes, requireTestKubeconfig } from './support/kubernetes';
import { uniqueId, waitFor } from './support/stack';
import { WorkerChaosStack } from './support/worker-chaos';

const BACKLOG = 30;
const policy = {
  minReplicas: 0,
  maxReplicas: 6,
  // A missing backlog (a slow broker admin under load) asks for what the backlog asks for: the same decisions.
  fallbackReplicas: 3,
  backlog: { targetPerReplica: 10, activationThreshold: 0 },
  carbon: { bands: [{ maxIntensity: 300, maxReplicas: 6 }, { maxIntensity: 10_000, maxReplicas: 1 }] },
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  },
};
const SCALED_UP = 3;
const CAPPED = 1;
/** Generous: the worker restarts (tsx, the workflow bundle) and a retried activity waits out its 30 s timeout, on a loaded machine. */
const PHASE_TIMEOUT_MS = 600_000;

interface PoolOutcome {
  /** The desired replicas of the recorded decisions, consecutive repeats collapsed. */
  changes: number[];
  /** Decisions seen in the record over the run (by id). */
  decisions: number;
  /** Ids (or, without an id, times) present more than once in one reading of the record. */
  duplicates: string[];
  /** Decisions read without an id. */
  withoutId: number;
  replicas: { desired: number; ready: number } | undefined;
  running: number;
}

/** One worker process (QP_CLUSTER=kubernetes) and the API on a namespace of its own, and the pools it ran. */
class PoolChaos {
  kube!: TestKubernetes;
  namespace!: string;
  cluster!: KubernetesCluster;
  stack!: WorkerChaosStack;
  readonly pools: string[] = [];

  constructor(private readonly name: string) {}

  async start(temporalAddress?: string, broker?: { serviceUrl: string; adminUrl: string; webSocketUrl: string }): Promise<void> {
    this.kube = await TestKubernetes.connect();
    this.namespace = await this.kube.namespace(this.name);
    this.cluster = await KubernetesCluster.create({ kubeConfig: this.kube.kubeConfig, namespace: this.namespace, agentImage: 'qp-manager/agent:test' });
    this.stack = new WorkerChaosStack(
      this.name,
      {
        QP_CLUSTER: 'kubernetes',
        KUBECONFIG: requireTestKubeconfig(),
        QP_KUBE_NAMESPACE: this.namespace,
        QP_AGENT_IMAGE: 'qp-manager/agent:test',
        QP_AUTOSCALE_INTERVAL_S: '1',
      },
      this.cluster,
    );
    await this.stack.start(temporalAddress, broker);
  }

  async close(): Promise<void> {
    for (const pool of this.pools) {
      await this.stack?.client?.schedule
        .getHandle(autoscaleScheduleId(pool))
        .delete()
        .catch((error) => {
          if (!(error instanceof ScheduleNotFoundError)) throw error;
        });
      await this.stack?.client?.workflow.getHandle(agentPoolWorkflowId(pool)).terminate('test finished').catch(() => undefined);
    }
    await this.stack?.close();
    await this.kube?.deleteNamespaces();
  }

  /**
   * An admin call, repeated while the API answers 503 (no worker took the update in time: one was just
   * killed and its successor still starts); both calls used here set a value, so a repeat changes nothing.
   */
  private async callUntilAnswered(method: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    for (;;) {
      const answer = await this.stack.call(method, path, body);
      if (answer.status !== 503 || Date.now() > deadline) return answer;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }

  private async poolView(pool: string): Promise<PoolView> {
    const { status, body } = await this.stack.call('GET', `/api/v1/pools/${pool}`);
    if (status !== 200) throw new Error(`GET pool ${pool}: ${status} ${JSON.stringify(body)}`);
    return body as PoolView;
  }

  /** Reads the pool's record every 300 ms: every decision it held, and any held twice in one reading. */
  private watchDecisions(pool: string) {
    const seen = new Map<string, ScalingDecision>();
    const duplicates = new Set<string>();
    let withoutId = 0;
    let stopped = false;
    const read = async () => {
      // While the worker (or Temporal) is down the record cannot be read: the next reading catches up.
      const decisions = (await this.poolView(pool).catch(() => undefined))?.autoscaling?.decisions ?? [];
      const keys = decisions.map((d) => d.id ?? `at ${d.at}`);
      keys.forEach((key, i) => {
        if (keys.indexOf(key) !== i) duplicates.add(key);
        if (!seen.has(key)) {
          seen.set(key, decisions[i]);
          if (decisions[i].id === undefined) withoutId++;
        }
      });
    };
    const loop = (async () => {
      while (!stopped) {
        await read();
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await read();
    })();
    const ordered = () => [...seen.values()].sort((a, b) => a.at - b.at);
    return {
      ordered,
      async stop() {
        stopped = true;
        await loop;
        return { ordered: ordered(), duplicates: [...duplicates], withoutId };
      },
    };
  }

  private async recordedDecisionFor(pool: string, watch: ReturnType<PoolChaos['watchDecisions']>, replicas: number, after = 0): Promise<ScalingDecision> {
    return waitFor(
      `a recorded decision of pool ${pool} for ${replicas} replicas`,
      async () => watch.ordered().find((d) => d.desiredReplicas === replicas && d.at > after),
      PHASE_TIMEOUT_MS,
      500,
    );
  }

  private async runningPods(pool: string, count: number): Promise<void> {
    await waitFor(
      `${count} running pods of pool ${pool}`,
      async () => ((await this.kube.runningPods(this.namespace, pool)) === count ? true : undefined),
      PHASE_TIMEOUT_MS,
      500,
    );
  }

  /**
   * One pool's run: 30 messages wait on its topic, PUT the policy (the Schedule scales it to 3), then a carbon
   * intensity in the 1-replica band caps it. `disturb(phase)` runs beside each phase and is awaited before it ends.
   */
  async runPool(label: string, disturb: (phase: Phase) => Promise<unknown> = async () => undefined): Promise<PoolOutcome> {
    const { stack } = this;
    const pool = uniqueId(label).toLowerCase();
    this.pools.push(pool);
    const backlogTopic = `swarm/${pool}/tasks`;
    const work = await stack.agentMessaging.subscribe(backlogTopic, 'workers', { type: 'shared' });
    for (let i = 0; i < BACKLOG; i++) await stack.agentMessaging.publish(backlogTopic, Buffer.from(`task ${i}`));
    const watch = this.watchDecisions(pool);
    let watched: Awaited<ReturnType<typeof watch.stop>>;
    try {
      const put = await this.callUntilAnswered('PUT', `/api/v1/pools/${pool}`, { policy, backlogTopic });
      expect({ status: put.status, body: put.body }).toMatchObject({ status: 200 });
      const scaleUp = disturb('scale up');
      await this.runningPods(pool, SCALED_UP);
      await this.recordedDecisionFor(pool, watch, SCALED_UP);
      await scaleUp;

      const carbon = await this.callUntilAnswered('POST', `/api/v1/pools/${pool}/carbon`, { intensity: 450 });
      expect({ status: carbon.status, body: carbon.body }).toMatchObject({ status: 200 });
      const cap = disturb('carbon cap');
      await this.runningPods(pool, CAPPED);
      await this.recordedDecisionFor(pool, watch, CAPPED);
      await cap;
      // Settled: a decision made after the last disturbance.
      await this.recordedDecisionFor(pool, watch, CAPPED, Date.now());
    } finally {
      watched = await watch.stop();
      await work.close();
    }
    const changes = watched.ordered.map((d) => d.desiredReplicas).filter((replicas, i, all) => i === 0 || all[i - 1] !== replicas);
    return {
      changes,
      decisions: watched.ordered.length,
      duplicates: watched.duplicates,
      withoutId: watched.withoutId,
      replicas: await this.cluster.getPool(pool).then((p) => (p ? { desired: p.desired, ready: p.ready } : undefined)),
      running: await this.kube.runningPods(this.namespace, pool),
    };
  }
}

type Phase = 'scale up' | 'carbon cap';

/** The same workload undisturbed, ran once by whichever describe comes first. */
let undisturbed: PoolOutcome | undefined;
async function undisturbedRun(chaos: PoolChaos): Promise<PoolOutcome> {
  undisturbed ??= await chaos.runPool('calm');
  expect(undisturbed).toMatchObject({ changes: [SCALED_UP, CAPPED], duplicates: [], withoutId: 0, replicas: { desired: CAPPED }, running: CAPPED });
  return undisturbed;
}

function expectAsUndisturbed(stormy: PoolOutcome, calm: PoolOutcome): void {
  expect(stormy.changes).toEqual(calm.changes);
  expect(stormy.duplicates).toEqual([]);
  expect(stormy.withoutId).toBe(0);
  expect(stormy.replicas).toEqual(calm.replicas);
  expect(stormy.running).toBe(calm.running);
}

describe('autoscaling pools while the worker is killed', () => {
  const chaos = new PoolChaos('pools-chaos');

  beforeAll(() => chaos.start(), 300_000);
  afterAll(() => chaos.close(), 120_000);

  it('scales on backlog and caps on carbon as an undisturbed run does, recording each decision once', async () => {
    const calm = await undisturbedRun(chaos);
    const random = seededRandom(20261201);
    const killsPerPhase = { 'scale up': 2, 'carbon cap': 1 } as const;
    const pauses: number[] = [];
    const stormy = await chaos.runPool('storm', async (phase) => {
      pauses.push(...(await chaos.stack.killAtSeededMoments(random, killsPerPhase[phase], 1000, 9000)));
    });

    expectAsUndisturbed(stormy, calm);
    expect(chaos.stack.kills).toBe(3);
    console.log(
      `pool chaos: ${chaos.stack.kills} worker kills (after ${pauses.join(', ')} ms), ` +
        `${stormy.decisions} decisions recorded once each (undisturbed: ${calm.decisions}), desired replicas ${stormy.changes.join(' -> ')} as undisturbed, ` +
        `${stormy.replicas?.desired} replicas and ${stormy.running} running pods as undisturbed`,
    );
  }, 1_800_000);

  it('keeps a decision once when its recordScaling activity runs again', async () => {
    const { stack, cluster } = chaos;
    const pool = chaos.pools[0];
    const store = new TemporalPoolStore(stack.client);
    const record = await store.get(pool);
    const decision = record!.decisions.at(-1)!;
    expect(decision.id).toBeDefined();
    const activities = createAutoscalingActivities({ cluster, messaging: stack.agentMessaging, pools: store });
    // The retry a lost completion causes: the same input again.
    await activities.recordScaling({ pool, decision, scaling: record!.scaling, energy: record!.energy });
    // And without the update id the server deduplicates by: the pool's workflow keeps it once by the decision's id.
    await stack.client.workflow
      .getHandle(agentPoolWorkflowId(pool))
      .executeUpdate(recordScalingUpdate, { args: [{ decision, scaling: record!.scaling, energy: record!.energy }] });
    const after = await store.get(pool);
    expect(after!.decisions.filter((d) => d.id === decision.id)).toHaveLength(1);
  }, 300_000);
});

describe('autoscaling pools while their Temporal dev server restarts on its SQLite file', () => {
  const temporal = new DedicatedTemporal();
  const chaos = new PoolChaos('pools-restart');

  beforeAll(async () => {
    await temporal.start();
    await chaos.start(temporal.address);
  }, 300_000);
  afterAll(async () => {
    await chaos.close();
    await temporal.remove();
  }, 120_000);

  it('ends as an undisturbed run, recording each decision once', async () => {
    const calm = await undisturbedRun(chaos);
    const random = seededRandom(20261202);
    // A clean stop while it scales up, a crash while the carbon cap brings it down.
    const signals = { 'scale up': 'SIGTERM', 'carbon cap': 'SIGKILL' } as const;
    const pauses: number[] = [];
    const stormy = await chaos.runPool('storm', async (phase) => {
      const pauseMs = Math.round(1000 + random() * 5000);
      pauses.push(pauseMs);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await temporal.restart(signals[phase]);
    });

    expectAsUndisturbed(stormy, calm);
    console.log(
      `pool temporal restart chaos: ${temporal.restarts} restarts on the same SQLite file (SIGTERM, SIGKILL, after ${pauses.join(', ')} ms), ` +
        `${stormy.decisions} decisions recorded once each, desired replicas ${stormy.changes.join(' -> ')}, ` +
        `${stormy.replicas?.desired} replicas and ${stormy.running} running pods as undisturbed`,
    );
  }, 1_800_000);
});

describe('autoscaling pools while their Pulsar broker restarts', () => {
  let broker: ExtraBroker;
  const chaos = new PoolChaos('pools-broker');

  beforeAll(async () => {
    broker = await startExtraBroker('pools-restart');
    await chaos.start(undefined, { serviceUrl: `pulsar://127.0.0.1:${broker.brokerPort}`, adminUrl: broker.adminUrl, webSocketUrl: broker.webSocketUrl });
  }, 360_000);
  afterAll(async () => {
    await chaos.close();
    await removeExtraBrokers();
  }, 120_000);

  it('ends as an undisturbed run: backlog reads fall back while the broker is away, each decision recorded once', async () => {
    const calm = await undisturbedRun(chaos);
    const random = seededRandom(20261203);
    const timings: string[] = [];
    const stormy = await chaos.runPool('storm', async (phase) => {
      if (phase !== 'scale up') return;
      const pauseMs = Math.round(500 + random() * 2000);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const stopMs = await broker.stop();
      const startMs = await broker.start();
      timings.push(`${pauseMs} ms into the scale-up (stop ${stopMs} ms, start ${startMs} ms)`);
    });

    expectAsUndisturbed(stormy, calm);
    console.log(
      `pool broker restart chaos: 1 restart ${timings.join(', ')}, ${stormy.decisions} decisions recorded once each, ` +
        `desired replicas ${stormy.changes.join(' -> ')}, ${stormy.replicas?.desired} replicas and ${stormy.running} running pods as undisturbed`,
    );
  }, 1_800_000);
});
