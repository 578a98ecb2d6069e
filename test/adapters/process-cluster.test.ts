// The ClusterPort contract on real local processes (agents/pool-agent.ts per replica).
import { ProcessPoolCluster } from '../../adapters/process/cluster';
import { clusterContract } from '../contracts/cluster.contract';
import { waitFor } from '../support/stack';

jest.setTimeout(60_000);

const clusters: ProcessPoolCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((cluster) => cluster.close()));
});

function processCluster(): ProcessPoolCluster {
  const cluster = new ProcessPoolCluster({ env: { QP_POOL_HEARTBEAT_MS: '200' }, restartDelayMs: 100 });
  clusters.push(cluster);
  return cluster;
}

clusterContract('ProcessPoolCluster', async () => processCluster());

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ProcessPoolCluster', () => {
  it('starts one operating-system process per replica and stops the surplus on scale-down', async () => {
    const cluster = processCluster();
    await cluster.scalePool('workers', 3);
    await waitFor('3 ready', async () => ((await cluster.getPool('workers'))?.ready === 3 ? true : undefined), 30_000);
    const pids = cluster.pids('workers');
    expect(pids).toHaveLength(3);
    expect(pids.every(running)).toBe(true);

    await cluster.scalePool('workers', 1);

    await waitFor('2 processes gone', () => (pids.slice(1).every((pid) => !running(pid)) ? true : undefined), 15_000);
    expect(running(pids[0])).toBe(true);
    await cluster.deletePool('workers');
    expect(running(pids[0])).toBe(false);
  });

  it('refuses more replicas than one machine should run', async () => {
    const cluster = new ProcessPoolCluster({ maxReplicas: 2 });
    clusters.push(cluster);
    await expect(cluster.scalePool('greedy', 3)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(cluster.pids('greedy')).toEqual([]);
  });

  it('restarts a replica that died unasked, as a ReplicaSet would', async () => {
    const cluster = processCluster();
    await cluster.scalePool('fragile', 2);
    await waitFor('2 ready', async () => ((await cluster.getPool('fragile'))?.ready === 2 ? true : undefined), 30_000);
    const [victim] = cluster.pids('fragile');

    process.kill(victim, 'SIGKILL');

    await waitFor(
      'a new process in place of the killed one',
      async () => {
        const pids = cluster.pids('fragile');
        const pool = await cluster.getPool('fragile');
        return pids.length === 2 && !pids.includes(victim) && pool?.ready === 2 ? true : undefined;
      },
      30_000,
    );
    await cluster.deletePool('fragile');
  });
});
