// Test accuracy per round on the digits data, ours beside Flower's, on the very same setup in one
// run: Dirichlet(0.5) split over 50 agents, softmax regression from zeros, lr 0.1, batch 32,
// 1 local epoch, 20 rounds, every agent every round; FedAvg and FedProx (mu 0.01).
//   ours:   the real system — embedded worker + REST API + 50 simulated agents (agents/sdk.ts
//           participate(), trainSoftmax) on a Temporal dev server this bench starts.
//   Flower: flwr's own FedAvg / FedProx strategies driven by Flower's simulation engine
//           (flwr.simulation.start_simulation, NumPyClients on ray) or, where ray cannot be
//           had, by Flower's server loop (flwr.server.server.run_fl over in-process client
//           proxies); the client is trainSoftmax ported to numpy: float64 compute, float32 at the
//           exchange, the same examples in the same (ascending) order and batches, FedProx's
//           proximal term applied per batch as core/models/softmax.ts does.
// Both sides read the same standardised features, labels, 50 shards and test indices, which
// this bench exports from TypeScript into a temporary directory.
//   npm run bench:accuracy -- [--rounds 20] [--agents 50] [--seed 1] [--flower-mode auto|simulation|loop]
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import { digitsSplit, loadDigits } from '../adapters/datasets/digits';
import { simulateSwarm } from '../agents/simulate';
import { DIGITS_DIMENSION, digitsShards, digitsTrainers } from '../agents/trainers';
import { bytesToParams, type TuningProgress } from '../core/tuning';
import { namespace } from '../temporal-config';
import { tuningWorkflowId } from '../workflows/definitions';
import {
  ensureFlower,
  ensureFlowerSimulation,
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
function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const AGENTS = arg('agents', 50);
const ALPHA = arg('alpha', 0.5);
const ROUNDS = arg('rounds', 20);
const SPLIT_SEED = arg('seed', 1);
const LEARNING_RATE = 0.1;
const BATCH_SIZE = 32;
const EPOCHS = 1;
const PROXIMAL_MU = 0.01;
const TARGET = 0.01;
const FLOWER_MODE = stringArg('flower-mode', 'auto');
const STRATEGIES = ['fedavg', 'fedprox'] as const;
type StrategyKey = (typeof STRATEGIES)[number];

// flower_digits.py, written beside the exported data; ray's workers import it by name, so the
// client function is pickled by reference and each worker loads the data once.
const FLOWER_MODULE = String.raw`
"""Flower side of bench/accuracy.ts (generated there; do not edit)."""
import json, logging, os, sys, time
import numpy as np
import flwr
from flwr.client import NumPyClient
from flwr.common import DisconnectRes, ndarrays_to_parameters
from flwr.server import ServerConfig
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg, FedProx

_DATA = None


def data():
    """(meta, X float64 (examples, features), y int64, shards, test), loaded once per process."""
    global _DATA
    if _DATA is None:
        d = os.environ["QP_BENCH_DATA"]
        with open(os.path.join(d, "digits.json")) as f:
            meta = json.load(f)
        X = np.fromfile(os.path.join(d, "features.f32"), dtype="<f4").reshape(-1, meta["featureCount"])
        y = np.fromfile(os.path.join(d, "labels.u8"), dtype=np.uint8).astype(np.int64)
        shards = [np.asarray(s, dtype=np.int64) for s in meta["shards"]]
        test = np.asarray(meta["test"], dtype=np.int64)
        _DATA = (meta, X.astype(np.float64), y, shards, test)
    return _DATA

${SOFTMAX_PROBABILITIES_PY}

def train_softmax(W32, b32, examples, learning_rate, epochs, batch_size, mu):
    """core/models/softmax.ts trainSoftmax: float64 math from the float32 global, float32 out."""
    _, X, y, _, _ = data()
    W = W32.astype(np.float64)
    b = b32.astype(np.float64)
    W0 = W.copy()
    b0 = b.copy()
    for _ in range(epochs):
        for start in range(0, len(examples), batch_size):
            batch = examples[start:start + batch_size]
            Xb = X[batch]
            delta = probabilities(W, b, Xb)
            delta[np.arange(len(batch)), y[batch]] -= 1.0
            scale = learning_rate / len(batch)
            W -= scale * (delta.T @ Xb) + learning_rate * mu * (W - W0)
            b -= scale * delta.sum(axis=0) + learning_rate * mu * (b - b0)
    return W.astype(np.float32), b.astype(np.float32)


def evaluate_softmax(W32, b32, examples):
    _, X, y, _, _ = data()
    p = probabilities(W32.astype(np.float64), b32.astype(np.float64), X[examples])
    labels = y[examples]
    loss = float(-np.log(np.maximum(p[np.arange(len(examples)), labels], 1e-12)).mean())
    accuracy = float((p.argmax(axis=1) == labels).mean())
    return loss, accuracy


class DigitsClient(NumPyClient):
    def __init__(self, partition):
        self.partition = partition

    def fit(self, parameters, config):
        examples = data()[3][self.partition]
        W, b = train_softmax(
            parameters[0], parameters[1], examples,
            float(config["learning_rate"]), int(config["epochs"]), int(config["batch_size"]),
            float(config.get("proximal_mu", 0.0)),
        )
        return [W, b], int(len(examples)), {}


def client_fn(context):
    return DigitsClient(int(context.node_config["partition-id"])).to_client()

${LOCAL_CLIENT_PROXY_PY}

def run(name, mode):
    meta, _, _, shards, test = data()
    cfg = meta["config"]
    n = len(shards)
    record = {"accuracy": {}, "failures": 0}

    def evaluate_fn(server_round, ndarrays, config):
        loss, accuracy = evaluate_softmax(ndarrays[0], ndarrays[1], test)
        record["accuracy"][server_round] = accuracy
        np.concatenate([ndarrays[0].reshape(-1), ndarrays[1]]).astype("<f4").tofile(
            os.path.join(os.environ["QP_BENCH_DATA"], "flower-" + name + ".f32"))
        return loss, {"accuracy": accuracy}

    common = dict(
        fraction_fit=1.0, fraction_evaluate=0.0,
        min_fit_clients=n, min_evaluate_clients=1, min_available_clients=n,
        evaluate_fn=evaluate_fn,
        on_fit_config_fn=lambda server_round: {
            "learning_rate": cfg["learningRate"], "epochs": cfg["epochs"], "batch_size": cfg["batchSize"]},
        accept_failures=False,
        initial_parameters=ndarrays_to_parameters([
            np.zeros((meta["classCount"], meta["featureCount"]), np.float32),
            np.zeros(meta["classCount"], np.float32)]),
    )
    base = FedAvg if name == "fedavg" else FedProx

    class Recording(base):
        def aggregate_fit(self, server_round, results, failures):
            record["failures"] += len(failures)
            for failure in failures:
                print("flower fit failure:", repr(failure), file=sys.stderr)
            return super().aggregate_fit(server_round, results, failures)

    strategy = Recording(**common) if name == "fedavg" else Recording(proximal_mu=cfg["proximalMu"], **common)
    t0 = time.perf_counter()
    if mode == "simulation":
        from flwr.simulation import start_simulation
        start_simulation(
            client_fn=client_fn, num_clients=n, config=ServerConfig(num_rounds=cfg["rounds"]), strategy=strategy,
            client_resources={"num_cpus": 1, "num_gpus": 0.0},
            ray_init_args={"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": True},
        )
    else:
        from flwr.server.client_manager import SimpleClientManager
        from flwr.server.server import Server, run_fl

        manager = SimpleClientManager()
        for i in range(n):
            manager.register(LocalClientProxy(str(i), DigitsClient(i).to_client()))
        run_fl(Server(client_manager=manager, strategy=strategy), ServerConfig(num_rounds=cfg["rounds"]))
    record["seconds"] = time.perf_counter() - t0
    return record


def main(argv):
    mode = argv[1]
    logging.getLogger("flwr").setLevel(logging.WARNING)
    out = {"mode": mode, "flwr": flwr.__version__, "numpy": np.__version__}
    if mode == "simulation":
        import ray
        out["ray"] = ray.__version__
    for name in ("fedavg", "fedprox"):
        out[name] = run(name, mode)
    print("QP_RESULT " + json.dumps(out))
`;

interface FlowerRecord {
  accuracy: Record<string, number>;
  failures: number;
  seconds: number;
}
type FlowerResult = { mode: string; flwr: string; numpy: string; ray?: string } & Record<StrategyKey, FlowerRecord>;

function runFlower(dir: string): FlowerResult {
  ensureFlower();
  let mode = FLOWER_MODE;
  if (mode !== 'loop') {
    const missing = ensureFlowerSimulation();
    if (missing) {
      if (mode === 'simulation') throw new Error(`Flower's simulation engine is not available: ${missing}`);
      console.log(`# Flower simulation engine unavailable (${missing}); driving the strategies with flwr's run_fl loop`);
      mode = 'loop';
    } else {
      mode = 'simulation';
    }
  }
  return runFlowerScript<FlowerResult>(
    'import sys; sys.path.insert(0, sys.argv[1]); import flower_digits; flower_digits.main(sys.argv[1:])',
    [dir, mode],
    { timeoutMs: 30 * 60_000, env: { QP_BENCH_DATA: dir, PYTHONPATH: dir, RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO: '0' } },
  );
}

interface OursRecord {
  accuracy: number[];
  params: Float32Array;
  seconds: number;
}

async function runOurs(adminToken: string): Promise<Record<StrategyKey, OursRecord>> {
  return runOnEmbeddedStack('bench-accuracy', adminToken, async (stack, onStop) => {
    const swarmId = `bench-accuracy-${Date.now()}`;
    const swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: AGENTS,
      swarmId,
      idPrefix: swarmId,
      // Agent i (ids sort in index order) trains on shard i, the shard Flower's partition i gets.
      trainers: digitsTrainers({ agents: AGENTS, alpha: ALPHA, seed: SPLIT_SEED }),
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

    const out = {} as Record<StrategyKey, OursRecord>;
    for (const strategy of STRATEGIES) {
      const proximal = strategy === 'fedprox' ? { proximalMu: PROXIMAL_MU } : {};
      const t0 = performance.now();
      const res = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          swarmId,
          model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
          rounds: ROUNDS,
          fraction: 1,
          minParticipants: AGENTS,
          roundTimeoutMs: 120_000,
          strategy,
          strategyOptions: proximal,
          // The workflow sends strategyOptions.proximalMu to the agents with the training config.
          training: { learningRate: LEARNING_RATE, epochs: EPOCHS, batchSize: BATCH_SIZE },
          evaluateEvery: 1,
          seed: 7,
        }),
      });
      const started = (await res.json()) as { jobId?: string };
      if (res.status !== 202 || !started.jobId) throw new Error(`job start failed ${res.status}: ${JSON.stringify(started)}`);
      const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(started.jobId)).result();
      const seconds = (performance.now() - t0) / 1000;
      if (result.status !== 'COMPLETED') throw new Error(`${strategy} job ended ${result.status}: ${result.failureReason ?? ''}`);
      for (const round of result.recentRounds) {
        if (round.accepted !== AGENTS || round.attempts !== 1) {
          throw new Error(`${strategy} round ${round.round}: ${round.accepted} of ${AGENTS} accepted in ${round.attempts} attempts`);
        }
      }
      const bytes = await stack.ports.blobs.get(result.globalDigest);
      if (!bytes) throw new Error(`no blob for the final model ${result.globalDigest}`);
      out[strategy] = {
        accuracy: result.recentRounds.map((round) => round.accuracy ?? Number.NaN),
        params: Float32Array.from(bytesToParams(bytes)),
        seconds,
      };
    }
    return out;
  });
}

/** Exports what both sides train and test on; returns the shards. */
function exportData(dir: string): number[][] {
  const shards = digitsShards({ agents: AGENTS, alpha: ALPHA, seed: SPLIT_SEED });
  const { test } = digitsSplit();
  exportDigitsForFlower(dir, {
    examples: loadDigits().labels.length,
    shards,
    test,
    config: {
      rounds: ROUNDS,
      learningRate: LEARNING_RATE,
      epochs: EPOCHS,
      batchSize: BATCH_SIZE,
      proximalMu: PROXIMAL_MU,
    },
  });
  writeFileSync(join(dir, 'flower_digits.py'), FLOWER_MODULE);
  return shards;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'qp-bench-accuracy-'));
  try {
    const shards = exportData(dir);
    const sizes = shards.map((s) => s.length);
    console.log(
      `# digits: ${loadDigits().labels.length} examples, ${digitsSplit().test.length} test; Dirichlet(${ALPHA}) over ${AGENTS} agents ` +
        `(split seed ${SPLIT_SEED}): ${Math.min(...sizes)}..${Math.max(...sizes)} examples each, ${sizes.reduce((a, b) => a + b, 0)} in all`,
    );
    console.log(
      `# softmax regression from zeros, lr ${LEARNING_RATE}, batch ${BATCH_SIZE}, ${EPOCHS} local epoch, ${ROUNDS} rounds, all agents every round; FedProx mu ${PROXIMAL_MU}`,
    );
    const flower = runFlower(dir);
    const adminToken = randomBytes(24).toString('hex');
    const ours = await runOurs(adminToken);

    const rows: string[] = [];
    const maxDiff: Record<string, number> = {};
    for (const strategy of STRATEGIES) {
      const f = flower[strategy];
      if (f.failures > 0) throw new Error(`Flower ${strategy}: ${f.failures} client failures`);
      let worst = 0;
      for (let r = 1; r <= ROUNDS; r++) {
        const a = ours[strategy].accuracy[r - 1];
        const b = f.accuracy[String(r)];
        console.log(`ours_${strategy}_round_${r} ${a.toFixed(4)} fraction`);
        console.log(`flower_${strategy}_round_${r} ${b.toFixed(4)} fraction`);
        worst = Math.max(worst, Math.abs(a - b));
      }
      maxDiff[strategy] = worst;
    }
    for (const strategy of STRATEGIES) {
      console.log(`max_abs_diff_${strategy} ${maxDiff[strategy].toFixed(4)} fraction`);
    }
    for (const strategy of STRATEGIES) {
      const a = ours[strategy].accuracy[ROUNDS - 1];
      const b = flower[strategy].accuracy[String(ROUNDS)];
      console.log(`ratio_ours_over_flower_${strategy}_round_${ROUNDS} ${(a / b).toFixed(4)} x`);
    }
    // The final global models, coordinate by coordinate ([W (10x64), b (10)], float32).
    for (const strategy of STRATEGIES) {
      const file = readFileSync(join(dir, `flower-${strategy}.f32`));
      const theirs = new Float32Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
      const mine = ours[strategy].params;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < mine.length; i++) {
        worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
        scale = Math.max(scale, Math.abs(theirs[i]));
      }
      console.log(`check_final_params_max_abs_diff_${strategy} ${worst.toExponential(2)} abs`);
      console.log(`# final ${strategy} models: largest |parameter| ${scale.toFixed(3)}`);
    }

    let proximalEffect = 0;
    for (let i = 0; i < ours.fedavg.params.length; i++) {
      proximalEffect = Math.max(proximalEffect, Math.abs(ours.fedprox.params[i] - ours.fedavg.params[i]));
    }
    console.log(`# FedProx's proximal term moved our final model by up to ${proximalEffect.toExponential(2)} from FedAvg's (so it was applied)`);
    const worstRound = Math.max(...Object.values(maxDiff));
    console.log(`# target: within ${TARGET} of Flower in every round: ${worstRound <= TARGET ? 'met' : 'NOT met'}`);

    rows.push('# round | ours fedavg | flower fedavg |   diff  | ours fedprox | flower fedprox |   diff');
    for (let r = 1; r <= ROUNDS; r++) {
      const cells = STRATEGIES.map((s) => {
        const a = ours[s].accuracy[r - 1];
        const b = flower[s].accuracy[String(r)];
        return [a.toFixed(4), b.toFixed(4), (a - b >= 0 ? '+' : '') + (a - b).toFixed(4)];
      });
      rows.push(
        `# ${String(r).padStart(5)} | ${cells[0][0].padStart(11)} | ${cells[0][1].padStart(13)} | ${cells[0][2].padStart(7)} | ` +
          `${cells[1][0].padStart(12)} | ${cells[1][1].padStart(14)} | ${cells[1][2].padStart(7)}`,
      );
    }
    for (const row of rows) console.log(row);
    const how =
      flower.mode === 'simulation'
        ? `Flower's simulation engine (flwr.simulation.start_simulation, ${AGENTS} NumPyClients on ray ${flower.ray ?? '?'})`
        : `Flower's server loop (flwr.server.server.run_fl, ${AGENTS} NumPyClients behind in-process ClientProxy objects; no ray)`;
    console.log(`# Flower side: flwr ${flower.flwr} (pinned ${FLWR_VERSION}), numpy ${flower.numpy}; strategies FedAvg / FedProx(proximal_mu=${PROXIMAL_MU}) driven by ${how}`);
    console.log(
      `# wall time: ours fedavg ${ours.fedavg.seconds.toFixed(1)} s, fedprox ${ours.fedprox.seconds.toFixed(1)} s (REST start -> result, ${ROUNDS} rounds); ` +
        `Flower fedavg ${flower.fedavg.seconds.toFixed(1)} s, fedprox ${flower.fedprox.seconds.toFixed(1)} s`,
    );
    console.log(
      '# for context only: the brief quotes Flower FedAvg at 0.650 after round 1 and 0.869 after round 20 on its own setup;',
    );
    console.log('# this setup standardises the features, so absolute numbers differ: the comparison is ours vs Flower above.');
    const worst = Math.max(...Object.values(maxDiff));
    if (!(worst <= TARGET)) {
      console.error(`FAIL: ours differs from Flower by ${worst.toFixed(4)} in some round (target ${TARGET})`);
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
