// api/openapi.yaml against the real API, by schemathesis (property-based,
// from PyPI, in a venv that `infra/local/stack.sh install schemathesis`
// creates): no server errors, no schema-valid request refused with a 4xx it
// does not document as state-dependent (401, 403, 404, 409), and 405 with an
// Allow header for undeclared methods on declared paths.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Embedded } from '../workers/embedded';
import { OPENAPI_PATH } from '../api/app';
import { ADMIN_TOKEN, startTestEmbedded } from './support/stack';

const execFileAsync = promisify(execFile);
const ROOT = join(__dirname, '..');

function schemathesisBin(): { bin?: string; reason?: string } {
  try {
    const bin = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'schemathesis'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    }).trim();
    return { bin };
  } catch (error) {
    return { reason: String((error as { stderr?: string }).stderr || error).trim().split('\n').slice(-3).join(' ') };
  }
}

/** The FAILURES and ERRORS sections of a run's output (each failing operation and check), capped. */
function failureSection(output: string): string {
  const start = output.search(/^=+ (FAILURES|ERRORS) =+$/m);
  if (start < 0) return '(no FAILURES or ERRORS section: the run stopped before reporting, e.g. on its time limit)';
  const end = output.slice(start).search(/^=+ (SUMMARY|WARNINGS) =+$/m);
  return output.slice(start, end < 0 ? start + 6_000 : start + Math.min(end, 6_000));
}

/** The operations that took longest over the whole run, from the JUnit report. */
function slowestOperations(junitPath: string, count: number): string {
  if (!existsSync(junitPath)) return '(no report)';
  const cases = [...readFileSync(junitPath, 'utf8').matchAll(/<testcase[^>]*?name="([^"]+)"[^>]*?time="([\d.]+)"/g)];
  return cases
    .map(([, name, time]) => ({ name, seconds: Number(time) }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, count)
    .map(({ name, seconds }) => `${name} ${seconds.toFixed(1)}`)
    .join('; ');
}

const { bin, reason } = schemathesisBin();
if (!bin) console.log(`api conformance skipped: the schemathesis venv could not be created (${reason})`);
const maybe = bin ? describe : describe.skip;

maybe('api/openapi.yaml under schemathesis, against the real API', () => {
  let stack: Embedded;

  beforeAll(async () => {
    // The run starts a thousand or so workflows (jobs, tasks, decisions) on one worker; an update
    // or query on one of them (pause, cancel, a pool's policy) waits for a workflow task behind
    // them, which on a loaded 2-core machine took 25 s and more (then a 503): the deadline here is
    // a minute, so that a slow answer is checked against the schema like any other. One placement
    // attempt per task: the run's tasks land in a swarm without agents, and retrying their
    // placement would only add load (the retry policy has its own tests).
    stack = await startTestEmbedded({ QP_DEFAULT_SWARM: 'conformance', QP_API_TEMPORAL_DEADLINE_MS: '60000', QP_CLUSTER: 'memory', QP_TASK_MAX_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('finds no server error, no refused valid request and no undeclared method answered', async () => {
    const started = Date.now();
    const workDir = mkdtempSync(join(tmpdir(), 'qp-schemathesis-'));
    const junitPath = join(workDir, 'junit.xml');
    const args = [
      '--config-file',
      join(__dirname, 'support', 'schemathesis.toml'),
      'run',
      OPENAPI_PATH,
      '--url',
      stack.api.url,
      '--header',
      `Authorization: Bearer ${ADMIN_TOKEN}`,
      '--max-examples',
      '3',
      '--seed',
      '1',
      '--no-shrink',
      // Well past the API's own Temporal deadline, so a saturated worker shows as the API's 503
      // (documented, and exempt where schemathesis.toml says why), never as a client timeout.
      '--request-timeout',
      '150',
      '--suppress-health-check',
      'all',
      '--report',
      'junit',
      '--report-junit-path',
      junitPath,
    ];
    let output: string;
    let failed = false;
    try {
      ({ stdout: output } = await execFileAsync(bin!, args, {
        encoding: 'utf8',
        timeout: 1_500_000,
        // Its cache and reports land in the working directory: keep them out of the repo.
        cwd: workDir,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' },
      }));
    } catch (error) {
      failed = true;
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    const summary = output.split('\n').filter((line) => /passed|failed|Test cases|test cases|Operations|checks?/i.test(line));
    const slowest = slowestOperations(junitPath, 8);
    console.log(
      `schemathesis: ${((Date.now() - started) / 1000).toFixed(1)} s\n${summary.slice(-12).join('\n')}\nslowest operations (s): ${slowest}`,
    );
    // The failures first: a CI log may keep only the head and the tail of a long message.
    if (failed) throw new Error(`schemathesis found problems:\n${failureSection(output)}\n--- tail ---\n${output.slice(-6_000)}`);
  }, 1_560_000);
});
