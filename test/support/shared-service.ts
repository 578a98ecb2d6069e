// A service of the local stack that several jest runs share (Pulsar, Milvus, Flink, the Kubernetes
// control plane). The global set-up starts it with
// `stack.sh up <name>` only when a selected suite needs it and none runs yet; the teardown of the
// last run using it stops it, and only when a test run (not a person) started it.
//
// Runs of several engineers overlap on one machine, so "a test run started it" is tracked with
// files under $QP_CACHE_DIR/run/: each run holds <name>.test-leases/<pid> from before it looks for
// the service until its teardown, and the marker <name>.started-by-tests says a test run started
// it. The teardown that finds no other live lease stops a test-started service.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const STACK = join(ROOT, 'infra/local/stack.sh');
const RUN_DIR = join(process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager'), 'run');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Does this jest run select a suite whose file name matches `suiteFile` (anywhere under test/)?
 * `override` (QP_TEST_<SERVICE>) forces the answer: '0' no, '1' yes. No pattern selects every suite.
 */
export function runSelectsSuite(suiteFile: RegExp, testPathPattern: string | undefined, override: string | undefined): boolean {
  if (override === '0') return false;
  if (override === '1' || !testPathPattern) return true;
  const suites: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (suiteFile.test(entry.name)) suites.push(path);
    }
  };
  walk(join(ROOT, 'test'));
  try {
    const pattern = new RegExp(testPathPattern, 'i');
    return suites.some((path) => pattern.test(path));
  } catch {
    return true;
  }
}

/** The last lines of a failed `stack.sh` call's stderr, for the error the suites report. */
export function stackError(error: unknown): string {
  return String((error as { stderr?: string }).stderr ?? error).trim().split('\n').slice(-5).join('\n');
}

/** One shared service (`name` as stack.sh spells it) and this jest run's lease on it. */
export class SharedTestService {
  private readonly leases: string;
  private readonly startedByTests: string;
  /** Set by the set-up, read by the teardown (the same jest parent process). */
  private readonly leasedVariable: string;

  constructor(readonly name: string) {
    this.leases = join(RUN_DIR, `${name}.test-leases`);
    this.startedByTests = join(RUN_DIR, `${name}.started-by-tests`);
    this.leasedVariable = `QP_TEST_${name.toUpperCase()}_LEASED`;
  }

  /** Does this jest run select a *<name>*.test.ts suite? QP_TEST_<NAME>=0 / 1 forces the answer. */
  neededBy(testPathPattern: string | undefined): boolean {
    return runSelectsSuite(new RegExp(`${this.name}.*\\.test\\.ts$`), testPathPattern, process.env[`QP_TEST_${this.name.toUpperCase()}`]);
  }

  /** Holds a lease for this run (`note`: what the lease file says, e.g. the address). */
  lease(note = ''): void {
    process.env[this.leasedVariable] = '1';
    mkdirSync(this.leases, { recursive: true });
    writeFileSync(join(this.leases, String(process.pid)), note);
  }

  /**
   * `stack.sh up <name>` unless `running()` says one is there already; returns whether this run
   * started it (and then marks it test-started). A failed start throws with stderr attached.
   */
  async startUnlessRunning(running: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
    if (await running()) return false;
    execFileSync('bash', [STACK, 'up', this.name], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: timeoutMs });
    writeFileSync(this.startedByTests, String(process.pid));
    return true;
  }

  /** Records that this run started the service (for one it starts itself rather than by startUnlessRunning). */
  markStartedByTests(): void {
    writeFileSync(this.startedByTests, String(process.pid));
  }

  /**
   * Drops this run's lease (and those of dead runs); when no live lease is left and a test run
   * started the service, stops it with `stack.sh down <name>` (`env`: extra variables for it).
   */
  release(env: Record<string, string> = {}): void {
    if (process.env[this.leasedVariable] !== '1') return;
    delete process.env[this.leasedVariable];
    rmSync(join(this.leases, String(process.pid)), { force: true });
    let others = 0;
    for (const name of existsSync(this.leases) ? readdirSync(this.leases) : []) {
      const pid = Number(name);
      if (Number.isInteger(pid) && alive(pid)) others++;
      else rmSync(join(this.leases, name), { force: true });
    }
    if (others > 0 || !existsSync(this.startedByTests)) return;
    rmSync(this.startedByTests, { force: true });
    execFileSync('bash', [STACK, 'down', this.name], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  }
}
