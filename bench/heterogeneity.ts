// A heterogeneous swarm, ours beside Flower's in one run on the same data and partition: most
// agents finish only part of their local steps within the round's time budget, one never
// reports. Strategies: FedAvg dropping partial work (once waiting out the deadline, once closing
// at a cutoff), FedProx keeping partial work, FedNova keeping it and normalising by steps.
//   ours:   the product path — embedded worker + REST API + simulated agents (agents/sdk.ts:
//           the job's time budget stops each agent's trainer, which reports the steps it
//           completed in its signed update header; the job's straggler policy drops or keeps them).
//           Agents run on devices of different speeds (a delay after each local step).
//   Flower: flwr's FedAvg / FedProx strategies (and FedNova as Flower's baseline writes it, a
//           FedAvg subclass normalising by the steps clients report) driven by flwr's server loop
//           (run_fl); each client runs exactly the steps our agent completed in the same round
//           of the same job (the partial-work emulation of Flower's FedProx baseline, with our
//           measured schedule instead of random epochs); a partial client under "drop" and the
//           silent one fail their fit, which FedAvg(accept_failures=True) leaves out.
// Both sides read the same features, labels, shards and test indices, exported into a temporary
// directory, and train the same softmax regression (core/models/softmax.ts ported to numpy).
//   npm run bench:heterogeneity -- [--rounds 8] [--agents 10] [--seed 1]
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { digitsSplit } from '../adapters/datasets/digits';
import type { Trainer } from '../agents/sdk';
import { simulateSwarm } from '../agents/simulate';
import { DIGITS_DIMENSION, digitsShards, digitsTrainers } from '../agents/trainers';
import type { TuningProgress } from '../core/tuning';
import { namespace } from '../temporal-config';
import { tuningWorkflowId } from '../workflows/definitions';
import {
  ensureFlower,
  exportDigitsForFlower,
  FLWR_VERSION,
  LOCAL_CLIENT_PROXY_PY,
  runFlowerScript,
  SOFTMAX_PROBABILITIES_PY,
} from './support/flower';
import { runOnEmbeddedStack } from './support/temporal';

Runtime.install({ logger: new DefaultLogger('WARN') });

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const AGENTS = arg('agents', 10);
const ROUNDS = arg('rounds', 8);
const SPLIT_SEED = arg('seed', 1);
const ALPHA = 0.5;
const LEARNING_RATE = 0.1;
const BATCH_SIZE = 32;
const LOCAL_STEPS = 20;
const TIME_BUDGET_MS = 500;
const ROUND_TIMEOUT_MS = 2_000;
const CUTOFF_MS = 800;
const PROXIMAL_MU = 0.01;
/** Both sides aggregate the same completed steps: accuracy per round must agree this closely. */
const MAX_ACCURACY_DIFF = 0.01;
/** Agents 0 and 1 run at full speed; the last never reports; the others wait after each step. */
const FULL_SPEED = 2;
const stepDelayMs = (agent: number): number => (agent < FULL_SPEED ? 0 : 40 + 12 * (agent - FULL_SPEED));
const silent = (agent: number): boolean => agent === AGENTS - 1;

interface Variant {
  key: string;
  strategy: 'fedavg' | 'fedprox' | 'fednova';
  policy: 'drop' | 'accept-partial';
  closeWhen?: { fraction?: number; afterMs?: number };
}

const VARIANTS: Variant[] = [
  { key: 'fedavg_drop_deadline', strategy: 'fedavg', policy: 'drop' },
  { key: 'fedavg_drop_cutoff', strategy: 'fedavg', policy: 'drop', closeWhen: { afterMs: CUTOFF_MS } },
  { key: 'fedprox_partial', strategy: 'fedprox', policy: 'accept-partial', closeWhen: { fraction: (AGENTS - 1) / AGENTS } },
  { key: 'fednova_partial', strategy: 'fednova', policy: 'accept-partial', closeWhen: { fraction: (AGENTS - 1) / AGENTS } },
];

const FLOWER_MODULE = String.raw`
"""Flower side of bench/heterogeneity.ts (generated there; do not edit)."""
import json, logging, os, sys, time
import numpy as np
import flwr
from flwr.client import NumPyClient
from flwr.common import DisconnectRes, ndarrays_to_parameters, parameters_to_ndarrays, FitIns
from flwr.server import ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.server import Server, run_fl
from flwr.server.strategy import FedAvg, FedProx

d = os.environ["QP_BENCH_DATA"]
with open(os.path.join(d, "digits.json")) as f:
    META = json.load(f)
X = np.fromfile(os.path.join(d, "features.f32"), dtype="<f4").reshape(-1, META["featureCount"]).astype(np.float64)
Y = np.fromfile(os.path.join(d, "labels.u8"), dtype=np.uint8).astype(np.int64)
SHARDS = [np.asarray(s, dtype=np.int64) for s in META["shards"]]
TEST = np.asarray(META["test"], dtype=np.int64)
CFG = META["config"]

${SOFTMAX_PROBABILITIES_PY}

def train_steps(W32, b32, examples, steps, mu):
    """core/models/softmax.ts SoftmaxTraining: batches in order, wrapping, for the given steps."""
    W = W32.astype(np.float64)
    b = b32.astype(np.float64)
    W0, b0 = W.copy(), b.copy()
    lr, bs = CFG["learningRate"], CFG["batchSize"]
    start = 0
    for _ in range(steps):
        batch = examples[start:start + bs]
        Xb = X[batch]
        delta = probabilities(W, b, Xb)
        delta[np.arange(len(batch)), Y[batch]] -= 1.0
        scale = lr / len(batch)
        W -= scale * (delta.T @ Xb) + lr * mu * (W - W0)
        b -= scale * delta.sum(axis=0) + lr * mu * (b - b0)
        start += len(batch)
        if start >= len(examples):
            start = 0
    return W.astype(np.float32), b.astype(np.float32)


def accuracy(W32, b32):
    p = probabilities(W32.astype(np.float64), b32.astype(np.float64), X[TEST])
    return float((p.argmax(axis=1) == Y[TEST]).mean())


class Straggler(Exception):
    pass


class HeteroClient(NumPyClient):
    def __init__(self, cid, variant):
        self.cid = cid
        self.variant = variant

    def fit(self, parameters, config):
        steps = META["schedule"][self.variant["key"]][int(config["round"]) - 1][self.cid]
        if steps is None:
            raise Straggler("never reported")
        if self.variant["policy"] == "drop" and steps < CFG["localSteps"]:
            raise Straggler("partial work dropped")
        W, b = train_steps(parameters[0], parameters[1], SHARDS[self.cid], steps, float(config.get("proximal_mu", 0.0)))
        return [W, b], int(len(SHARDS[self.cid])), {"steps": int(steps)}


class FedNova(FedAvg):
    """FedNova with vanilla local SGD (Wang et al. 2020), as Flower's FedNova baseline aggregates."""

    def __init__(self, initial, **kwargs):
        super().__init__(initial_parameters=ndarrays_to_parameters(initial), **kwargs)
        self.current = [a.astype(np.float64) for a in initial]

    def aggregate_fit(self, server_round, results, failures):
        n = np.array([fit.num_examples for _, fit in results], dtype=np.float64)
        tau = np.array([fit.metrics["steps"] for _, fit in results], dtype=np.float64)
        p = n / n.sum()
        tau_eff = float((p * tau).sum())
        new = []
        for layer, g in enumerate(self.current):
            d = sum(p[k] * (parameters_to_ndarrays(fit.parameters)[layer].astype(np.float64) - g) / tau[k]
                    for k, (_, fit) in enumerate(results))
            new.append(g + tau_eff * d)
        self.current = new
        return ndarrays_to_parameters([a.astype(np.float32) for a in new]), {}

${LOCAL_CLIENT_PROXY_PY}

def run(variant):
    n = len(SHARDS)
    record = {"accuracy": {}, "roundSeconds": {}}
    initial = [np.zeros((META["classCount"], META["featureCount"]), np.float32), np.zeros(META["classCount"], np.float32)]
    marks = {"t": time.perf_counter()}

    def evaluate_fn(server_round, ndarrays, config):
        if server_round > 0:
            record["accuracy"][server_round] = accuracy(ndarrays[0], ndarrays[1])
            now = time.perf_counter()
            record["roundSeconds"][server_round] = now - marks["t"]
            marks["t"] = now
        return 0.0, {}

    def fit_config(server_round):
        marks["t"] = time.perf_counter()
        return {"round": server_round}

    common = dict(
        fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n, min_evaluate_clients=1, min_available_clients=n,
        evaluate_fn=evaluate_fn, on_fit_config_fn=fit_config, accept_failures=True,
    )
    if variant["strategy"] == "fednova":
        strategy = FedNova(initial, **common)
    elif variant["strategy"] == "fedprox":
        strategy = FedProx(proximal_mu=CFG["proximalMu"], initial_parameters=ndarrays_to_parameters(initial), **common)
    else:
        strategy = FedAvg(initial_parameters=ndarrays_to_parameters(initial), **common)
    manager = SimpleClientManager()
    for i in range(n):
        manager.register(LocalClientProxy(str(i), HeteroClient(i, variant).to_client()))
    run_fl(Server(client_manager=manager, strategy=strategy), ServerConfig(num_rounds=CFG["rounds"]))
    return record


def main():
    logging.getLogger("flwr").setLevel(logging.ERROR)
    out = {"flwr": flwr.__version__, "numpy": np.__version__}
    for variant in META["variants"]:
        out[variant["key"]] = run(variant)
    print("QP_RESULT " + json.dumps(out))


main()
`;

interface OursRecord {
  accuracy: number[];
  roundMs: number[];
  partial: number[];
  dropped: number[];
  closedBy: string[];
  /** Steps each agent completed, per round (null: it sent nothing). */
  schedule: (number | null)[][];
}

async function runOurs(adminToken: string): Promise<Record<string, OursRecord>> {
  return runOnEmbeddedStack('bench-heterogeneity', adminToken, async (stack, onStop) => {
    const swarmId = `bench-hetero-${Date.now()}`;
    // The steps each agent completed, per job and round, as its trainer returned them.
    const completed = new Map<string, (number | null)[]>();
    const trainers = digitsTrainers({ agents: AGENTS, alpha: ALPHA, seed: SPLIT_SEED, stepDelayMs }).map(
      (train, agent): Trainer =>
        async (task) => {
          const key = `${task.jobId}/${task.round}`;
          if (!completed.has(key)) completed.set(key, Array.from({ length: AGENTS }, () => null));
          if (silent(agent)) return undefined;
          const result = await train(task);
          completed.get(key)![agent] = result?.stepsCompleted ?? null;
          return result;
        },
    );
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: AGENTS,
      swarmId,
      idPrefix: swarmId,
      trainers,
      heartbeatIntervalMs: 5_000,
    });
    onStop(() => swarm.stop());
    if (swarm.failed.length > 0) throw new Error(`${swarm.failed.length} registrations failed: ${swarm.failed[0].error}`);
    const directory = new TemporalSwarmRoster(stack.client, namespace, { ttlMs: 0, fullEveryMs: 0 });
    const deadline = Date.now() + 60_000;
    while ((await directory.listActive(swarmId)).length < AGENTS) {
      if (Date.now() > deadline) throw new Error('visibility did not list every agent ACTIVE within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    const out: Record<string, OursRecord> = {};
    for (const variant of VARIANTS) {
      const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          swarmId,
          model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
          rounds: ROUNDS,
          fraction: 1,
          minParticipants: FULL_SPEED,
          roundTimeoutMs: ROUND_TIMEOUT_MS,
          strategy: variant.strategy,
          strategyOptions: variant.strategy === 'fedprox' ? { proximalMu: PROXIMAL_MU } : {},
          training: { learningRate: LEARNING_RATE, batchSize: BATCH_SIZE, localSteps: LOCAL_STEPS, timeBudgetMs: TIME_BUDGET_MS },
          stragglers: { policy: variant.policy, ...(variant.closeWhen ? { closeWhen: variant.closeWhen } : {}) },
          evaluateEvery: 1,
          seed: 7,
        }),
      });
      const started = (await res.json()) as { jobId?: string };
      if (res.status !== 202 || !started.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(started)}`);
      const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(started.jobId)).result();
      if (result.status !== 'COMPLETED') throw new Error(`${variant.key} ended ${result.status}: ${result.failureReason ?? ''}`);
      const rounds = result.recentRounds;
      for (const round of rounds) {
        if (round.attempts !== 1) throw new Error(`${variant.key} round ${round.round} took ${round.attempts} attempts`);
      }
      out[variant.key] = {
        accuracy: rounds.map((r) => r.accuracy ?? Number.NaN),
        roundMs: rounds.map((r) => r.durationMs),
        partial: rounds.map((r) => r.partial ?? 0),
        dropped: rounds.map((r) => r.dropped ?? 0),
        closedBy: rounds.map((r) => r.closedBy ?? '?'),
        schedule: rounds.map((r) => completed.get(`${started.jobId}/${r.round}`) ?? []),
      };
    }
    return out;
  });
}

interface FlowerRecord {
  accuracy: Record<string, number>;
  roundSeconds: Record<string, number>;
}

function runFlower(dir: string, shards: number[][], ours: Record<string, OursRecord>): { flwr: string; numpy: string } & Record<string, FlowerRecord> {
  exportDigitsForFlower(dir, {
    shards,
    test: digitsSplit().test,
    config: { rounds: ROUNDS, learningRate: LEARNING_RATE, batchSize: BATCH_SIZE, localSteps: LOCAL_STEPS, proximalMu: PROXIMAL_MU },
    variants: VARIANTS,
    schedule: Object.fromEntries(VARIANTS.map((v) => [v.key, ours[v.key].schedule])),
  });
  writeFileSync(join(dir, 'flower_hetero.py'), FLOWER_MODULE);
  ensureFlower();
  return runFlowerScript('import runpy, sys; runpy.run_path(sys.argv[1])', [join(dir, 'flower_hetero.py')], {
    timeoutMs: 10 * 60_000,
    env: { QP_BENCH_DATA: dir },
  });
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qp-bench-hetero-'));
  try {
    const shards = digitsShards({ agents: AGENTS, alpha: ALPHA, seed: SPLIT_SEED });
    console.log(
      `# digits, Dirichlet(${ALPHA}) over ${AGENTS} agents (split seed ${SPLIT_SEED}), every agent every round, ${ROUNDS} rounds; ` +
        `softmax regression, lr ${LEARNING_RATE}, batch ${BATCH_SIZE}, ${LOCAL_STEPS} local steps planned, time budget ${TIME_BUDGET_MS} ms, ` +
        `round deadline ${ROUND_TIMEOUT_MS} ms; FedProx mu ${PROXIMAL_MU}`,
    );
    console.log(
      `# devices: agents 0..${FULL_SPEED - 1} full speed, agents ${FULL_SPEED}..${AGENTS - 2} wait ${stepDelayMs(FULL_SPEED)}..${stepDelayMs(AGENTS - 2)} ms after each step, agent ${AGENTS - 1} never reports`,
    );
    const t0 = performance.now();
    const ours = await runOurs(randomBytes(24).toString('hex'));
    const oursSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const flower = runFlower(dir, shards, ours);
    const flowerSeconds = (performance.now() - t1) / 1000;

    for (const v of VARIANTS) {
      for (let r = 1; r <= ROUNDS; r++) {
        console.log(`ours_${v.key}_round_${r}_accuracy ${ours[v.key].accuracy[r - 1].toFixed(4)} fraction`);
        console.log(`flower_${v.key}_round_${r}_accuracy ${flower[v.key].accuracy[String(r)].toFixed(4)} fraction`);
      }
    }
    let worst = 0;
    for (const v of VARIANTS) {
      let diff = 0;
      for (let r = 1; r <= ROUNDS; r++) diff = Math.max(diff, Math.abs(ours[v.key].accuracy[r - 1] - flower[v.key].accuracy[String(r)]));
      console.log(`max_abs_diff_${v.key} ${diff.toFixed(4)} fraction`);
      worst = Math.max(worst, diff);
    }
    for (const v of VARIANTS) {
      const a = ours[v.key].accuracy[ROUNDS - 1];
      const b = flower[v.key].accuracy[String(ROUNDS)];
      console.log(`ours_${v.key}_final_accuracy ${a.toFixed(4)} fraction`);
      console.log(`flower_${v.key}_final_accuracy ${b.toFixed(4)} fraction`);
      console.log(`diff_ours_minus_flower_${v.key}_final ${(a - b).toFixed(4)} fraction`);
    }
    const finalOf = (side: 'ours' | 'flower', key: string) =>
      side === 'ours' ? ours[key].accuracy[ROUNDS - 1] : flower[key].accuracy[String(ROUNDS)];
    for (const key of ['fedprox_partial', 'fednova_partial']) {
      console.log(`ours_margin_${key}_over_fedavg_drop ${(finalOf('ours', key) - finalOf('ours', 'fedavg_drop_deadline')).toFixed(4)} fraction`);
      console.log(`flower_margin_${key}_over_fedavg_drop ${(finalOf('flower', key) - finalOf('flower', 'fedavg_drop_deadline')).toFixed(4)} fraction`);
    }
    for (const v of VARIANTS) {
      const roundMs = ours[v.key].roundMs;
      console.log(`ours_${v.key}_wall_ms_per_round ${mean(roundMs).toFixed(0)} ms`);
      console.log(`flower_${v.key}_wall_ms_per_round ${(mean(Object.values(flower[v.key].roundSeconds)) * 1000).toFixed(1)} ms`);
    }
    const waited = mean(ours.fedavg_drop_deadline.roundMs);
    for (const v of VARIANTS.filter((x) => x.closeWhen)) {
      console.log(`ratio_ours_${v.key}_round_time_over_deadline_wait ${(mean(ours[v.key].roundMs) / waited).toFixed(3)} x`);
    }
    for (const v of VARIANTS) {
      console.log(`ours_${v.key}_partial_accepted_per_round ${mean(ours[v.key].partial).toFixed(2)} updates`);
      console.log(`ours_${v.key}_dropped_per_round ${mean(ours[v.key].dropped).toFixed(2)} agents`);
      const closes = ours[v.key].closedBy.reduce<Record<string, number>>((n, c) => ({ ...n, [c]: (n[c] ?? 0) + 1 }), {});
      console.log(`# ${v.key}: rounds closed by ${Object.entries(closes).map(([c, n]) => `${c} ×${n}`).join(', ')}`);
    }
    const steps = VARIANTS.flatMap((v) => ours[v.key].schedule.flat()).filter((s): s is number => s !== null);
    console.log(`# steps completed per update: ${Math.min(...steps)}..${Math.max(...steps)} of ${LOCAL_STEPS} (${steps.filter((s) => s < LOCAL_STEPS).length} of ${steps.length} updates partial)`);
    console.log('# table: round | ' + VARIANTS.map((v) => `${v.key} ours / flower`).join(' | '));
    for (let r = 1; r <= ROUNDS; r++) {
      const cells = VARIANTS.map((v) => `${ours[v.key].accuracy[r - 1].toFixed(4)} / ${flower[v.key].accuracy[String(r)].toFixed(4)}`);
      console.log(`# ${String(r).padStart(5)} | ${cells.join(' | ')}`);
    }
    console.log(
      `# Flower side: flwr ${flower.flwr} (pinned ${FLWR_VERSION}), numpy ${flower.numpy}, server loop run_fl over in-process clients that ` +
        "replay our agents' completed steps (no device delays: Flower's wall time is its compute per round)",
    );
    console.log(`# wall time: ours ${oursSeconds.toFixed(1)} s (dev server, swarm, ${VARIANTS.length} jobs), Flower ${flowerSeconds.toFixed(1)} s`);
    if (!(worst <= MAX_ACCURACY_DIFF)) {
      console.error(`FAIL: ours differs from Flower by ${worst.toFixed(4)} in some round (target ${MAX_ACCURACY_DIFF})`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
