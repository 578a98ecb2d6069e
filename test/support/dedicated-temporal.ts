// A Temporal dev server of a suite's own, persisted in a SQLite file, for
// suites that stop it and start it again on the same file: the run's shared
// server never goes away under another suite. Same binary, namespace, search
// attributes and dynamic config as the shared one (temporal-config/).
import { Connection } from '@temporalio/client';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devServerArgs, namespace } from '../../temporal-config';
import { freePort } from './pulsar';
import { STACK } from './shared-service';
import { waitFor } from './stack';

export class DedicatedTemporal {
  private readonly dir = mkdtempSync(join(tmpdir(), 'qp-temporal-'));
  readonly dbFile = join(this.dir, 'temporal.db');
  private server: ChildProcess | undefined;
  private output = '';
  private port = 0;
  /** Stops followed by a start on the same file, for the suite's closing line. */
  restarts = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server (on the same port and file as before, after a stop) and waits until its namespace answers. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const server = spawn(
      execFileSync('bash', [STACK, 'path', 'temporal'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim(),
      ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(this.port), '--headless', '--db-filename', this.dbFile, '--log-level', 'error', ...devServerArgs()],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' } },
    );
    this.server = server;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000);
    };
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);
    let exited = false;
    server.once('exit', () => (exited = true));
    await waitFor(
      `the dedicated Temporal dev server on ${this.address}`,
      async () => {
        if (exited) throw new Error(`it exited: ${this.output}`);
        const connection = await Connection.connect({ address: this.address, connectTimeout: 1_000 });
        try {
          await connection.workflowService.describeNamespace({ namespace });
          return true;
        } finally {
          await connection.close();
        }
      },
      60_000,
      250,
    );
  }

  /** Stops the server: SIGTERM (a clean stop) or SIGKILL (a crash). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill(signal);
    const forced = setTimeout(() => server.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(forced);
  }

  /** Stops the server with `signal` and starts it again on the same file and port. */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
    this.restarts++;
  }

  /** Stops the server and deletes its file. */
  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
