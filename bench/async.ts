// Asynchronous (FedBuff) against synchronous rounds, side by side in one run, on the same swarm.
// The product path: a real Temporal dev server, the embedded worker and REST API; both jobs are
// started over REST and awaited. --agents simulated agents train softmax regression on a
// Dirichlet(--alpha) split of digits; each device takes --fast-ms before training, and --slow of
// them (the last ones) take --slow-ms instead (stragglers).
//   sync:  the synchronous job (FedAvg, every agent every round, the round waits for all of them),
//          --rounds rounds;
//   early: the synchronous job whose rounds close early: stragglers policy "drop" with
//          closeWhen.fraction = the fast agents' share (minParticipants as many), --rounds rounds;
//          the baseline a straggler-aware synchronous job sets for async;
//   async: mode "async", bufferSize --buffer, maxStaleness --max-staleness, FedBuff's 1/sqrt(1+t)
//          discount, --versions model versions (default: as many updates in all as the sync job).
// Both evaluate the global model on the held-out digits after every round / version. Wall time is
// as the workflows measured it (summed round / version durations from the job's start). Figures:
// the wall time each job needs to reach the same target accuracy (--target, default the lower of
// the two jobs' best accuracies: the highest both reach) and its ratio, and each job's accuracy at
// the same wall time (the shorter job's whole run) and their ratio. The default buffer is the
// number of fast agents: every version is announced to every agent, so a smaller buffer than the
// updates each version brings in builds a backlog on the topic and staleness grows with it.
// The early job's figures (early_*) and ratio_async_over_early_* put async beside it as well.
//   npm run bench:async -- [--agents 10] [--slow 2] [--fast-ms 100] [--slow-ms 2000] [--rounds 10]
//                          [--buffer 8] [--max-staleness 8] [--versions 13] [--alpha 0.5] [--target 0.85]
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import type { Trainer } from '../agents/sdk';
import { simulateSwarm } from '../agents/simulate';
import { DIGITS_DIMENSION, digitsTrainers } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { namespace } from '../temporal-config';
import { tuningWorkflowId } from '../workflows/definitions';
import { runOnEmbeddedStack } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const AGENTS = arg('agents', 10);
const SLOW = arg('slow', 2);
const FAST_MS = arg('fast-ms', 100);
const SLOW_MS = arg('slow-ms', 2000);
const ROUNDS = arg('rounds', 10);
const BUFFER = arg('buffer', AGENTS - SLOW);
const MAX_STALENESS = arg('max-staleness', 8);
const VERSIONS = arg('versions', Math.ceil((ROUNDS * AGENTS) / BUFFER));
const ALPHA = arg('alpha', 0.5);
const TARGET = arg('target', Number.NaN);
const TRAINING = { learningRate: 0.1, epochs: 1, batchSize: 32 };

const isSlow = (agent: number) => agent >= AGENTS - SLOW;

/** Accuracy after each round or version, and the wall time (ms since the job started) it was reached at. */
interface Curve {
  points: { atMs: number; accuracy: number }[];
  totalMs: number;
  restToResultMs: number;
}

function curveOf(steps: { durationMs: number; accuracy?: number }[], restToResultMs: number): Curve {
  let atMs = 0;
  const points: Curve['points'] = [];
  for (const step of steps) {
    atMs += step.durationMs;
    if (step.accuracy !== undefined) points.push({ atMs, accuracy: step.accuracy });
  }
  return { points, totalMs: atMs, restToResultMs };
}

/** Wall time (ms) at which the curve first reaches the accuracy, or NaN. */
const timeToReach = (curve: Curve, accuracy: number) => curve.points.find((p) => p.accuracy >= accuracy)?.atMs ?? Number.NaN;
/** The accuracy of the newest model the curve had by this wall time (ms), or NaN. */
const accuracyAt = (curve: Curve, atMs: number) => curve.points.filter((p) => p.atMs <= atMs).at(-1)?.accuracy ?? Number.NaN;

const print = (name: string, value: number, unit = '') =>
  console.log(`${name} ${Number.isInteger(value) ? value : value.toFixed(4)}${unit ? ` ${unit}` : ''}`);

async function main(): Promise<void> {
  const adminToken = randomBytes(24).toString('hex');
  return runOnEmbeddedStack('bench-async', adminToken, async (stack, onStop) => {
    const swarmId = `bench-async-${Date.now()}`;
    const trainers = digitsTrainers({ agents: AGENTS, alpha: ALPHA, seed: 3 }).map(
      (train, agent): Trainer =>
        async (task) => {
          // The device's time for the work; stragglers are slower.
          await new Promise((resolve) => setTimeout(resolve, isSlow(agent) ? SLOW_MS : FAST_MS));
          return train(task);
        },
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
    console.log(
      `# digits, Dirichlet(${ALPHA}) over ${AGENTS} agents; devices take ${FAST_MS} ms, ${SLOW} of them ${SLOW_MS} ms; softmax regression, ` +
        `lr ${TRAINING.learningRate}, ${TRAINING.epochs} epoch, batch ${TRAINING.batchSize}; sync: ${ROUNDS} rounds of every agent; ` +
        `async: ${VERSIONS} versions, bufferSize ${BUFFER}, maxStaleness ${MAX_STALENESS}`,
    );

    const start = async (body: Record<string, unknown>): Promise<{ result: TuningProgress; restToResultMs: number }> => {
      const t0 = performance.now();
      const res = await fetch(`${stack!.api.url}/api/v1/tuning/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ swarmId, model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION }, training: TRAINING, evaluateEvery: 1, seed: 7, ...body }),
      });
      const started = (await res.json()) as { jobId?: string };
      if (res.status !== 202 || !started.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(started)}`);
      const result: TuningProgress = await stack!.client.workflow.getHandle(tuningWorkflowId(started.jobId)).result();
      if (result.status !== 'COMPLETED') throw new Error(`${String(body.mode ?? 'sync')} job ended ${result.status}: ${result.failureReason ?? ''}`);
      return { result, restToResultMs: performance.now() - t0 };
    };

    const syncRun = await start({ rounds: ROUNDS, fraction: 1, minParticipants: AGENTS, roundTimeoutMs: 60_000 });
    const fastAgents = AGENTS - SLOW;
    const earlyRun = await start({
      rounds: ROUNDS,
      fraction: 1,
      minParticipants: fastAgents,
      roundTimeoutMs: 60_000,
      stragglers: { policy: 'drop', closeWhen: { fraction: fastAgents / AGENTS } },
    });
    const asyncRun = await start({ mode: 'async', bufferSize: BUFFER, maxStaleness: MAX_STALENESS, rounds: VERSIONS, fraction: 1, minParticipants: AGENTS });
    const sync = curveOf(syncRun.result.recentRounds, syncRun.restToResultMs);
    const versions = asyncRun.result.recentVersions ?? [];
    const asyncCurve = curveOf(versions, asyncRun.restToResultMs);
    const early = curveOf(earlyRun.result.recentRounds, earlyRun.restToResultMs);

    const best = (curve: Curve) => Math.max(...curve.points.map((p) => p.accuracy));
    const target = Number.isNaN(TARGET) ? Math.min(best(sync), best(asyncCurve), best(early)) : TARGET;
    const syncToTarget = timeToReach(sync, target);
    const asyncToTarget = timeToReach(asyncCurve, target);
    const earlyToTarget = timeToReach(early, target);
    const equalMs = Math.min(sync.totalMs, asyncCurve.totalMs, early.totalMs);
    const earlyAtEqual = accuracyAt(early, equalMs);
    const syncAtEqual = accuracyAt(sync, equalMs);
    const asyncAtEqual = accuracyAt(asyncCurve, equalMs);

    print('target_accuracy', target, 'fraction');
    print('sync_wall_ms_to_target', syncToTarget, 'ms');
    print('async_wall_ms_to_target', asyncToTarget, 'ms');
    print('ratio_async_over_sync_wall_ms_to_target', asyncToTarget / syncToTarget, 'x');
    print('equal_wall_ms', equalMs, 'ms');
    print('sync_accuracy_at_equal_wall', syncAtEqual, 'fraction');
    print('async_accuracy_at_equal_wall', asyncAtEqual, 'fraction');
    print('ratio_async_over_sync_accuracy_at_equal_wall', asyncAtEqual / syncAtEqual, 'x');
    print('early_wall_ms_to_target', earlyToTarget, 'ms');
    print('ratio_async_over_early_wall_ms_to_target', asyncToTarget / earlyToTarget, 'x');
    print('early_accuracy_at_equal_wall', earlyAtEqual, 'fraction');
    print('ratio_async_over_early_accuracy_at_equal_wall', asyncAtEqual / earlyAtEqual, 'x');
    print('early_final_accuracy', early.points.at(-1)?.accuracy ?? Number.NaN, 'fraction');
    print('early_wall_ms_total', early.totalMs, 'ms');
    print('early_updates_aggregated', earlyRun.result.recentRounds.reduce((n, r) => n + r.accepted, 0), 'updates');
    print('sync_final_accuracy', sync.points.at(-1)?.accuracy ?? Number.NaN, 'fraction');
    print('async_final_accuracy', asyncCurve.points.at(-1)?.accuracy ?? Number.NaN, 'fraction');
    print('sync_wall_ms_total', sync.totalMs, 'ms');
    print('async_wall_ms_total', asyncCurve.totalMs, 'ms');
    print('sync_rest_to_result_ms', Math.round(sync.restToResultMs), 'ms');
    print('async_rest_to_result_ms', Math.round(asyncCurve.restToResultMs), 'ms');
    print('sync_updates_aggregated', syncRun.result.recentRounds.reduce((n, r) => n + r.accepted, 0), 'updates');
    print('async_updates_aggregated', versions.reduce((n, v) => n + v.buffered, 0), 'updates');
    print('async_updates_refused_stale', versions.reduce((n, v) => n + v.refusedStale, 0), 'updates');
    print('async_mean_staleness', versions.reduce((n, v) => n + v.meanStaleness, 0) / Math.max(versions.length, 1), 'versions');
    console.log('# sync: round | wall ms | accuracy');
    syncRun.result.recentRounds.forEach((r, i) => console.log(`#   ${r.round} | ${sync.points[i]?.atMs ?? ''} | ${r.accuracy?.toFixed(4) ?? ''}`));
    console.log('# early: round | wall ms | accuracy | closed by');
    earlyRun.result.recentRounds.forEach((r, i) =>
      console.log(`#   ${r.round} | ${early.points[i]?.atMs ?? ''} | ${r.accuracy?.toFixed(4) ?? ''} | ${r.closedBy ?? ''}`),
    );
    console.log('# async: version | wall ms | accuracy | mean staleness | refused stale');
    versions.forEach((v, i) =>
      console.log(`#   ${v.version} | ${asyncCurve.points[i]?.atMs ?? ''} | ${v.accuracy?.toFixed(4) ?? ''} | ${v.meanStaleness.toFixed(2)} | ${v.refusedStale}`),
    );
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
