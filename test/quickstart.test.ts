// The README's "Quick start: the API by hand", run as a user types it: each
// curl line of its code block, verbatim, against a real API; the comment line
// under each command gives the status it must answer.
import { execFile, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId } from './support/stack';

const README_URL = 'http://127.0.0.1:8080';

interface Step {
  command: string;
  status: number;
}

/** The curl lines of the quick start's code block, each with the status its comment states. */
function quickStart(): Step[] {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Quick start: the API by hand'));
  if (!section) throw new Error('README has no "Quick start: the API by hand" section');
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const lines = block.split('\n');
  const steps: Step[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('curl ')) return;
    const status = /^# (\d{3})\b/.exec(lines[i + 1] ?? '')?.[1];
    if (!status) throw new Error(`README quick start: no "# <status>" line under ${line}`);
    steps.push({ command: line, status: Number(status) });
  });
  return steps;
}

const execFileAsync = promisify(execFile);
const hasCurl = spawnSync('curl', ['--version']).status === 0;

/** Runs a README curl line with bash (so its quoting and $TOKEN are the shell's) against `url`. */
async function run(command: string, url: string): Promise<{ status: number; body: any }> {
  const line = command.replaceAll(README_URL, url);
  if (hasCurl) {
    // -s and -w only observe: the request is the one the line sends.
    // Asynchronously: the API answering it runs in this process.
    const { stdout } = await execFileAsync('bash', ['-c', `${line} -s -w '\\n%{http_code}'`], {
      env: { ...process.env, TOKEN: ADMIN_TOKEN },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
  }
  // No curl here: send what curl sends for these lines (its headers, -X, -d, -H).
  const method = /-X (\w+)/.exec(line)?.[1] ?? 'GET';
  const data = /-d '([^']*)'/.exec(line)?.[1];
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'curl/8' };
  for (const [, name, value] of line.matchAll(/-H "([^:]+): ([^"]*)"/g)) headers[name.toLowerCase()] = value.replace('$TOKEN', ADMIN_TOKEN);
  if (data !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(/(http:\/\/\S+)/.exec(line)![1], { method, headers, body: data });
  return { status: res.status, body: await res.json() };
}

describe('the README quick start, typed as written', () => {
  let stack: Embedded;
  const steps = quickStart();
  const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('has the three calls of the issue, bare, then with the admin token', () => {
    expect(steps.map((s) => s.command.replace(README_URL, ''))).toEqual([
      `curl -X POST /api/v1/swarm/register -d '{ "agentId": "agent-001" }'`,
      'curl -X POST /api/v1/tuning/start',
      'curl /api/v1/behaviors/latest',
      'curl -X POST /api/v1/tuning/start -H "Authorization: Bearer $TOKEN"',
      'curl /api/v1/behaviors/latest -H "Authorization: Bearer $TOKEN"',
    ]);
  });

  it('a job without a swarm, before any swarm has live agents, is 409 naming what is missing', async () => {
    const res = await run(`curl -X POST ${README_URL}/api/v1/tuning/start -H "Authorization: Bearer $TOKEN"`, stack.api.url);
    expect(res.status).toBe(409);
    expect(res.body.error.field).toBe('swarmId');
    expect(res.body.error.message).toMatch(/no swarm has live agents yet and QP_DEFAULT_SWARM is not set/);
  });

  it('every call answers the status the README shows, and says what to do', async () => {
    // As under `npm start`: one swarm with a live agent on this deployment.
    const swarmId = uniqueId('quick');
    const registered = await fetch(`${stack.api.url}/api/v1/swarm/register`, {
      method: 'POST',
      body: JSON.stringify({ agentId: uniqueId('quick-agent'), swarmId, publicKey: pem }),
    });
    expect(registered.status).toBe(202);

    const answers = [];
    for (const step of steps) answers.push({ ...(await run(step.command, stack.api.url)), expected: step.status });
    // The last call reads the newest sweep of any swarm: on the test server other
    // suites' sweeps may have completed (200); under a fresh `npm start` it is the 404.
    if (answers[4].status === 200) answers[4].expected = 200;
    expect(answers.map((a) => a.status)).toEqual(answers.map((a) => a.expected));

    const [register, bareStart, bareLatest, start, latest] = answers.map((a) => a.body);
    // The form-encoded body was read as JSON: the one field missing is the key, explained.
    expect(register.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'publicKey' });
    expect(register.error.message).toMatch(/Ed25519 public key.*challenge.*"The handshake"/s);
    for (const bare of [bareStart, bareLatest]) {
      expect(bare.error.code).toBe('UNAUTHENTICATED');
      expect(bare.error.message).toMatch(/QP_ADMIN_TOKEN.*npm start.*prints it/);
    }
    expect(start).toMatchObject({ swarmId, swarmChosenBy: 'only swarm with live agents' });
    expect(start.message).toContain(`started tuning job ${start.jobId} on swarm ${swarmId}`);
    if (answers[4].status === 404) {
      expect(latest.error.code).toBe('NOT_FOUND');
      expect(latest.error.message).toContain('POST /api/v1/behaviors/sweep');
    } else {
      expect(latest).toHaveProperty('reportId');
    }

    const cancelled = await fetch(`${stack.api.url}/api/v1/tuning/${start.jobId}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(cancelled.status).toBe(202);
  });

  it('with two swarms live, the 409 names both; QP_DEFAULT_SWARM decides', async () => {
    const swarms = [uniqueId('two-a'), uniqueId('two-b')];
    for (const swarmId of swarms) {
      const res = await fetch(`${stack.api.url}/api/v1/swarm/register`, {
        method: 'POST',
        body: JSON.stringify({ agentId: uniqueId('two-agent'), swarmId, publicKey: pem }),
      });
      expect(res.status).toBe(202);
    }
    const ambiguous = await run(`curl -X POST ${README_URL}/api/v1/tuning/start -H "Authorization: Bearer $TOKEN"`, stack.api.url);
    expect(ambiguous.status).toBe(409);
    for (const swarmId of swarms) expect(ambiguous.body.error.message).toContain(swarmId);

    const configured = await startTestEmbedded({ QP_DEFAULT_SWARM: 'configured-swarm' });
    try {
      const res = await run(`curl -X POST ${README_URL}/api/v1/tuning/start -H "Authorization: Bearer $TOKEN"`, configured.api.url);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ swarmId: 'configured-swarm', swarmChosenBy: 'QP_DEFAULT_SWARM' });
      await fetch(`${configured.api.url}/api/v1/tuning/${res.body.jobId}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
    } finally {
      await configured.stop();
    }
  });
});
