// The Python agent SDK (agents/python): its signatures are the TypeScript ones byte for byte
// (shared vectors, test/fixtures/agent-proof-vectors.json), and its own pytest suite passes in
// the venv `infra/local/stack.sh install python-sdk` makes. The end-to-end run against a real
// manager and broker is test/python-sdk-pulsar.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { computeProofVectors, PROOF_VECTORS_FILE } from './support/proof-vectors';
import { PYTHON_SDK_DIR, pythonEnv, pythonSdkBin } from './support/python-sdk';

const execFileAsync = promisify(execFile);

describe('shared proof vectors', () => {
  it('the vectors file is what the TypeScript functions compute now (rewrite: npx tsx test/support/proof-vectors.ts)', () => {
    const stored = JSON.parse(readFileSync(PROOF_VECTORS_FILE, 'utf8')) as unknown;
    expect(stored).toEqual(computeProofVectors());
  });
});

const { python, reason } = pythonSdkBin();
if (!python) console.log(`python SDK tests skipped: the python-sdk venv could not be created (${reason})`);
const maybe = python ? describe : describe.skip;

maybe('the Python SDK', () => {
  it('passes its pytest suite, including the shared vectors', async () => {
    const { stdout } = await execFileAsync(python as string, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: PYTHON_SDK_DIR,
      env: pythonEnv({ QP_PROOF_VECTORS: PROOF_VECTORS_FILE }),
      timeout: 120_000,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`pytest failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    const passed = /(\d+) passed/.exec(stdout);
    expect(Number(passed?.[1] ?? 0)).toBeGreaterThanOrEqual(103);
    expect(stdout).not.toMatch(/failed|error/i);
  }, 180_000);
});
