// The status page in a real browser (Debian's chromium, driven by playwright-core)
// during a demo-sized run: it updates itself as the job advances, its numbers are
// the API's, and a screenshot is saved under .tmp/test-output/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import type { StatusSummary } from '../api/status-service';
import type { TuningProgress } from '../core/tuning';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const ROOT = join(__dirname, '..');
const TEST_OUTPUT = join(ROOT, '.tmp', 'test-output');

describe('the status page in a browser', () => {
  let stack: Embedded;
  let swarm: SwarmSimulation;
  let browser: Browser;
  const swarmId = uniqueId('browser');

  beforeAll(async () => {
    const executablePath = execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'chromium'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    stack = await startTestEmbedded({ QP_HEARTBEAT_GRACE_MS: '3000', QP_BEHAVIOR_SWEEP_CRON: 'off' });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await swarm?.stop();
    await stack?.stop();
  });

  it('follows a job from running to completed and shows what the API reports', async () => {
    const agents = 10;
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: agents,
      swarmId,
      idPrefix: swarmId,
      heartbeatIntervalMs: 500,
      trainers: digitsTrainers({ agents, alpha: 0.5, seed: 8 }),
    });
    expect(swarm.failed).toEqual([]);
    swarm.agents[0].stopHeartbeats();
    await waitFor('one agent LOST', async () =>
      (await stack.api.swarm.listAgents({ swarmId, status: 'LOST', pageSize: 20 })).agents.length === 1 ? true : undefined,
    30_000, 250);

    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(`${stack.api.url}/`);
    expect(await page.title()).toBe('QP-Manager status');

    const started = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        swarmId,
        model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
        rounds: 6,
        fraction: 1,
        minParticipants: 2,
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      }),
    });
    const { jobId } = (await started.json()) as { jobId: string };
    const row = page.locator(`tr[data-job="${jobId}"]`);
    // The page was loaded before the job existed: only its own refresh can show it.
    await row.waitFor({ timeout: 30_000 });
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    await page.waitForSelector(`tr[data-job="${jobId}"] td[data-col="status"]:text-is("COMPLETED")`, { timeout: 30_000 });

    const api = (await (await fetch(`${stack.api.url}/api/v1/status`)).json()) as StatusSummary;
    const mine = api.swarms.find((s) => s.swarmId === swarmId)!;
    const swarmRow = page.locator(`tr[data-swarm="${swarmId}"]`);
    expect(Number(await swarmRow.locator('[data-col="ACTIVE"]').textContent())).toBe(mine.agents.ACTIVE);
    expect(Number(await swarmRow.locator('[data-col="LOST"]').textContent())).toBe(mine.agents.LOST);
    expect(mine.agents).toMatchObject({ ACTIVE: agents - 1, LOST: 1 });
    expect(await row.locator('[data-col="round"]').textContent()).toBe('6/6');
    expect(await row.locator('[data-col="accuracy"]').textContent()).toBe(`${(result.recentRounds.at(-1)!.accuracy! * 100).toFixed(1)}%`);
    expect(await row.locator('svg circle').count()).toBe(result.recentRounds.filter((r) => r.accuracy !== undefined).length);

    mkdirSync(TEST_OUTPUT, { recursive: true });
    const shot = join(TEST_OUTPUT, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  }, 180_000);
});
