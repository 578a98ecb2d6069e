// The Flower side of the benchmarks: a Python venv under ~/.cache/qp-manager/venvs/flwr with
// flwr pinned (installed from PyPI on first use), optionally with its simulation extra (ray),
// a way to run a Python script in it, and the Python and data the Flower sides of the benchmarks share.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DIGITS_CLASSES, DIGITS_FEATURES, loadDigits } from '../../adapters/datasets/digits';

export const FLWR_VERSION = '1.42.0';
export const VENV = join(homedir(), '.cache', 'qp-manager', 'venvs', 'flwr');
export const PYTHON = join(VENV, 'bin', 'python');

/** Creates the venv and installs flwr==FLWR_VERSION into it unless that version is already there. */
export function ensureFlower(): void {
  const version = existsSync(PYTHON)
    ? spawnSync(PYTHON, ['-c', 'import flwr; print(flwr.__version__)'], { encoding: 'utf8' }).stdout.trim()
    : '';
  if (version === FLWR_VERSION) return;
  console.error(`# installing flwr==${FLWR_VERSION} into ${VENV} (from PyPI)`);
  if (!existsSync(PYTHON)) {
    const venv = spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
    if (venv.status !== 0) throw new Error('python3 -m venv failed');
  }
  const pip = spawnSync(PYTHON, ['-m', 'pip', 'install', '--quiet', `flwr==${FLWR_VERSION}`], { stdio: 'inherit' });
  if (pip.status !== 0) throw new Error(`pip install flwr==${FLWR_VERSION} failed`);
}

/**
 * Flower's simulation engine needs ray (the `simulation` extra). Installs it into the venv when
 * missing; returns undefined when ray imports, else why it could not be had.
 */
export function ensureFlowerSimulation(): string | undefined {
  ensureFlower();
  const probe = (): SpawnSyncReturns<string> =>
    spawnSync(PYTHON, ['-c', 'import ray; print(ray.__version__)'], { encoding: 'utf8', env: pythonEnv() });
  if (probe().status === 0) return undefined;
  console.error(`# installing flwr[simulation]==${FLWR_VERSION} (ray) into ${VENV} (from PyPI)`);
  const pip = spawnSync(PYTHON, ['-m', 'pip', 'install', '--quiet', `flwr[simulation]==${FLWR_VERSION}`], {
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (pip.status !== 0) {
    const tail = `${pip.stderr ?? ''}${pip.error ? String(pip.error) : ''}`.trim().split('\n').slice(-3).join(' | ');
    return `pip install flwr[simulation]==${FLWR_VERSION} failed: ${tail}`;
  }
  const after = probe();
  return after.status === 0 ? undefined : `ray does not import: ${after.stderr.trim().split('\n').pop() ?? ''}`;
}

/** The environment for Python subprocesses: OpenBLAS tuning variables set on this machine are dropped. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Runs `script` (given on stdin) with the venv's Python, args after it; output is captured. */
export function runPythonScript(
  script: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): SpawnSyncReturns<string> {
  return spawnSync(PYTHON, ['-', ...args], {
    input: script,
    env: pythonEnv(options.env),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
  });
}

/**
 * Python: a ClientProxy that calls an in-process Flower client directly (no transport), so flwr's
 * server loop (run_fl) drives the strategies without ray. Needs ClientProxy and DisconnectRes imported.
 */
export const LOCAL_CLIENT_PROXY_PY = String.raw`
class LocalClientProxy(ClientProxy):
    def __init__(self, cid, client):
        super().__init__(cid)
        self.client = client

    def get_properties(self, ins, timeout, group_id):
        return self.client.get_properties(ins)

    def get_parameters(self, ins, timeout, group_id):
        return self.client.get_parameters(ins)

    def fit(self, ins, timeout, group_id):
        return self.client.fit(ins)

    def evaluate(self, ins, timeout, group_id):
        return self.client.evaluate(ins)

    def reconnect(self, ins, timeout, group_id):
        return DisconnectRes(reason="")
`;

/** Python: softmax class probabilities of a batch in float64, as core/models/softmax.ts computes them. */
export const SOFTMAX_PROBABILITIES_PY = String.raw`
def probabilities(W, b, Xb):
    z = Xb @ W.T + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p
`;

/**
 * Writes the digits data where a Flower script reads it: features.f32 (float32, little-endian),
 * labels.u8 and digits.json ({ featureCount, classCount, ...meta }).
 */
export function exportDigitsForFlower(dir: string, meta: Record<string, unknown>): void {
  const data = loadDigits();
  writeFileSync(join(dir, 'features.f32'), Buffer.from(data.features.buffer, data.features.byteOffset, data.features.byteLength));
  writeFileSync(join(dir, 'labels.u8'), data.labels);
  writeFileSync(join(dir, 'digits.json'), JSON.stringify({ featureCount: DIGITS_FEATURES, classCount: DIGITS_CLASSES, ...meta }));
}

/** Runs a Flower script (see runPythonScript) and returns what it printed on its `QP_RESULT <json>` line. */
export function runFlowerScript<T>(
  script: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): T {
  const run = runPythonScript(script, args, options);
  const line = run.stdout?.split('\n').find((l) => l.startsWith('QP_RESULT '));
  if (run.status !== 0 || !line) {
    throw new Error(`the Flower run failed (exit ${run.status}, ${String(run.error ?? '')}):\n${run.stderr?.slice(-4000)}`);
  }
  return JSON.parse(line.slice('QP_RESULT '.length)) as T;
}
