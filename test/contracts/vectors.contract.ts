import { randomBytes } from 'node:crypto';
import { VectorStoreError, type VectorFilter, type VectorMetric, type VectorPort, type VectorRecord } from '../../adapters/ports';
import { seededRandom } from '../../core/random';

/**
 * The behaviour every VectorPort adapter must show. Search must be exact
 * (Milvus: FLAT index); distances are smaller-is-closer for every metric:
 * L2 squared Euclidean, IP minus the inner product, COSINE 1 - similarity.
 */
export function vectorsContract(name: string, create: () => Promise<VectorPort>): void {
  describe(`${name} as VectorPort`, () => {
    let vectors: VectorPort;
    let collections: string[];

    beforeEach(async () => {
      vectors = await create();
      collections = [];
    });

    afterEach(async () => {
      for (const collection of collections) await vectors.dropCollection(collection);
      await vectors.close();
    });

    async function newCollection(dimension: number, metric?: VectorMetric): Promise<string> {
      const collection = `contract_${randomBytes(6).toString('hex')}`;
      collections.push(collection);
      await vectors.ensureCollection(collection, dimension, metric);
      return collection;
    }

    it('treats ensureCollection as idempotent for the same dimension and metric', async () => {
      const collection = await newCollection(3, 'L2');
      await vectors.upsert(collection, [{ id: 'a', vector: [1, 2, 3], fields: {} }]);

      await vectors.ensureCollection(collection, 3, 'L2');

      expect(await vectors.count(collection)).toBe(1);
    });

    it('refuses to change the dimension or metric of an existing collection', async () => {
      const collection = await newCollection(3, 'L2');

      for (const call of [() => vectors.ensureCollection(collection, 4, 'L2'), () => vectors.ensureCollection(collection, 3, 'IP')]) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(VectorStoreError);
        expect(error).toMatchObject({ code: 'COLLECTION_SHAPE_MISMATCH', collection });
      }
    });

    it('counts upserted records and returns them by id, leaving out unknown ids', async () => {
      const collection = await newCollection(3);
      await vectors.upsert(collection, [
        { id: 'a', vector: [1, 0, 0], fields: { agentId: 'agent-a', fitness: 0.5 } },
        { id: 'b', vector: [0, 1, 0], fields: { agentId: 'agent-b', fitness: 0.25 } },
        { id: 'c', vector: [0, 0.1, 1], fields: { agentId: 'agent-c', fitness: 1 } },
      ]);

      expect(await vectors.count(collection)).toBe(3);
      const records = sortById(await vectors.get(collection, ['c', 'missing', 'a']));
      expect(records.map((record) => record.id)).toEqual(['a', 'c']);
      expectVectorClose(records[0].vector, [1, 0, 0]);
      expectVectorClose(records[1].vector, [0, 0.1, 1]);
      expect(records[0].fields).toEqual({ agentId: 'agent-a', fitness: 0.5 });
      expect(records[1].fields).toEqual({ agentId: 'agent-c', fitness: 1 });
    });

    it('replaces the vector and fields of a record upserted again with the same id', async () => {
      const collection = await newCollection(2);
      await vectors.upsert(collection, [
        { id: 'a', vector: [1, 0], fields: { generation: 1 } },
        { id: 'b', vector: [0, 1], fields: { generation: 1 } },
      ]);

      await vectors.upsert(collection, [{ id: 'a', vector: [5, 5], fields: { generation: 2 } }]);

      expect(await vectors.count(collection)).toBe(2);
      const [record] = await vectors.get(collection, ['a']);
      expectVectorClose(record.vector, [5, 5]);
      expect(record.fields).toEqual({ generation: 2 });
      const [nearest] = await vectors.search(collection, [5, 5], 1);
      expect(nearest.id).toBe('a');
      expect(nearest.distance).toBeCloseTo(0, 5);
    });

    it('no longer counts, returns or finds deleted records, and ignores unknown ids', async () => {
      const collection = await newCollection(2);
      await vectors.upsert(collection, [
        { id: 'a', vector: [0, 0], fields: {} },
        { id: 'b', vector: [1, 1], fields: {} },
        { id: 'c', vector: [2, 2], fields: {} },
      ]);

      await vectors.delete(collection, ['a', 'missing']);

      expect(await vectors.count(collection)).toBe(2);
      expect(await vectors.get(collection, ['a'])).toEqual([]);
      const hits = await vectors.search(collection, [0, 0], 3);
      expect(hits.map((hit) => hit.id)).toEqual(['b', 'c']);
    });

    it.each<VectorMetric>(['L2', 'IP', 'COSINE'])(
      'with metric %s, returns the k nearest records in order, as a brute-force scan does',
      async (metric) => {
        const collection = await newCollection(16, metric);
        const random = seededRandom(42);
        const records = randomRecords(random, 200, 16);
        await vectors.upsert(collection, records);

        for (let query = 0; query < 5; query++) {
          const vector = randomVector(random, 16);
          const hits = await vectors.search(collection, vector, 10);
          const expected = bruteForce(records, vector, 10, metric);

          expect(hits.map((hit) => hit.id)).toEqual(expected.map((hit) => hit.id));
          hits.forEach((hit, i) => {
            expect(hit.distance).toBeCloseTo(expected[i].distance, 4);
            expect(hit.fields).toEqual(expected[i].record.fields);
          });
        }
      },
    );

    it('searchMany answers each query vector as search does, in query order', async () => {
      const collection = await newCollection(8);
      const random = seededRandom(11);
      const records = randomRecords(random, 60, 8);
      await vectors.upsert(collection, records);
      const queries = Array.from({ length: 4 }, () => randomVector(random, 8));

      const batch = await vectors.searchMany(collection, queries, 5, { shard: 2 });

      expect(batch).toHaveLength(queries.length);
      queries.forEach((query, i) => {
        const expected = bruteForce(records, query, 5, 'L2', { shard: 2 });
        expect(batch[i].map((hit) => hit.id)).toEqual(expected.map((hit) => hit.id));
      });
      expect(await vectors.searchMany(collection, [], 5)).toEqual([]);
    });

    it('with a filter, only returns records whose fields all equal the filter values', async () => {
      const collection = await newCollection(16);
      const random = seededRandom(7);
      const records = randomRecords(random, 200, 16);
      await vectors.upsert(collection, records);
      const filter: VectorFilter = { swarmId: 'swarm-b', shard: 1 };

      const vector = randomVector(random, 16);
      const hits = await vectors.search(collection, vector, 10, filter);
      const expected = bruteForce(records, vector, 10, 'L2', filter);

      expect(expected.length).toBeGreaterThan(0);
      expect(hits.map((hit) => hit.id)).toEqual(expected.map((hit) => hit.id));
      for (const hit of hits) expect(hit.fields).toMatchObject(filter);
    });

    it('returns every record when k exceeds the collection size, and nothing from an empty collection', async () => {
      const collection = await newCollection(2);
      expect(await vectors.search(collection, [0, 0], 5)).toEqual([]);

      await vectors.upsert(collection, [
        { id: 'far', vector: [3, 3], fields: {} },
        { id: 'near', vector: [1, 1], fields: {} },
      ]);

      expect((await vectors.search(collection, [0, 0], 5)).map((hit) => hit.id)).toEqual(['near', 'far']);
    });

    it('reports L2 distance as the squared Euclidean distance', async () => {
      const collection = await newCollection(2, 'L2');
      await vectors.upsert(collection, [{ id: 'a', vector: [3, 4], fields: {} }]);

      const [hit] = await vectors.search(collection, [0, 0], 1);

      expect(hit.distance).toBeCloseTo(25, 5);
    });

    it('reports IP distance as minus the inner product, so the largest product ranks first', async () => {
      const collection = await newCollection(2, 'IP');
      await vectors.upsert(collection, [
        { id: 'small', vector: [1, 0], fields: {} },
        { id: 'large', vector: [3, 1], fields: {} },
      ]);

      const hits = await vectors.search(collection, [2, 0], 2);

      expect(hits.map((hit) => hit.id)).toEqual(['large', 'small']);
      expect(hits[0].distance).toBeCloseTo(-6, 5);
      expect(hits[1].distance).toBeCloseTo(-2, 5);
    });

    it('reports COSINE distance as one minus the cosine similarity', async () => {
      const collection = await newCollection(2, 'COSINE');
      await vectors.upsert(collection, [
        { id: 'same', vector: [2, 0], fields: {} },
        { id: 'orthogonal', vector: [0, 3], fields: {} },
        { id: 'opposite', vector: [-1, 0], fields: {} },
      ]);

      const hits = await vectors.search(collection, [5, 0], 3);

      expect(hits.map((hit) => hit.id)).toEqual(['same', 'orthogonal', 'opposite']);
      expect(hits[0].distance).toBeCloseTo(0, 5);
      expect(hits[1].distance).toBeCloseTo(1, 5);
      expect(hits[2].distance).toBeCloseTo(2, 5);
    });

    it('rejects a vector of the wrong dimension on upsert and on search, naming both dimensions', async () => {
      const collection = await newCollection(16);

      const onUpsert = await rejectionOf(vectors.upsert(collection, [{ id: 'a', vector: [1, 2, 3], fields: {} }]));
      const onSearch = await rejectionOf(vectors.search(collection, [1, 2, 3], 1));

      for (const error of [onUpsert, onSearch]) {
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(/\b16\b/);
        expect((error as Error).message).toMatch(/\b3\b/);
      }
      expect(await vectors.count(collection)).toBe(0);
    });

    it('rejects every operation on a collection that does not exist', async () => {
      const missing = `contract_missing_${randomBytes(6).toString('hex')}`;

      const notFound = { code: 'COLLECTION_NOT_FOUND', collection: missing };
      for (const call of [
        () => vectors.upsert(missing, [{ id: 'a', vector: [1], fields: {} }]),
        () => vectors.search(missing, [1], 1),
        () => vectors.get(missing, ['a']),
        () => vectors.delete(missing, ['a']),
        () => vectors.count(missing),
        () => vectors.flush(missing),
      ]) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(VectorStoreError);
        expect(error).toMatchObject(notFound);
      }
    });

    it('removes a dropped collection with its records', async () => {
      const collection = await newCollection(2);
      await vectors.upsert(collection, [{ id: 'a', vector: [1, 1], fields: {} }]);

      await vectors.dropCollection(collection);

      expect(await rejectionOf(vectors.count(collection))).toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
      await vectors.ensureCollection(collection, 2);
      expect(await vectors.count(collection)).toBe(0);
    });

    it('refuses calls after it is closed', async () => {
      const port = await create();

      await port.close();

      await expect(port.ensureCollection(`contract_${randomBytes(6).toString('hex')}`, 2)).rejects.toThrow(Error);
    });
  });
}

interface ExpectedHit {
  id: string;
  distance: number;
  record: VectorRecord;
}

function bruteForce(
  records: VectorRecord[],
  query: number[],
  k: number,
  metric: VectorMetric,
  filter: VectorFilter = {},
): ExpectedHit[] {
  return records
    .filter((record) => Object.entries(filter).every(([field, value]) => record.fields[field] === value))
    .map((record) => ({ id: record.id, distance: distanceBetween(record.vector, query, metric), record }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k);
}

function distanceBetween(a: number[], b: number[], metric: VectorMetric): number {
  const dot = a.reduce((sum, value, i) => sum + value * b[i], 0);
  switch (metric) {
    case 'L2':
      return a.reduce((sum, value, i) => sum + (value - b[i]) ** 2, 0);
    case 'IP':
      return -dot;
    case 'COSINE':
      return 1 - dot / (Math.hypot(...a) * Math.hypot(...b));
  }
}

function randomRecords(random: () => number, count: number, dimension: number): VectorRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `record-${i}`,
    vector: randomVector(random, dimension),
    fields: { swarmId: `swarm-${'abc'[i % 3]}`, shard: i % 4, index: i },
  }));
}

function randomVector(random: () => number, dimension: number): number[] {
  return Array.from({ length: dimension }, () => random() * 2 - 1);
}


function sortById(records: VectorRecord[]): VectorRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Adapters may store 32-bit floats. */
function expectVectorClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i], 5));
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}
