// Participant selection strategies side by side, in one run, with uniform (Flower's default) as
// the baseline every ratio is taken against.
//   rounds:   a real Temporal dev server, the embedded worker and REST API, --agents simulated agents
//             training softmax regression on a Dirichlet(0.5) split of digits; every --slow-every-th
//             agent takes --slow-ms longer to answer (a slow or busy device). One job per strategy
//             (--rounds rounds of --per-round agents, FedAvg, seed 7), started over REST and awaited;
//             per strategy: mean round wall time as the workflow measured it (select -> evaluate), the
//             share of places that went to slow agents, the mean carbon intensity the chosen agents
//             declared (simulated profiles), and the final held-out accuracy.
//   activity: the selectParticipants activity itself (the listing, the resource filter, the strategy)
//             choosing --pick of --listed agents, median of --repeats calls, in a mock activity context
//             over a directory that answers at once (Oort reads its feedback of 5,000 agents from the blob store).
//   npm run bench:selection -- [--part rounds,activity] [--agents 20] [--per-round 5] [--rounds 10]
//                               [--slow-every 3] [--slow-ms 2000] [--listed 10000] [--pick 100] [--repeats 21]
import { defaultPayloadConverter } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createTuningActivities } from '../activities/tuning';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import type { DirectoryEntry } from '../adapters/ports';
import type { Trainer } from '../agents/sdk';
import { simulateSwarm } from '../agents/simulate';
import { DIGITS_DIMENSION, digitsTrainers } from '../agents/trainers';
import { seededRandom } from '../core/random';
import { SELECTION_STRATEGIES, carbonIntensity, type SelectionStrategy } from '../core/selection';
import type { TuningProgress } from '../core/tuning';
import { namespace } from '../temporal-config';
import { tuningWorkflowId } from '../workflows/definitions';
import { runOnEmbeddedStack } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const partArg = process.argv.indexOf('--part');
const PARTS = partArg > 0 ? process.argv[partArg + 1].split(',') : ['rounds', 'activity'];

const AGENTS = arg('agents', 20);
const PER_ROUND = arg('per-round', 5);
const ROUNDS = arg('rounds', 10);
const SLOW_EVERY = arg('slow-every', 3);
const SLOW_MS = arg('slow-ms', 2000);
const LISTED = arg('listed', 10_000);
const PICK = arg('pick', 100);
const REPEATS = arg('repeats', 21);
const ADMIN_TOKEN = 'bench-selection-admin-token-0123456789';

const isSlow = (i: number) => i % SLOW_EVERY === 0;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const print = (name: string, value: number, unit = '') => console.log(`${name} ${Number.isInteger(value) ? value : value.toFixed(4)}${unit ? ` ${unit}` : ''}`);

async function benchRounds(): Promise<void> {
  return runOnEmbeddedStack('bench-selection', ADMIN_TOKEN, async (stack, onStop) => {
    const swarmId = `bench-selection-${Date.now()}`;
    const trainers = digitsTrainers({ agents: AGENTS, alpha: 0.5, seed: 3 }).map(
      (train, i): Trainer =>
        isSlow(i)
          ? async (task) => {
              await new Promise((resolve) => setTimeout(resolve, SLOW_MS)); // the device is slow
              return train(task);
            }
          : train,
    );
    const swarm = await simulateSwarm({ apiUrl: stack.api.url, messaging: stack.ports.messaging, count: AGENTS, swarmId, idPrefix: swarmId, trainers, heartbeatIntervalMs: 5_000 });
    onStop(() => swarm.stop());
    if (swarm.failed.length > 0) throw new Error(`${swarm.failed.length} registrations failed: ${swarm.failed[0].error}`);
    const directory = new TemporalSwarmRoster(stack.client, namespace, { ttlMs: 0, fullEveryMs: 0 });
    const deadline = Date.now() + 60_000;
    while ((await directory.listActive(swarmId)).length < AGENTS) {
      if (Date.now() > deadline) throw new Error('visibility did not list every agent ACTIVE within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const intensity = new Map((await directory.listActive(swarmId)).map((e) => [e.agentId, carbonIntensity(e.resources?.energy, Date.now())]));
    const slowIds = new Set(Array.from({ length: AGENTS }, (_, i) => i).filter(isSlow).map((i) => `${swarmId}-${String(i).padStart(4, '0')}`));
    console.log(`rounds: ${AGENTS} agents (${slowIds.size} answer ${SLOW_MS} ms late), ${PER_ROUND} a round, ${ROUNDS} rounds, FedAvg, seed 7`);

    const results = new Map<SelectionStrategy, { roundMs: number; slowShare: number; accuracy: number; carbon: number }>();
    for (const selection of SELECTION_STRATEGIES) {
      const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          swarmId,
          model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
          rounds: ROUNDS,
          participantsPerRound: PER_ROUND,
          minParticipants: PER_ROUND,
          roundTimeoutMs: 60_000,
          training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
          evaluateEvery: ROUNDS,
          seed: 7,
          selection,
          // Oort: slower than a second is slow here; the rest are Oort's defaults.
          selectionOptions: selection === 'oort' ? { preferredDurationMs: 1000 } : undefined,
        }),
      });
      const started = (await res.json()) as { jobId?: string };
      if (res.status !== 202 || !started.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(started)}`);
      const handle = stack.client.workflow.getHandle(tuningWorkflowId(started.jobId));
      const result: TuningProgress = await handle.result();
      if (result.status !== 'COMPLETED') throw new Error(`${selection} job ended ${result.status}: ${result.failureReason ?? ''}`);
      let slowPlaces = 0;
      let carbonSum = 0;
      for (const event of (await handle.fetchHistory()).events ?? []) {
        const payload = event.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
        if (!payload) continue;
        const value = defaultPayloadConverter.fromPayload<{ participants?: unknown } | undefined>(payload);
        if (value && typeof value === 'object' && Array.isArray(value.participants)) {
          slowPlaces += value.participants.filter((id) => slowIds.has(String(id))).length;
          for (const id of value.participants) carbonSum += intensity.get(String(id)) ?? 0;
        }
      }
      results.set(selection, {
        roundMs: result.recentRounds.reduce((sum, r) => sum + r.durationMs, 0) / result.recentRounds.length,
        slowShare: slowPlaces / (ROUNDS * PER_ROUND),
        accuracy: result.recentRounds.at(-1)?.accuracy ?? Number.NaN,
        carbon: carbonSum / (ROUNDS * PER_ROUND),
      });
    }
    const baseline = results.get('uniform')!;
    for (const [selection, figures] of results) {
      print(`rounds.${selection}.round_ms_mean`, figures.roundMs, 'ms');
      print(`rounds.${selection}.round_ms_vs_uniform`, figures.roundMs / baseline.roundMs);
      print(`rounds.${selection}.slow_share_of_places`, figures.slowShare);
      print(`rounds.${selection}.carbon_g_per_kwh_mean_of_places`, figures.carbon, 'gCO2/kWh');
      print(`rounds.${selection}.carbon_vs_uniform`, figures.carbon / baseline.carbon);
      print(`rounds.${selection}.final_accuracy`, figures.accuracy);
      print(`rounds.${selection}.final_accuracy_vs_uniform`, figures.accuracy / baseline.accuracy);
    }
  });
}

async function benchActivity(): Promise<void> {
  const random = seededRandom(5);
  const sources = ['grid', 'solar', 'wind', 'battery'] as const;
  const listing: DirectoryEntry[] = Array.from({ length: LISTED }, (_, i) => ({
    agentId: `agent-${String(i).padStart(6, '0')}`,
    resources: {
      cpu: 1 + Math.floor(random() * 8),
      memoryMb: 1024,
      energy: { source: sources[i % 4], carbonGPerKWh: Math.round(random() * 500) },
    },
  }));
  const lastParticipation = Object.fromEntries(listing.filter((_, i) => i % 2 === 0).map((e, i) => [e.agentId, 1 + (i % 9)]));
  const feedback = Object.fromEntries(
    listing.filter((_, i) => i % 2 === 0).map((e, i) => [e.agentId, { round: 1 + (i % 9), utility: random() * 100, durationMs: 200 + random() * 4000 }]),
  );
  const blobs = new MemoryBlobStore();
  const feedbackDigest = await blobs.put(Buffer.from(JSON.stringify(feedback), 'utf8'));
  const activities = createTuningActivities({
    messaging: new MemoryMessaging(),
    blobs,
    directory: { listActive: async () => listing },
    evaluator: { evaluate: async () => undefined },
    agentKeys: { publicKey: async () => undefined },
    credentialSecret: 'bench-selection-secret-0123456789abcdef',
  });
  const environment = new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR') });
  console.log(`activity: selectParticipants choosing ${PICK} of ${LISTED} listed agents, median of ${REPEATS}`);
  const medians = new Map<SelectionStrategy, number>();
  for (const strategy of SELECTION_STRATEGIES) {
    const times: number[] = [];
    // Round 9 warms the code path up and is not timed.
    for (let round = 9; round < 10 + REPEATS; round++) {
      const t0 = performance.now();
      await environment.run(activities.selectParticipants, {
        swarmId: 'bench',
        count: PICK,
        minParticipants: 1,
        lastParticipation,
        exclude: [],
        seed: 7,
        round,
        attempt: 1,
        strategy,
        feedbackDigest: strategy === 'oort' ? feedbackDigest : undefined,
        atMs: 0,
        preferLowCarbon: true,
      });
      if (round >= 10) times.push(performance.now() - t0);
    }
    medians.set(strategy, median(times));
  }
  // longest-waiting is the selection every job ran before strategies existed.
  const baseline = medians.get('longest-waiting')!;
  for (const [strategy, ms] of medians) {
    print(`activity.${strategy}.ms_median`, ms, 'ms');
    print(`activity.${strategy}.vs_longest_waiting`, ms / baseline);
  }
}

async function main(): Promise<void> {
  if (PARTS.includes('activity')) await benchActivity();
  if (PARTS.includes('rounds')) await benchRounds();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
