// The analytics job's own JUnit tests (analytics/src/test): its stateful operators, as the job
// builds them, in Flink's one-operator test harness (keyed state and timers, no cluster). Run by
// Maven through the stack script; this suite fails with their report when one of them does.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { STACK, stackError } from './support/shared-service';

jest.setTimeout(600_000);

const REPORTS = join(__dirname, '..', 'analytics', 'target', 'surefire-reports');

/** Surefire's counts per test class. */
function reports(): Map<string, { tests: number; failures: number; errors: number; skipped: number }> {
  const out = new Map<string, { tests: number; failures: number; errors: number; skipped: number }>();
  for (const file of readdirSync(REPORTS).filter((f) => f.startsWith('TEST-') && f.endsWith('.xml'))) {
    const head = /<testsuite [^>]*>/.exec(readFileSync(join(REPORTS, file), 'utf8'))?.[0] ?? '';
    const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head)?.[1] ?? NaN);
    out.set(file.slice(5, -4), { tests: count('tests'), failures: count('failures'), errors: count('errors'), skipped: count('skipped') });
  }
  return out;
}

describe('the analytics job\'s operators (JUnit, Flink test harness)', () => {
  let run: Map<string, { tests: number; failures: number; errors: number; skipped: number }>;

  beforeAll(() => {
    rmSync(REPORTS, { recursive: true, force: true });
    try {
      execFileSync('bash', [STACK, 'test', 'flink-job'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 540_000 });
    } catch (error) {
      throw new Error(`stack.sh test flink-job failed:\n${stackError(error)}`);
    }
    run = reports();
  });

  it.each(['qp.analytics.FlappingTest', 'qp.analytics.DuplicateFilterTest', 'qp.analytics.TurnoutTest'])('%s passes every test it has', (suite) => {
    const r = run.get(suite);
    expect(r).toBeDefined();
    expect(r!.tests).toBeGreaterThan(0);
    expect(r).toMatchObject({ failures: 0, errors: 0, skipped: 0 });
  });
});
