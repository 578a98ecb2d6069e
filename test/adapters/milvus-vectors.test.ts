// The VectorPort contract against a real Milvus (the PyPI `milvus` 2.3.5
// server that infra/local/stack.sh runs; the jest global set-up starts it),
// plus what only the Milvus adapter has to get right.
import { randomBytes } from 'node:crypto';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { MilvusVectors, filterExpression } from '../../adapters/milvus/vectors';
import { vectorsContract } from '../contracts/vectors.contract';
import { requireTestMilvus } from '../support/milvus';

// Each test creates, indexes and loads a collection: seconds, not milliseconds.
jest.setTimeout(120_000);

vectorsContract('MilvusVectors (HNSW)', async () => new MilvusVectors({ address: requireTestMilvus() }));

describe('MilvusVectors', () => {
  let vectors: MilvusVectors;
  const created: string[] = [];

  beforeAll(() => {
    vectors = new MilvusVectors({ address: requireTestMilvus() });
  });

  afterAll(async () => {
    for (const name of created) await vectors.dropCollection(name);
    await vectors.close();
  });

  async function collection(dimension: number, port: MilvusVectors = vectors): Promise<string> {
    const name = `milvus_${randomBytes(6).toString('hex')}`;
    created.push(name);
    await port.ensureCollection(name, dimension, 'L2');
    return name;
  }

  it("after flush, Milvus' own collection statistics count every upserted record", async () => {
    const name = await collection(3);
    await vectors.upsert(name, Array.from({ length: 25 }, (_, i) => ({ id: `r${i}`, vector: [i, 1, 2], fields: {} })));
    await vectors.flush(name);
    const client = new MilvusClient({ address: requireTestMilvus() });
    try {
      const stats = await client.getCollectionStatistics({ collection_name: name });
      expect(Number(stats.data.row_count)).toBe(25);
    } finally {
      await client.closeConnection();
    }
  });

  it('quotes filter values so a value cannot change the expression', () => {
    expect(filterExpression({ agentId: 'a" or id != "' })).toBe('agentId == "a\\" or id != \\""');
    expect(filterExpression({ swarmId: 's', shard: 1 })).toBe('swarmId == "s" and shard == 1');
    expect(() => filterExpression({ 'x == 1 or y': 1 })).toThrow(/cannot filter/);
  });

  it('refuses record fields named like its own id and vector fields', async () => {
    const name = await collection(2);

    await expect(vectors.upsert(name, [{ id: 'a', vector: [1, 1], fields: { vector: 1 } }])).rejects.toThrow(/"vector"/);
  });

  it('a filter with a quote in its value matches that exact value only', async () => {
    const name = await collection(2);
    await vectors.upsert(name, [
      { id: 'a', vector: [0, 0], fields: { agentId: 'tricky"one' } },
      { id: 'b', vector: [0, 1], fields: { agentId: 'plain' } },
    ]);

    const hits = await vectors.search(name, [0, 0], 5, { agentId: 'tricky"one' });

    expect(hits.map((hit) => hit.id)).toEqual(['a']);
  });

  it('answers a batch of queries in query order, as single searches do', async () => {
    const name = await collection(3);
    await vectors.upsert(
      name,
      Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, vector: [i, i % 7, i % 3], fields: { i } })),
    );
    const queries = [
      [0, 0, 0],
      [25, 4, 1],
      [49, 0, 0],
    ];

    const batch = await vectors.searchMany(name, queries, 4);

    for (const [i, query] of queries.entries()) {
      expect(batch[i].map((hit) => hit.id)).toEqual((await vectors.search(name, query, 4)).map((hit) => hit.id));
    }
  });

  it('sees a collection another client created, with its dimension and metric', async () => {
    const name = await collection(5);
    const other = new MilvusVectors({ address: requireTestMilvus() });
    try {
      await other.upsert(name, [{ id: 'x', vector: [1, 2, 3, 4, 5], fields: {} }]);
      await expect(other.ensureCollection(name, 5, 'COSINE')).rejects.toThrow(/metric L2/);
      expect(await vectors.count(name)).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('a read of a collection released since it was opened (as by a server restart) loads it again and answers', async () => {
    const name = await collection(3);
    await vectors.upsert(name, [{ id: 'a', vector: [1, 2, 3], fields: {} }]);
    expect(await vectors.count(name)).toBe(1);
    const client = new MilvusClient({ address: requireTestMilvus() });
    try {
      await client.releaseCollection({ collection_name: name });
    } finally {
      await client.closeConnection();
    }

    expect(await vectors.count(name)).toBe(1);
    expect((await vectors.search(name, [1, 2, 3], 1)).map((hit) => hit.id)).toEqual(['a']);
  });

  it('an unreachable server fails a call within the deadline and bounded retries', async () => {
    const nowhere = new MilvusVectors({ address: '127.0.0.1:1', timeoutMs: 500, retries: 1 });
    const started = Date.now();

    await expect(nowhere.ensureCollection('anything', 2)).rejects.toThrow(/milvus hasCollection/);

    expect(Date.now() - started).toBeLessThan(10_000);
    await nowhere.close();
  });
});
