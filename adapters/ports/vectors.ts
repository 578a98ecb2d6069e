// The vector port: collections of vectors with scalar fields, nearest-neighbour search (Milvus, in-memory).

export type VectorMetric = 'L2' | 'IP' | 'COSINE';

export interface VectorRecord {
  id: string;
  vector: number[];
  /** Scalar fields for filtering (agentId, swarmId, fitness, timestamp...). */
  fields: Record<string, string | number>;
}

export interface VectorHit {
  id: string;
  /**
   * Distance under the collection's metric, smaller always closer: squared L2,
   * minus the inner product for IP, 1 - cosine similarity for COSINE. Adapters
   * over stores that report similarities (Milvus IP/COSINE) convert.
   */
  distance: number;
  fields: Record<string, string | number>;
}

/** Equality filters on scalar fields; all must match. */
export type VectorFilter = Record<string, string | number>;

export interface VectorPort {
  /** Metric defaults to L2. */
  ensureCollection(name: string, dimension: number, metric?: VectorMetric): Promise<void>;
  dropCollection(name: string): Promise<void>;
  /** Insert or replace by id. */
  upsert(collection: string, records: VectorRecord[]): Promise<void>;
  search(collection: string, vector: number[], k: number, filter?: VectorFilter): Promise<VectorHit[]>;
  /**
   * search() for each query vector, results in query order. Remote stores
   * answer a whole batch in one round trip (Milvus: one call with nq queries),
   * which is what makes scoring thousands of new behaviors affordable.
   */
  searchMany(collection: string, vectors: number[][], k: number, filter?: VectorFilter): Promise<VectorHit[][]>;
  get(collection: string, ids: string[]): Promise<VectorRecord[]>;
  delete(collection: string, ids: string[]): Promise<void>;
  count(collection: string): Promise<number>;
  /**
   * Makes the writes so far durable in the store and counted by its own
   * statistics (Milvus: seals growing segments, as `flush` does). Reads never
   * need it; call it once after a batch of writes, not per record.
   */
  flush(collection: string): Promise<void>;
  close(): Promise<void>;
}

export type VectorStoreErrorCode =
  /** The collection named does not exist. */
  | 'COLLECTION_NOT_FOUND'
  /** ensureCollection on an existing collection with another dimension or metric. */
  | 'COLLECTION_SHAPE_MISMATCH';

/** What a VectorPort throws for the conditions callers act on; anything else is an infrastructure failure. */
export class VectorStoreError extends Error {
  constructor(
    readonly code: VectorStoreErrorCode,
    readonly collection: string,
    message: string,
  ) {
    super(message);
    this.name = 'VectorStoreError';
  }
}

export const isVectorStoreError = (error: unknown, code?: VectorStoreErrorCode): error is VectorStoreError =>
  error instanceof VectorStoreError && (code === undefined || error.code === code);
