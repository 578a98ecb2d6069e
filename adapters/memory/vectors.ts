import { VectorStoreError, type VectorFilter, type VectorHit, type VectorMetric, type VectorPort, type VectorRecord } from '../ports';

type Fields = Record<string, string | number>;

interface Collection {
  readonly name: string;
  readonly dimension: number;
  readonly metric: VectorMetric;
  /** Record i occupies slot i of ids, fields, norms and vectors[i*dimension ..]. */
  readonly ids: string[];
  readonly fields: Fields[];
  vectors: Float32Array;
  norms: Float64Array;
  readonly slotById: Map<string, number>;
}

interface Candidate {
  readonly slot: number;
  readonly distance: number;
}

const METRICS: readonly VectorMetric[] = ['L2', 'IP', 'COSINE'];
/** Milvus' rule for collection names, enforced here so a name that Milvus would refuse fails in tests too. */
const COLLECTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const MAX_DIMENSION = 32768;

/**
 * Exact (brute-force) nearest-neighbour search over vectors stored as 32-bit
 * floats, like Milvus' FLAT index. Distances, smaller always meaning closer:
 * - L2: squared Euclidean distance (what Milvus reports for L2, no square root);
 * - IP: minus the inner product;
 * - COSINE: 1 - cosine similarity, from 0 (same direction) to 2 (opposite);
 *   a zero vector has similarity 0 with everything.
 * The default metric is L2.
 */
export class MemoryVectors implements VectorPort {
  private readonly collections = new Map<string, Collection>();
  private closed = false;

  async ensureCollection(name: string, dimension: number, metric: VectorMetric = 'L2'): Promise<void> {
    this.assertOpen();
    if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
      throw new Error(
        `invalid collection name "${name}": use letters, digits and underscores, not starting with a digit, at most 255 characters`,
      );
    }
    if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
      throw new Error(`dimension must be an integer from 1 to ${MAX_DIMENSION}, got ${dimension}`);
    }
    if (!METRICS.includes(metric)) throw new Error(`unknown metric "${metric}"`);

    const existing = this.collections.get(name);
    if (existing) {
      if (existing.dimension !== dimension || existing.metric !== metric) {
        throw new VectorStoreError(
          'COLLECTION_SHAPE_MISMATCH',
          name,
          `collection "${name}" exists with dimension ${existing.dimension} and metric ${existing.metric}, ` +
            `not dimension ${dimension} and metric ${metric}`,
        );
      }
      return;
    }
    const initialCapacity = 16;
    this.collections.set(name, {
      name,
      dimension,
      metric,
      ids: [],
      fields: [],
      vectors: new Float32Array(initialCapacity * dimension),
      norms: new Float64Array(initialCapacity),
      slotById: new Map(),
    });
  }

  async dropCollection(name: string): Promise<void> {
    this.assertOpen();
    this.collections.delete(name);
  }

  async upsert(collectionName: string, records: VectorRecord[]): Promise<void> {
    const collection = this.collection(collectionName);
    // Validate the whole batch first so a bad record leaves the collection untouched.
    const prepared = records.map((record) => {
      if (typeof record.id !== 'string' || record.id.length === 0) {
        throw new Error(`record ids must be non-empty strings in collection "${collectionName}"`);
      }
      return {
        id: record.id,
        vector: toFloat32(collection, record.vector, `record "${record.id}"`),
        fields: copyFields(record.fields, record.id),
      };
    });

    for (const { id, vector, fields } of prepared) {
      let slot = collection.slotById.get(id);
      if (slot === undefined) {
        slot = collection.ids.length;
        ensureCapacity(collection, slot + 1);
        collection.ids.push(id);
        collection.fields.push(fields);
        collection.slotById.set(id, slot);
      } else {
        collection.fields[slot] = fields;
      }
      collection.vectors.set(vector, slot * collection.dimension);
      collection.norms[slot] = norm(vector);
    }
  }

  async search(collectionName: string, vector: number[], k: number, filter?: VectorFilter): Promise<VectorHit[]> {
    const collection = this.collection(collectionName);
    const query = toFloat32(collection, vector, 'query vector');
    if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
    const conditions = Object.entries(filter ?? {});
    const queryNorm = norm(query);

    // Sorted by (distance, id) ascending, never longer than k.
    const best: Candidate[] = [];
    for (let slot = 0; slot < collection.ids.length; slot++) {
      const fields = collection.fields[slot];
      if (!conditions.every(([field, value]) => fields[field] === value)) continue;
      const candidate = { slot, distance: distance(collection, slot, query, queryNorm) };
      if (best.length === k && !closer(collection, candidate, best[k - 1])) continue;
      let low = 0;
      let high = best.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (closer(collection, best[middle], candidate)) low = middle + 1;
        else high = middle;
      }
      best.splice(low, 0, candidate);
      if (best.length > k) best.pop();
    }
    return best.map(({ slot, distance }) => ({
      id: collection.ids[slot],
      distance,
      fields: { ...collection.fields[slot] },
    }));
  }

  async searchMany(collectionName: string, vectors: number[][], k: number, filter?: VectorFilter): Promise<VectorHit[][]> {
    this.collection(collectionName);
    if (!Array.isArray(vectors)) throw new Error('query vectors must be an array of vectors');
    const results: VectorHit[][] = [];
    for (const vector of vectors) results.push(await this.search(collectionName, vector, k, filter));
    return results;
  }

  async get(collectionName: string, ids: string[]): Promise<VectorRecord[]> {
    const collection = this.collection(collectionName);
    const records: VectorRecord[] = [];
    for (const id of ids) {
      const slot = collection.slotById.get(id);
      if (slot === undefined) continue;
      const start = slot * collection.dimension;
      records.push({
        id,
        vector: Array.from(collection.vectors.subarray(start, start + collection.dimension)),
        fields: { ...collection.fields[slot] },
      });
    }
    return records;
  }

  async delete(collectionName: string, ids: string[]): Promise<void> {
    const collection = this.collection(collectionName);
    const { dimension } = collection;
    for (const id of ids) {
      const slot = collection.slotById.get(id);
      if (slot === undefined) continue;
      // Move the last record into the freed slot to keep storage dense.
      const last = collection.ids.length - 1;
      if (slot !== last) {
        const lastId = collection.ids[last];
        collection.ids[slot] = lastId;
        collection.fields[slot] = collection.fields[last];
        collection.norms[slot] = collection.norms[last];
        collection.vectors.copyWithin(slot * dimension, last * dimension, (last + 1) * dimension);
        collection.slotById.set(lastId, slot);
      }
      collection.ids.pop();
      collection.fields.pop();
      collection.slotById.delete(id);
    }
  }

  /** Writes are kept at once; only the collection's existence is checked. */
  async flush(collectionName: string): Promise<void> {
    await this.count(collectionName);
  }

  async count(collectionName: string): Promise<number> {
    return this.collection(collectionName).ids.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.collections.clear();
  }

  private collection(name: string): Collection {
    this.assertOpen();
    const collection = this.collections.get(name);
    if (!collection) throw new VectorStoreError('COLLECTION_NOT_FOUND', name, `collection "${name}" does not exist`);
    return collection;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MemoryVectors is closed');
  }
}

function toFloat32(collection: Collection, vector: number[], what: string): Float32Array {
  if (!Array.isArray(vector) || vector.length !== collection.dimension) {
    const actual = Array.isArray(vector) ? vector.length : typeof vector;
    throw new Error(
      `${what} has dimension ${actual} but collection "${collection.name}" expects dimension ${collection.dimension}`,
    );
  }
  if (!vector.every(Number.isFinite)) throw new Error(`${what} has a component that is not a finite number`);
  return Float32Array.from(vector);
}

function copyFields(fields: Fields, id: string): Fields {
  const copy: Fields = {};
  for (const [name, value] of Object.entries(fields ?? {})) {
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
      throw new Error(`field "${name}" of record "${id}" must be a string or a finite number`);
    }
    copy[name] = value;
  }
  return copy;
}

function ensureCapacity(collection: Collection, records: number): void {
  if (collection.norms.length >= records) return;
  const capacity = Math.max(records, collection.norms.length * 2);
  const vectors = new Float32Array(capacity * collection.dimension);
  vectors.set(collection.vectors);
  const norms = new Float64Array(capacity);
  norms.set(collection.norms);
  collection.vectors = vectors;
  collection.norms = norms;
}

function norm(values: Float32Array): number {
  let sum = 0;
  for (const value of values) sum += value * value;
  return Math.sqrt(sum);
}

function distance(collection: Collection, slot: number, query: Float32Array, queryNorm: number): number {
  const { vectors, dimension } = collection;
  const offset = slot * dimension;
  if (collection.metric === 'L2') {
    let sum = 0;
    for (let i = 0; i < dimension; i++) {
      const difference = vectors[offset + i] - query[i];
      sum += difference * difference;
    }
    return sum;
  }
  let dot = 0;
  for (let i = 0; i < dimension; i++) dot += vectors[offset + i] * query[i];
  if (collection.metric === 'IP') return -dot;
  const norms = collection.norms[slot] * queryNorm;
  if (norms === 0) return 1;
  // Rounding can push the similarity of parallel vectors a hair past 1.
  return Math.max(0, 1 - dot / norms);
}

/** Whether a ranks before b: smaller distance, ties broken by id. */
function closer(collection: Collection, a: Candidate, b: Candidate): boolean {
  if (a.distance !== b.distance) return a.distance < b.distance;
  return collection.ids[a.slot] < collection.ids[b.slot];
}
