// Agent pools as local processes: each replica is a child process (by default
// agents/pool-agent.ts), started and stopped on this machine. A replica is
// ready once it prints "ready"; one that exits unasked is restarted, as a
// Deployment would.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DomainError } from '../../core/errors';
import { checkPoolRequest } from '../../core/pools';
import type { AgentPool, ClusterPort, PoolChange, PoolWatch } from '../ports';

export interface ProcessPoolOptions {
  /** The program of one replica; default: node running agents/pool-agent.ts through tsx. */
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  /** How long a replica has to exit after SIGTERM before SIGKILL, ms. */
  stopGraceMs?: number;
  /** Wait before restarting a replica that exited unasked, ms. */
  restartDelayMs?: number;
  /** Most processes one pool may run: this machine, not a cluster, bears them. */
  maxReplicas?: number;
}

interface Replica {
  index: number;
  child: ChildProcess;
  ready: boolean;
  stopping: boolean;
  exited: Promise<void>;
}

interface Pool {
  name: string;
  labels: Record<string, string>;
  desired: number;
  replicas: Replica[];
  nextIndex: number;
}

const ROOT = join(__dirname, '..', '..');

export class ProcessPoolCluster implements ClusterPort {
  private readonly pools = new Map<string, Pool>();
  private readonly watchers = new Set<(change: PoolChange) => void>();
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: ProcessPoolOptions = {}) {}

  async listPools(): Promise<AgentPool[]> {
    return [...this.pools.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(snapshot);
  }

  async getPool(name: string): Promise<AgentPool | undefined> {
    const pool = this.pools.get(name);
    return pool && snapshot(pool);
  }

  /** Starts or stops processes until the pool has `replicas`; stopped ones get SIGTERM, newest first. */
  async scalePool(name: string, replicas: number, labels: Record<string, string> = {}): Promise<AgentPool> {
    checkPoolRequest(name, replicas);
    const max = this.options.maxReplicas ?? 32;
    if (replicas > max) {
      throw new DomainError('INVALID_ARGUMENT', `a local process pool runs at most ${max} replicas, asked ${replicas}`, { field: 'replicas' });
    }
    if (this.closed) throw new DomainError('UNAVAILABLE', 'the process pool is closed');
    let pool = this.pools.get(name);
    if (!pool) {
      pool = { name, labels: {}, desired: 0, replicas: [], nextIndex: 0 };
      this.pools.set(name, pool);
    }
    pool.labels = { ...pool.labels, ...labels };
    pool.desired = replicas;
    this.reconcile(pool);
    this.emit('UPSERT', pool);
    return snapshot(pool);
  }

  /** Stops every process of the pool and waits for them to exit. */
  async deletePool(name: string): Promise<void> {
    const pool = this.pools.get(name);
    if (!pool) return;
    this.pools.delete(name);
    pool.desired = 0;
    const exits = pool.replicas.map((replica) => this.stopReplica(replica));
    pool.replicas = [];
    this.emit('DELETE', pool);
    await Promise.all(exits);
  }

  async watchPools(onChange: (change: PoolChange) => void): Promise<PoolWatch> {
    this.watchers.add(onChange);
    return { close: async () => void this.watchers.delete(onChange) };
  }

  /** Pids of a pool's live processes (what `ps` would show). */
  pids(name: string): number[] {
    return (this.pools.get(name)?.replicas ?? []).flatMap((replica) => (replica.child.pid ? [replica.child.pid] : []));
  }

  /** Stops every pool's processes; the adapter refuses to scale afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.keys()].map((name) => this.deletePool(name)));
    await Promise.all(this.stopping);
  }

  private reconcile(pool: Pool): void {
    while (pool.replicas.length < pool.desired) pool.replicas.push(this.startReplica(pool, pool.nextIndex++));
    while (pool.replicas.length > pool.desired) {
      const replica = pool.replicas.pop() as Replica;
      void this.stopReplica(replica);
    }
  }

  private startReplica(pool: Pool, index: number): Replica {
    const command = this.options.command ?? process.execPath;
    const args = this.options.args ?? ['--import', 'tsx', join(ROOT, 'agents', 'pool-agent.ts')];
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...this.options.env, QP_POOL: pool.name, QP_POOL_REPLICA: String(index) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const replica: Replica = { index, child, ready: false, stopping: false, exited: Promise.resolve() };
    replica.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready' && !replica.ready && !replica.stopping) {
        replica.ready = true;
        this.emit('UPSERT', pool);
      }
    });
    void replica.exited.then(() => {
      const wasReady = replica.ready;
      replica.ready = false;
      if (replica.stopping || this.closed || this.pools.get(pool.name) !== pool) return;
      // Exited unasked: take it out and start a new one after a pause, as a ReplicaSet would.
      pool.replicas = pool.replicas.filter((r) => r !== replica);
      if (wasReady) this.emit('UPSERT', pool);
      setTimeout(() => {
        if (!this.closed && this.pools.get(pool.name) === pool) this.reconcile(pool);
      }, this.options.restartDelayMs ?? 1000).unref();
    });
    return replica;
  }

  private stopReplica(replica: Replica): Promise<void> {
    replica.stopping = true;
    replica.ready = false;
    if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGTERM');
    const killer = setTimeout(() => replica.child.kill('SIGKILL'), this.options.stopGraceMs ?? 5000);
    const done = replica.exited.then(() => clearTimeout(killer));
    this.stopping.add(done);
    void done.then(() => this.stopping.delete(done));
    return done;
  }

  private emit(type: PoolChange['type'], pool: Pool): void {
    for (const watcher of this.watchers) watcher({ type, pool: snapshot(pool) });
  }
}

function snapshot(pool: Pool): AgentPool {
  return {
    name: pool.name,
    desired: pool.desired,
    ready: pool.replicas.filter((replica) => replica.ready && !replica.stopping).length,
    labels: { ...pool.labels },
  };
}
