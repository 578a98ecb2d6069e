// VectorPort over a real Milvus (2.3+), through @zilliz/milvus2-sdk-node.
import {
  ConsistencyLevelEnum,
  DataType,
  LoadState,
  MilvusClient,
  type ResStatus,
  type RowData,
} from '@zilliz/milvus2-sdk-node';
import { VectorStoreError, type VectorFilter, type VectorHit, type VectorMetric, type VectorPort, type VectorRecord } from '../ports';

type Fields = Record<string, string | number>;

export type MilvusIndexType = 'HNSW' | 'IVF_FLAT' | 'FLAT';

export interface MilvusVectorsOptions {
  /** host:port of the Milvus proxy (MILVUS_ADDRESS). */
  address: string;
  /** Index built on new collections. HNSW by default. */
  index?: MilvusIndexType;
  /** HNSW build parameters. */
  hnsw?: { M: number; efConstruction: number };
  /** HNSW search breadth; raised to k when k is larger. Higher is slower and more exact. */
  ef?: number;
  /** IVF_FLAT build and search parameters. */
  ivf?: { nlist: number; nprobe: number };
  /** Deadline of one call, in milliseconds. */
  timeoutMs?: number;
  /** Retries of a call that failed transiently (unavailable, deadline, rate limit). */
  retries?: number;
  /** Rows per insert/upsert call and queries per search call. */
  batchSize?: number;
  /** How long ensureCollection waits for a collection to load, in milliseconds. */
  loadTimeoutMs?: number;
}

interface CollectionInfo {
  dimension: number;
  metric: VectorMetric;
}

const METRICS: readonly VectorMetric[] = ['L2', 'IP', 'COSINE'];
const COLLECTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
/** Scalar fields become keys of Milvus' dynamic field and names in filter expressions. */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const ID_FIELD = 'id';
const VECTOR_FIELD = 'vector';
const DYNAMIC_FIELD = '$meta';
const RESERVED_FIELDS = new Set([ID_FIELD, VECTOR_FIELD, DYNAMIC_FIELD]);
const MAX_ID_LENGTH = 512;
const MAX_DIMENSION = 32768;
/** Milvus' topk limit. */
const MAX_K = 16384;
/** Calls that ensureLoaded itself makes. */
const LOADING_OPERATIONS = new Set(['getLoadState', 'loadCollection']);
/** Milvus' own status code (merr) for a read of a collection that is not loaded, as after a restart of the server. */
const COLLECTION_NOT_LOADED = 101;
/** gRPC status codes worth another attempt: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const TRANSIENT_GRPC_CODES = new Set([4, 8, 14]);

export class MilvusError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
    this.name = 'MilvusError';
  }
}

/**
 * One collection per name: `id` (VarChar primary key), `vector` (FloatVector)
 * and Milvus' dynamic field for the scalar fields of the records, so any
 * record fields can be stored and filtered on without a schema per use.
 *
 * Every read runs at consistency level Strong: a search sees every write this
 * or any other client made before it (Milvus waits for its time tick, ~0.2-0.4 s
 * per call; searchMany pays it once per batch). Distances follow the port:
 * Milvus reports L2 as the squared distance already; IP and COSINE come back
 * as similarities and are turned into -IP and 1 - cosine here.
 *
 * Segments smaller than Milvus' minSegmentSizeToEnableIndex (1024 rows) are
 * searched by brute force, so small collections give exact results with any
 * index; large ones get HNSW with ef = max(ef, k) (default 128).
 */
export class MilvusVectors implements VectorPort {
  private readonly client: MilvusClient;
  private readonly collections = new Map<string, CollectionInfo>();
  private readonly options: Required<Omit<MilvusVectorsOptions, 'hnsw' | 'ivf'>> &
    Pick<Required<MilvusVectorsOptions>, 'hnsw' | 'ivf'>;
  private closed = false;

  constructor(options: MilvusVectorsOptions) {
    this.options = {
      index: 'HNSW',
      hnsw: { M: 16, efConstruction: 200 },
      ef: 128,
      ivf: { nlist: 1024, nprobe: 64 },
      timeoutMs: 30_000,
      retries: 3,
      batchSize: 2000,
      loadTimeoutMs: 120_000,
      ...options,
    };
    // The SDK's own retries are off: call() retries, boundedly, only what is transient.
    this.client = new MilvusClient({
      address: options.address,
      timeout: this.options.timeoutMs,
      maxRetries: 0,
      logLevel: 'error',
    });
    // The SDK connects in the background and leaves that promise unobserved; a
    // server that is down surfaces through the first call instead.
    this.client.connectPromise?.catch(() => undefined);
  }

  get address(): string {
    return this.options.address;
  }

  async ensureCollection(name: string, dimension: number, metric: VectorMetric = 'L2'): Promise<void> {
    this.assertOpen();
    assertCollectionName(name);
    if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) {
      throw new Error(`dimension must be an integer from 1 to ${MAX_DIMENSION}, got ${dimension}`);
    }
    if (!METRICS.includes(metric)) throw new Error(`unknown metric "${metric}"`);

    let info = this.collections.get(name);
    if (!info) {
      const exists = await this.call('hasCollection', name, () => this.client.hasCollection({ collection_name: name }));
      if (!exists.value) await this.create(name, dimension, metric);
      info = await this.describe(name, { dimension, metric });
    }
    if (info.dimension !== dimension || info.metric !== metric) {
      throw new VectorStoreError(
        'COLLECTION_SHAPE_MISMATCH',
        name,
        `collection "${name}" exists with dimension ${info.dimension} and metric ${info.metric}, ` +
          `not dimension ${dimension} and metric ${metric}`,
      );
    }
  }

  async dropCollection(name: string): Promise<void> {
    this.assertOpen();
    assertCollectionName(name);
    this.collections.delete(name);
    const exists = await this.call('hasCollection', name, () => this.client.hasCollection({ collection_name: name }));
    if (!exists.value) return;
    await this.call('dropCollection', name, () => this.client.dropCollection({ collection_name: name }));
  }

  async upsert(collection: string, records: VectorRecord[]): Promise<void> {
    const info = await this.info(collection);
    // Validate the whole batch first so a bad record leaves the collection untouched.
    const rows = new Map<string, RowData>();
    for (const record of records) {
      if (typeof record.id !== 'string' || record.id.length === 0 || record.id.length > MAX_ID_LENGTH) {
        throw new Error(`record ids must be strings of 1 to ${MAX_ID_LENGTH} characters in collection "${collection}"`);
      }
      const vector = checkVector(collection, info, record.vector, `record "${record.id}"`);
      // A later record with the same id wins, as a second upsert would.
      rows.set(record.id, { ...checkFields(record.fields, record.id), [ID_FIELD]: record.id, [VECTOR_FIELD]: vector });
    }
    const all = [...rows.values()];
    for (let start = 0; start < all.length; start += this.options.batchSize) {
      const data = all.slice(start, start + this.options.batchSize);
      await this.call('upsert', collection, () => this.client.upsert({ collection_name: collection, data }));
    }
  }

  async search(collection: string, vector: number[], k: number, filter?: VectorFilter): Promise<VectorHit[]> {
    const [hits] = await this.searchMany(collection, [vector], k, filter);
    return hits;
  }

  async searchMany(collection: string, vectors: number[][], k: number, filter?: VectorFilter): Promise<VectorHit[][]> {
    const info = await this.info(collection);
    if (!Array.isArray(vectors)) throw new Error('query vectors must be an array of vectors');
    const queries = vectors.map((vector, i) =>
      checkVector(collection, info, vector, vectors.length === 1 ? 'query vector' : `query vector ${i}`),
    );
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new Error(`k must be an integer from 1 to ${MAX_K}, got ${k}`);
    const expr = filterExpression(filter);
    const params = this.searchParams(k);
    const results: VectorHit[][] = [];
    for (let start = 0; start < queries.length; start += this.options.batchSize) {
      const batch = queries.slice(start, start + this.options.batchSize);
      const response = await this.call('search', collection, () =>
        this.client.search({
          collection_name: collection,
          anns_field: VECTOR_FIELD,
          data: batch,
          limit: k,
          metric_type: info.metric,
          params,
          ...(expr ? { filter: expr } : {}),
          output_fields: [ID_FIELD, DYNAMIC_FIELD],
          consistency_level: ConsistencyLevelEnum.Strong,
        }),
      );
      // One query comes back as a flat list of hits, several as a list of lists.
      const raw = response.results as unknown[];
      const perQuery = (batch.length === 1 && !Array.isArray(raw[0]) ? [raw] : raw) as Record<string, unknown>[][];
      for (let i = 0; i < batch.length; i++) {
        results.push(
          (perQuery[i] ?? [])
            .map((hit) => ({
              id: String(hit[ID_FIELD]),
              distance: toDistance(info.metric, Number(hit.score)),
              fields: fieldsOf(hit),
            }))
            .sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        );
      }
    }
    return results;
  }

  async get(collection: string, ids: string[]): Promise<VectorRecord[]> {
    await this.info(collection);
    const found = new Map<string, VectorRecord>();
    const wanted = [...new Set(ids.filter((id) => typeof id === 'string' && id.length > 0))];
    for (let start = 0; start < wanted.length; start += this.options.batchSize) {
      const chunk = wanted.slice(start, start + this.options.batchSize);
      const response = await this.call('query', collection, () =>
        this.client.query({
          collection_name: collection,
          filter: `${ID_FIELD} in ${JSON.stringify(chunk)}`,
          output_fields: [ID_FIELD, VECTOR_FIELD, DYNAMIC_FIELD],
          limit: chunk.length,
          consistency_level: ConsistencyLevelEnum.Strong,
        }),
      );
      for (const row of response.data as Record<string, unknown>[]) {
        const id = String(row[ID_FIELD]);
        found.set(id, { id, vector: (row[VECTOR_FIELD] as number[]).map(Number), fields: fieldsOf(row) });
      }
    }
    return ids.flatMap((id) => {
      const record = found.get(id);
      return record ? [{ ...record, fields: { ...record.fields } }] : [];
    });
  }

  async delete(collection: string, ids: string[]): Promise<void> {
    await this.info(collection);
    const unique = [...new Set(ids)];
    for (let start = 0; start < unique.length; start += this.options.batchSize) {
      const chunk = unique.slice(start, start + this.options.batchSize);
      await this.call('delete', collection, () =>
        this.client.delete({ collection_name: collection, filter: `${ID_FIELD} in ${JSON.stringify(chunk)}` }),
      );
    }
  }

  async count(collection: string): Promise<number> {
    await this.info(collection);
    const response = await this.call('count', collection, () =>
      this.client.query({
        collection_name: collection,
        output_fields: ['count(*)'],
        filter: '',
        consistency_level: ConsistencyLevelEnum.Strong,
      }),
    );
    return Number((response.data as Record<string, unknown>[])[0]?.['count(*)'] ?? 0);
  }

  /** Seals the collection's growing segments: Milvus then indexes them and counts them in its statistics. */
  async flush(collection: string): Promise<void> {
    await this.info(collection);
    await this.call('flush', collection, () => this.client.flushSync({ collection_names: [collection] }));
  }

  /** Waits until every sealed row of the collection is indexed, or timeoutMs passes. */
  async waitForIndex(collection: string, timeoutMs = 600_000): Promise<{ indexedRows: number; totalRows: number }> {
    await this.info(collection);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await this.call('describeIndex', collection, () =>
        this.client.describeIndex({ collection_name: collection, field_name: VECTOR_FIELD }),
      );
      const description = response.index_descriptions[0];
      const indexedRows = Number(description?.indexed_rows ?? 0);
      const totalRows = Number(description?.total_rows ?? 0);
      const pending = Number(description?.pending_index_rows ?? 0);
      if (description && pending === 0 && indexedRows >= totalRows) return { indexedRows, totalRows };
      if (Date.now() > deadline) {
        throw new Error(`index of "${collection}" not built after ${timeoutMs} ms (${indexedRows}/${totalRows} rows)`);
      }
      await sleep(1000);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.collections.clear();
    await this.client.closeConnection();
  }

  // ------------------------------------------------------------------ internals

  private searchParams(k: number): Record<string, number> {
    switch (this.options.index) {
      case 'HNSW':
        return { ef: Math.max(this.options.ef, k) };
      case 'IVF_FLAT':
        return { nprobe: Math.min(this.options.ivf.nprobe, this.options.ivf.nlist) };
      case 'FLAT':
        return {};
    }
  }

  private indexParams(): Record<string, number> {
    switch (this.options.index) {
      case 'HNSW':
        return { M: this.options.hnsw.M, efConstruction: this.options.hnsw.efConstruction };
      case 'IVF_FLAT':
        return { nlist: this.options.ivf.nlist };
      case 'FLAT':
        return {};
    }
  }

  private async create(name: string, dimension: number, metric: VectorMetric): Promise<void> {
    try {
      await this.call('createCollection', name, () =>
        this.client.createCollection({
          collection_name: name,
          fields: [
            { name: ID_FIELD, data_type: DataType.VarChar, is_primary_key: true, max_length: MAX_ID_LENGTH },
            { name: VECTOR_FIELD, data_type: DataType.FloatVector, dim: dimension },
          ],
          enable_dynamic_field: true,
          consistency_level: 'Strong',
        }),
      );
    } catch (error) {
      // Another client created it in the meantime; describe() checks it matches.
      if (!/already exist/i.test(String((error as Error).message))) throw error;
    }
  }

  /** Reads (and caches) a collection's dimension and metric; indexes and loads it when needed. */
  private async describe(name: string, creating?: CollectionInfo): Promise<CollectionInfo> {
    const described = await this.call('describeCollection', name, () =>
      this.client.describeCollection({ collection_name: name }),
    );
    const vectorField = described.schema.fields.find((field) => field.name === VECTOR_FIELD);
    const dimension = Number(vectorField?.dim ?? vectorField?.type_params?.find?.((p) => p.key === 'dim')?.value);
    if (!vectorField || !Number.isInteger(dimension)) {
      throw new Error(`collection "${name}" has no float vector field "${VECTOR_FIELD}": not made by this adapter`);
    }
    let metric = await this.indexMetric(name);
    if (!metric) {
      // Created but never indexed (a crash between the two calls): finish the job.
      metric = creating?.metric ?? 'L2';
      await this.call('createIndex', name, () =>
        this.client.createIndex({
          collection_name: name,
          field_name: VECTOR_FIELD,
          index_type: this.options.index,
          metric_type: metric,
          params: this.indexParams(),
        }),
      );
    }
    await this.ensureLoaded(name);
    const info = { dimension, metric };
    this.collections.set(name, info);
    return info;
  }

  private async indexMetric(name: string): Promise<VectorMetric | undefined> {
    let response;
    try {
      response = await this.call('describeIndex', name, () =>
        this.client.describeIndex({ collection_name: name, field_name: VECTOR_FIELD }),
      );
    } catch (error) {
      if (/index not (found|exist)|index doesn't exist|IndexNotExist|no index on/i.test(String((error as Error).message))) {
        return undefined;
      }
      throw error;
    }
    const params = response.index_descriptions[0]?.params ?? [];
    const metric = params.find((p) => p.key === 'metric_type')?.value as VectorMetric | undefined;
    return metric && METRICS.includes(metric) ? metric : undefined;
  }

  private async ensureLoaded(name: string): Promise<void> {
    const state = await this.call('getLoadState', name, () => this.client.getLoadState({ collection_name: name }));
    if (state.state === LoadState.LoadStateLoaded) return;
    if (state.state !== LoadState.LoadStateLoading) {
      await this.call('loadCollection', name, () => this.client.loadCollection({ collection_name: name }));
    }
    const deadline = Date.now() + this.options.loadTimeoutMs;
    for (;;) {
      const now = await this.call('getLoadState', name, () => this.client.getLoadState({ collection_name: name }));
      if (now.state === LoadState.LoadStateLoaded) return;
      if (Date.now() > deadline) throw new Error(`collection "${name}" not loaded after ${this.options.loadTimeoutMs} ms`);
      await sleep(100);
    }
  }

  private async info(name: string): Promise<CollectionInfo> {
    this.assertOpen();
    assertCollectionName(name);
    const cached = this.collections.get(name);
    if (cached) return cached;
    const exists = await this.call('hasCollection', name, () => this.client.hasCollection({ collection_name: name }));
    if (!exists.value) throw new VectorStoreError('COLLECTION_NOT_FOUND', name, `collection "${name}" does not exist`);
    return this.describe(name);
  }

  /**
   * Runs one SDK call with the client's deadline, turns a failed status into a
   * MilvusError, and retries transient failures a bounded number of times
   * with exponential backoff (all calls here are idempotent: upserts by id).
   */
  private async call<T>(operation: string, collection: string, run: () => Promise<T>): Promise<T> {
    this.assertOpen();
    let reloaded = false;
    for (let attempt = 0; ; attempt++) {
      let failure: MilvusError;
      try {
        const result = await run();
        const status = statusOf(result);
        if (!status || status.error_code === 'Success' || status.error_code === 0 as unknown) return result;
        if (status.code === COLLECTION_NOT_LOADED && !reloaded && !LOADING_OPERATIONS.has(operation)) {
          // A restarted server loads its collections again on its own, a while after it answers: wait
          // for that (or load it) within loadTimeoutMs, once per call, then run the call again.
          reloaded = true;
          await this.ensureLoaded(collection);
          attempt--;
          continue;
        }
        failure = new MilvusError(
          `milvus ${operation} on "${collection}" failed: ${status.error_code} ${status.reason ?? ''}`.trim(),
          status.retriable === true || status.error_code === 'RateLimit',
        );
      } catch (error) {
        failure = toMilvusError(operation, collection, error);
      }
      if (!failure.retriable || attempt >= this.options.retries || this.closed) throw failure;
      await sleep(Math.min(5000, 200 * 2 ** attempt));
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('MilvusVectors is closed');
  }
}

function assertCollectionName(name: string): void {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new Error(
      `invalid collection name "${name}": use letters, digits and underscores, not starting with a digit, at most 255 characters`,
    );
  }
}

function checkVector(collection: string, info: CollectionInfo, vector: number[], what: string): number[] {
  if (!Array.isArray(vector) || vector.length !== info.dimension) {
    const actual = Array.isArray(vector) ? vector.length : typeof vector;
    throw new Error(`${what} has dimension ${actual} but collection "${collection}" expects dimension ${info.dimension}`);
  }
  if (!vector.every(Number.isFinite)) throw new Error(`${what} has a component that is not a finite number`);
  return vector;
}

function checkFields(fields: Fields, id: string): Fields {
  const copy: Fields = {};
  for (const [name, value] of Object.entries(fields ?? {})) {
    if (!FIELD_NAME.test(name) || RESERVED_FIELDS.has(name)) {
      throw new Error(`field "${name}" of record "${id}" is not allowed: use an identifier other than id and vector`);
    }
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
      throw new Error(`field "${name}" of record "${id}" must be a string or a finite number`);
    }
    copy[name] = value;
  }
  return copy;
}

/** Equality filters as a Milvus boolean expression; names are identifiers, strings JSON-quoted. */
export function filterExpression(filter: VectorFilter | undefined): string {
  const clauses: string[] = [];
  for (const [name, value] of Object.entries(filter ?? {})) {
    if (!FIELD_NAME.test(name) || RESERVED_FIELDS.has(name)) throw new Error(`cannot filter on field "${name}"`);
    if (typeof value === 'string') clauses.push(`${name} == ${JSON.stringify(value)}`);
    else if (typeof value === 'number' && Number.isFinite(value)) clauses.push(`${name} == ${value}`);
    else throw new Error(`filter value of "${name}" must be a string or a finite number`);
  }
  return clauses.join(' and ');
}

function toDistance(metric: VectorMetric, score: number): number {
  switch (metric) {
    case 'L2':
      return score;
    case 'IP':
      return -score;
    case 'COSINE':
      // Rounding can push the similarity of parallel vectors a hair past 1.
      return Math.min(2, Math.max(0, 1 - score));
  }
}

function fieldsOf(row: Record<string, unknown>): Fields {
  const meta = row[DYNAMIC_FIELD];
  const source = meta && typeof meta === 'object' ? (meta as Record<string, unknown>) : row;
  const fields: Fields = {};
  for (const [name, value] of Object.entries(source)) {
    if (RESERVED_FIELDS.has(name) || name === 'score') continue;
    if (typeof value === 'string' || typeof value === 'number') fields[name] = value;
  }
  return fields;
}

function statusOf(result: unknown): (ResStatus & { retriable?: boolean }) | undefined {
  if (!result || typeof result !== 'object') return undefined;
  if ('error_code' in result) return result as ResStatus;
  const status = (result as { status?: unknown }).status;
  return status && typeof status === 'object' && 'error_code' in status ? (status as ResStatus) : undefined;
}

function toMilvusError(operation: string, collection: string, error: unknown): MilvusError {
  if (error instanceof MilvusError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  const grpcTransient = typeof code === 'number' && TRANSIENT_GRPC_CODES.has(code);
  // The SDK sometimes throws a bare status object rather than an Error.
  const status = statusOf(error);
  const message =
    error instanceof Error ? error.message : status ? `${status.error_code} ${status.reason ?? ''}` : String(error);
  const wrapped = new MilvusError(
    `milvus ${operation} on "${collection}" failed: ${message}`,
    grpcTransient || status?.retriable === true,
  );
  if (error instanceof Error) wrapped.cause = error;
  return wrapped;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
