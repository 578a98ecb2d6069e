// The Python SDK's venv (`infra/local/stack.sh install python-sdk`) for the suites that run it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
/** The package's sources in this checkout: put first on PYTHONPATH so the checkout is what runs. */
export const PYTHON_SDK_DIR = join(ROOT, 'agents', 'python');

/** The venv's python, or why the venv could not be made. */
export function pythonSdkBin(): { python?: string; reason?: string } {
  try {
    const python = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'python-sdk'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    }).trim();
    return { python };
  } catch (error) {
    return { reason: String((error as { stderr?: string }).stderr || error).trim().split('\n').slice(-3).join(' ') };
  }
}

/** Environment for the venv's python running this checkout's qp_agent. */
export function pythonEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: PYTHON_SDK_DIR, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}
