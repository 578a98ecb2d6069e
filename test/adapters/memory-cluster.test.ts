import { MemoryCluster } from '../../adapters/memory/cluster';
import { clusterContract } from '../contracts/cluster.contract';

clusterContract('MemoryCluster', async () => new MemoryCluster());

describe('MemoryCluster', () => {
  let cluster: MemoryCluster;

  beforeEach(() => {
    cluster = new MemoryCluster();
  });

  it('makes every desired replica ready as soon as a pool is scaled', async () => {
    expect(await cluster.scalePool('planners', 4)).toMatchObject({ desired: 4, ready: 4 });
    expect(await cluster.scalePool('planners', 1)).toMatchObject({ desired: 1, ready: 1 });
    expect(await cluster.getPool('planners')).toMatchObject({ desired: 1, ready: 1 });
  });

  it('merges labels given when scaling an existing pool into its labels', async () => {
    await cluster.scalePool('planners', 1, { role: 'planner', tier: 'small' });

    const pool = await cluster.scalePool('planners', 2, { tier: 'large' });

    expect(pool.labels).toEqual({ role: 'planner', tier: 'large' });
  });

  it('lists pools sorted by name', async () => {
    for (const name of ['workers', 'critics', 'planners']) await cluster.scalePool(name, 1);

    expect((await cluster.listPools()).map((pool) => pool.name)).toEqual(['critics', 'planners', 'workers']);
  });

  it.each([
    ['no characters', ''],
    ['an upper-case letter', 'Planners'],
    ['an underscore', 'planners_v2'],
    ['a leading hyphen', '-planners'],
    ['a trailing hyphen', 'planners-'],
    ['64 characters', 'p'.repeat(64)],
  ])('rejects a pool name with %s, as Kubernetes would', async (_, name) => {
    await expect(cluster.scalePool(name, 1)).rejects.toThrow(/pool name/);
  });
});
