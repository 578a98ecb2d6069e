// A Milvus of a suite's own, on free ports with a data directory of its own,
// for suites that stop it and start it again on the same data: the run's
// shared Milvus (stack.sh up milvus) never goes away under another suite. The
// same server as the shared one (the `milvus` wheel that `stack.sh install
// milvus` puts in the cache), run without the wheel's wrapper: the wrapper
// cannot move the embedded etcd off 2379 (the shared instance's) nor give the
// server an alias, and without one both servers lock the same pid file. Its
// unpacked binaries are linked from the shared instance's data directory when
// they are there, which saves ~40 s of lzma.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './pulsar';
import { STACK } from './shared-service';
import { waitFor } from './stack';

/** The wheel's own config writer (template, ports, storage paths) and unpacker, with the ports chosen here. */
const WRITE_CONFIG = `
import sys
from milvus import MilvusServerConfig, _initialize_data_files
data = sys.argv[1]
config = MilvusServerConfig()
config.configs.update(data_dir=data)
config.resolve_storage()
for item in sys.argv[2:]:
    key, port = item.split('=')
    config.configs[key] = int(port)
config.set('etcd_log_level', 'warn')
config.resolve()
_initialize_data_files(data)
`;

const PORT_KEYS = [
  'proxy_port',
  'etcd_port',
  'root_coord_port',
  'proxy_internal_port',
  'query_coord_port',
  'query_node_port',
  'index_coord_port',
  'index_node_port',
  'data_coord_port',
  'data_node_port',
] as const;

export class DedicatedMilvus {
  private readonly cache = process.env.QP_CACHE_DIR ?? join(homedir(), '.cache', 'qp-manager');
  /** The pid keeps two test runs on one machine (and one cache) from sharing an instance. */
  readonly alias: string;
  readonly dataDir: string;
  private ports: Record<string, number> = {};
  private server: ChildProcess | undefined;
  private output = '';
  /** Stops followed by a start on the same data, for the suite's closing line. */
  restarts = 0;

  constructor(name: string) {
    this.alias = `${name}-${process.pid}`;
    this.dataDir = join(this.cache, 'data', `milvus-${this.alias}`);
  }

  get address(): string {
    return `127.0.0.1:${this.ports.proxy_port}`;
  }

  /** Starts the server (on the same ports and data as before, after a stop) and waits until it is healthy, up to `timeoutMs`. Resolves with the time it took, ms. */
  async start(timeoutMs = 300_000): Promise<number> {
    const started = Date.now();
    if (!this.ports.proxy_port) this.configure(await this.freePorts());
    const server = spawn(join(this.dataDir, 'bin', 'milvus'), ['run', 'standalone', '-alias', this.alias], {
      cwd: this.dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a stop reaches everything it started.
      detached: true,
      env: {
        ...process.env,
        DEPLOY_MODE: 'STANDALONE',
        METRICS_PORT: String(this.ports.metrics),
        LD_LIBRARY_PATH: [join(this.dataDir, 'bin'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
        ETCD_CONFIG_PATH: join(this.dataDir, 'configs', 'embedEtcd.yaml'),
      },
    });
    this.server = server;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000);
    };
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);
    let exited = false;
    server.once('exit', () => (exited = true));
    // The server's own health endpoint, as the wheel's wrapper and `stack.sh up milvus` wait for it; a
    // gRPC client made while the server is down does not recover from its failed first connect.
    await waitFor(
      `the dedicated Milvus on ${this.address}`,
      async () => {
        if (exited) throw new Error(`it exited: ${this.output}\n(server logs: ${join(this.dataDir, 'logs')})`);
        const health = await fetch(`http://127.0.0.1:${this.ports.metrics}/healthz`, { signal: AbortSignal.timeout(3_000) })
          .then((res) => res.text())
          .catch(() => '');
        return health === 'OK' ? true : undefined;
      },
      timeoutMs,
      500,
    );
    return Date.now() - started;
  }

  private async freePorts(): Promise<Record<string, number>> {
    const ports: Record<string, number> = {};
    for (const key of [...PORT_KEYS, 'etcd_peer_port', 'metrics']) ports[key] = await freePort();
    return ports;
  }

  /** Writes the server's configuration (and unpacks its binaries unless linked) once, before the first start. */
  private configure(ports: Record<string, number>): void {
    const bin = execFileSync('bash', [STACK, 'path', 'milvus'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    mkdirSync(this.dataDir, { recursive: true });
    const shared = join(this.cache, 'data', 'milvus', 'bin');
    // Hard links with the .md5 files beside them: the wheel finds them current and unpacks nothing.
    if (existsSync(shared) && spawnSync('cp', ['-al', shared, join(this.dataDir, 'bin')], { stdio: 'ignore' }).status !== 0) {
      rmSync(join(this.dataDir, 'bin'), { recursive: true, force: true });
    }
    execFileSync(join(dirname(bin), 'python'), ['-c', WRITE_CONFIG, this.dataDir, ...PORT_KEYS.map((key) => `${key}=${ports[key]}`)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 300_000,
    });
    const etcd = (port: number) => `http://127.0.0.1:${port}`;
    writeFileSync(
      join(this.dataDir, 'configs', 'embedEtcd.yaml'),
      [
        `name: ${this.alias}`,
        `data-dir: ${join(this.dataDir, 'data', 'etcd.data')}`,
        `listen-client-urls: ${etcd(ports.etcd_port)}`,
        `advertise-client-urls: ${etcd(ports.etcd_port)}`,
        `listen-peer-urls: ${etcd(ports.etcd_peer_port)}`,
        `initial-advertise-peer-urls: ${etcd(ports.etcd_peer_port)}`,
        `initial-cluster: ${this.alias}=${etcd(ports.etcd_peer_port)}`,
        'log-level: warn',
        '',
      ].join('\n'),
    );
    this.ports = ports;
  }

  /** Stops the server: SIGKILL to its whole process group (a crash) or SIGTERM (a clean stop). Resolves with the time it took, ms. */
  async stop(kind: 'crash' | 'clean' = 'clean'): Promise<number> {
    const started = Date.now();
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return 0;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-server.pid!, signal);
      } catch {
        // already gone
      }
    };
    group(kind === 'crash' ? 'SIGKILL' : 'SIGTERM');
    const forced = setTimeout(() => group('SIGKILL'), 30_000);
    await exited;
    clearTimeout(forced);
    // Whatever it started and left behind.
    group('SIGKILL');
    await waitFor('the dedicated Milvus processes to exit', async () => (groupAlive(server.pid!) ? undefined : true), 60_000, 200);
    return Date.now() - started;
  }

  /** Stops the server and starts it again on the same data and ports. Resolves with the stop and start times, ms. */
  async restart(kind: 'crash' | 'clean' = 'clean'): Promise<{ stopMs: number; startMs: number }> {
    const stopMs = await this.stop(kind);
    const startMs = await this.start();
    this.restarts++;
    return { stopMs, startMs };
  }

  /** Stops the server and deletes its data. */
  async remove(): Promise<void> {
    await this.stop('crash');
    rmSync(this.dataDir, { recursive: true, force: true });
    // The server's pid file (Milvus' run directory is fixed); named after the alias.
    rmSync(`/run/milvus/standalone-${this.alias}.pid`, { force: true });
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
