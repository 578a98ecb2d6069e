// The alert rules as code: promtool accepts them, and their unit tests
// (infra/prometheus/tests/) pass and cover every alert both ways: fires when it
// should, stays quiet when it should not.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = join(__dirname, '..');
const RULES = join(ROOT, 'infra/prometheus/rules');
const TESTS = join(ROOT, 'infra/prometheus/tests');
const ruleFiles = readdirSync(RULES).filter((f) => f.endsWith('.yml')).map((f) => join(RULES, f));
const testFiles = readdirSync(TESTS).filter((f) => f.endsWith('.test.yml')).map((f) => join(TESTS, f));

const promtool = () =>
  execFileSync('bash', [join(ROOT, 'infra/local/stack.sh'), 'path', 'promtool'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();

interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

function alertNames(): string[] {
  return ruleFiles.flatMap((file) =>
    (parseYaml(readFileSync(file, 'utf8')) as { groups: { rules: { alert?: string }[] }[] }).groups.flatMap((g) =>
      g.rules.flatMap((r) => (r.alert ? [r.alert] : [])),
    ),
  );
}

describe('alert rules (infra/prometheus/rules)', () => {
  let bin: string;
  beforeAll(() => {
    bin = promtool();
  });

  it('promtool check rules accepts every rule file', () => {
    const run = spawnSync(bin, ['check', 'rules', ...ruleFiles], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('promtool test rules passes every unit test file', () => {
    const run = spawnSync(bin, ['test', 'rules', ...testFiles], { encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).not.toContain('FAILED');
    expect(run.status).toBe(0);
  });

  it('every alert has a case where it fires and one where it stays quiet', () => {
    const cases = testFiles.flatMap((file) =>
      ((parseYaml(readFileSync(file, 'utf8')) as { tests: RuleTest[] }).tests ?? []).flatMap((t) => t.alert_rule_test ?? []),
    );
    const alerts = alertNames();
    expect(alerts).toEqual(
      expect.arrayContaining(['QpAgentsLost', 'QpRoundsFailingQuorum', 'QpUpdateRejectionBurst', 'QpMessagingBacklogGrowing', 'QpWorkerDown', 'QpTaskDeadlineMisses', 'QpCarbonBudgetExceeded']),
    );
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => (c.exp_alerts ?? []).length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, quiet: mine.some((c) => (c.exp_alerts ?? []).length === 0) }).toEqual({ alert, quiet: true });
    }
  });

  it('a rule unit test that expects the wrong thing fails (the runner really checks)', () => {
    const broken = readFileSync(testFiles[0], 'utf8')
      .replace('../rules/', `${RULES}/`)
      .replace('exp_labels: { severity: page, swarm: s1 }', 'exp_labels: { severity: page, swarm: s2 }');
    const file = join(mkdtempSync(join(tmpdir(), 'qp-rules-')), 'broken.test.yml');
    writeFileSync(file, broken);
    const run = spawnSync(bin, ['test', 'rules', file], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toContain('FAILED');
    expect(run.status).not.toBe(0);
  });
});
