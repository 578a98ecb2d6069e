import { randomBytes } from 'node:crypto';
import type { ClusterPort, PoolChange } from '../../adapters/ports';
import { DomainError } from '../../core/errors';
import { waitFor } from '../support/stack';

/**
 * The behaviour every ClusterPort adapter must show. Pools are named with a
 * random suffix and deleted after each test, so a shared cluster can be used.
 * A real cluster becomes ready later than it is asked to scale, so only the
 * desired count is checked right after scaling.
 */
export function clusterContract(
  name: string,
  create: () => Promise<ClusterPort>,
  options: { readyTimeoutMs?: number } = {},
): void {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  describe(`${name} as ClusterPort`, () => {
    let cluster: ClusterPort;
    let pools: string[];

    beforeEach(async () => {
      cluster = await create();
      pools = [];
    });

    afterEach(async () => {
      for (const pool of pools) await cluster.deletePool(pool);
    });

    function newPoolName(): string {
      const pool = `contract-${randomBytes(6).toString('hex')}`;
      pools.push(pool);
      return pool;
    }

    it('creates a missing pool with the desired replica count and labels when scaling it', async () => {
      const name = newPoolName();

      const created = await cluster.scalePool(name, 2, { role: 'worker' });

      expect(created).toMatchObject({ name, desired: 2, labels: { role: 'worker' } });
      expect(Number.isInteger(created.ready)).toBe(true);
      expect(created.ready).toBeGreaterThanOrEqual(0);
      expect(await cluster.getPool(name)).toMatchObject({ name, desired: 2, labels: { role: 'worker' } });
    });

    it('returns undefined for a pool that does not exist', async () => {
      expect(await cluster.getPool(newPoolName())).toBeUndefined();
    });

    it('changes the desired count of an existing pool and keeps its labels', async () => {
      const name = newPoolName();
      await cluster.scalePool(name, 1, { role: 'worker' });

      const scaled = await cluster.scalePool(name, 3);

      expect(scaled).toMatchObject({ name, desired: 3, labels: { role: 'worker' } });
      expect(await cluster.getPool(name)).toMatchObject({ desired: 3, labels: { role: 'worker' } });
    });

    it('keeps a pool scaled to zero', async () => {
      const name = newPoolName();
      await cluster.scalePool(name, 2);

      await cluster.scalePool(name, 0);

      expect(await cluster.getPool(name)).toMatchObject({ name, desired: 0 });
    });

    it('lists every pool it created', async () => {
      const names = [newPoolName(), newPoolName()];
      for (const name of names) await cluster.scalePool(name, 1);

      const listed = (await cluster.listPools()).filter((pool) => names.includes(pool.name));

      expect(listed.map((pool) => pool.name).sort()).toEqual([...names].sort());
    });

    it('removes a deleted pool, and deleting a pool that does not exist does nothing', async () => {
      const name = newPoolName();
      await cluster.scalePool(name, 1);

      await cluster.deletePool(name);
      await cluster.deletePool(name);

      expect(await cluster.getPool(name)).toBeUndefined();
      expect((await cluster.listPools()).map((pool) => pool.name)).not.toContain(name);
    });

    it.each([-1, 1.5, Number.NaN])('rejects %p replicas and leaves no pool behind', async (replicas) => {
      const name = newPoolName();

      await expect(cluster.scalePool(name, replicas)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(cluster.scalePool(name, replicas)).rejects.toBeInstanceOf(DomainError);

      expect(await cluster.getPool(name)).toBeUndefined();
    });

    it('hands out snapshots: changing a returned pool does not change the cluster', async () => {
      const name = newPoolName();
      const returned = [
        await cluster.scalePool(name, 1, { role: 'worker' }),
        await cluster.getPool(name),
        (await cluster.listPools()).find((pool) => pool.name === name),
      ];

      for (const pool of returned) {
        if (!pool) throw new Error(`pool ${name} is missing`);
        pool.desired = 99;
        pool.labels.role = 'changed';
      }

      expect(await cluster.getPool(name)).toMatchObject({ desired: 1, labels: { role: 'worker' } });
    });

    it('rejects a pool name Kubernetes would refuse with INVALID_ARGUMENT', async () => {
      await expect(cluster.scalePool('Not_A_Pool', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('makes the replicas of a scaled pool ready, and reports fewer after scaling down', async () => {
      const name = newPoolName();
      await cluster.scalePool(name, 2);

      await waitFor('2 ready replicas', async () => ((await cluster.getPool(name))?.ready === 2 ? true : undefined), readyTimeoutMs);
      await cluster.scalePool(name, 1);

      await waitFor('1 ready replica', async () => ((await cluster.getPool(name))?.ready === 1 ? true : undefined), readyTimeoutMs);
    });

    it('tells a watcher about pools created, scaled and deleted', async () => {
      const changes: PoolChange[] = [];
      const watch = await cluster.watchPools((change) => changes.push(change));
      try {
        const name = newPoolName();
        await cluster.scalePool(name, 1);
        await cluster.scalePool(name, 3);
        await waitFor(
          'an UPSERT with 3 desired',
          () => changes.find((c) => c.type === 'UPSERT' && c.pool.name === name && c.pool.desired === 3),
          readyTimeoutMs,
        );

        await cluster.deletePool(name);
        await waitFor('a DELETE', () => changes.find((c) => c.type === 'DELETE' && c.pool.name === name), readyTimeoutMs);
        expect(changes.filter((c) => c.pool.name === name).every((c) => c.pool.labels !== undefined)).toBe(true);
      } finally {
        await watch.close();
      }
    });
  });
}
