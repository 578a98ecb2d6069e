// The Flower side of the benchmarks: a Python venv under ~/.cache/qp-manager/venvs/flwr with
// flwr pinned (installed from PyPI on first use), optionally with its simulation extra (ray),
// and a way to run a Python script in it.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
