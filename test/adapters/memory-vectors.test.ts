import { MemoryVectors } from '../../adapters/memory/vectors';
import { vectorsContract } from '../contracts/vectors.contract';

vectorsContract('MemoryVectors', async () => new MemoryVectors());

describe('MemoryVectors', () => {
  let vectors: MemoryVectors;

  beforeEach(() => {
    vectors = new MemoryVectors();
  });

  afterEach(async () => {
    await vectors.close();
  });

  it.each([
    ['a hyphen', 'agent-memory'],
    ['a leading digit', '1st_collection'],
    ['no characters', ''],
    ['a space', 'a b'],
    ['256 characters', 'x'.repeat(256)],
  ])('rejects a collection name with %s, as Milvus would', async (_, name) => {
    await expect(vectors.ensureCollection(name, 2)).rejects.toThrow(/collection name/);
  });

  it.each([0, -1, 2.5, 32769])('rejects dimension %p', async (dimension) => {
    await expect(vectors.ensureCollection('memories', dimension)).rejects.toThrow(/dimension/);
  });

  it('uses L2 when no metric is given', async () => {
    await vectors.ensureCollection('memories', 2);

    await expect(vectors.ensureCollection('memories', 2, 'L2')).resolves.toBeUndefined();
    await expect(vectors.ensureCollection('memories', 2, 'COSINE')).rejects.toThrow(/metric/);
  });

  it('stores vectors as 32-bit floats', async () => {
    await vectors.ensureCollection('memories', 2);

    await vectors.upsert('memories', [{ id: 'a', vector: [0.1, 1 / 3], fields: {} }]);

    const [record] = await vectors.get('memories', ['a']);
    expect(record.vector).toEqual([Math.fround(0.1), Math.fround(1 / 3)]);
  });

  it('returns records from get in the order their ids were asked for', async () => {
    await vectors.ensureCollection('memories', 1);
    await vectors.upsert('memories', ['a', 'b', 'c'].map((id, i) => ({ id, vector: [i], fields: {} })));

    const records = await vectors.get('memories', ['c', 'a', 'b']);

    expect(records.map((record) => record.id)).toEqual(['c', 'a', 'b']);
  });

  it('stores nothing of a batch that holds an invalid record', async () => {
    await vectors.ensureCollection('memories', 2);

    await expect(
      vectors.upsert('memories', [
        { id: 'good', vector: [1, 2], fields: {} },
        { id: 'bad', vector: [1, Number.NaN], fields: {} },
      ]),
    ).rejects.toThrow(/"bad"/);

    expect(await vectors.count('memories')).toBe(0);
  });

  it.each([0, -1, 1.5])('rejects k = %p', async (k) => {
    await vectors.ensureCollection('memories', 2);

    await expect(vectors.search('memories', [0, 0], k)).rejects.toThrow(/k must be/);
  });

  it('breaks distance ties by id, so equal results come back in a stable order', async () => {
    await vectors.ensureCollection('memories', 2);
    await vectors.upsert('memories', ['c', 'a', 'b'].map((id) => ({ id, vector: [1, 0], fields: {} })));

    const hits = await vectors.search('memories', [0, 0], 3);

    expect(hits.map((hit) => hit.id)).toEqual(['a', 'b', 'c']);
  });

  it('gives a zero vector cosine distance 1 from everything', async () => {
    await vectors.ensureCollection('memories', 2, 'COSINE');
    await vectors.upsert('memories', [{ id: 'zero', vector: [0, 0], fields: {} }]);

    const [hit] = await vectors.search('memories', [1, 0], 1);

    expect(hit.distance).toBe(1);
  });

  it('keeps search, get and count consistent after deletes move records around', async () => {
    await vectors.ensureCollection('memories', 1);
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    await vectors.upsert('memories', ids.map((id, i) => ({ id, vector: [i], fields: { i } })));

    await vectors.delete('memories', ids.filter((_, i) => i % 3 === 0));

    const kept = ids.filter((_, i) => i % 3 !== 0);
    expect(await vectors.count('memories')).toBe(kept.length);
    const records = await vectors.get('memories', kept);
    expect(records.map((record) => [record.id, record.vector[0], record.fields.i])).toEqual(
      kept.map((id) => [id, Number(id.slice(1)), Number(id.slice(1))]),
    );
    const hits = await vectors.search('memories', [0], 3);
    expect(hits.map((hit) => hit.id)).toEqual(['r1', 'r2', 'r4']);
  });
});
