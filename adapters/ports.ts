// Ports: the interfaces the activities and the API talk to. Each folder under
// adapters/ implements one of them; only the composition roots (workers/,
// api/server.ts) pick an implementation from config.

// ---------------------------------------------------------------- messaging

export type SubscriptionType = 'exclusive' | 'shared' | 'failover' | 'key_shared';

export interface PublishOptions {
  /** Ordering key: messages with one key reach consumers in publish order. */
  key?: string;
  properties?: Record<string, string>;
}

export interface ReceivedMessage {
  /** Broker-assigned id, unique within a topic. */
  id: string;
  topic: string;
  key?: string;
  properties: Record<string, string>;
  payload: Uint8Array;
  /** Milliseconds since the epoch at which the broker accepted the message. */
  publishTime: number;
  /** How many times this message was delivered before and not acknowledged. */
  redeliveryCount: number;
}

export interface SubscribeOptions {
  /** Default: exclusive, as in Pulsar. */
  type?: SubscriptionType;
  /** Where a subscription that does not exist yet starts. Default: latest. */
  initialPosition?: 'earliest' | 'latest';
}

export interface Consumer {
  /** Next message, or undefined when none arrives within timeoutMs. */
  receive(timeoutMs: number): Promise<ReceivedMessage | undefined>;
  ack(message: ReceivedMessage): Promise<void>;
  /** Give the message back for redelivery (to this or another consumer). */
  nack(message: ReceivedMessage): Promise<void>;
  /** Unacknowledged messages go back to the subscription; a pending receive resolves undefined. */
  close(): Promise<void>;
}

export interface MessagingPort {
  publish(topic: string, payload: Uint8Array, options?: PublishOptions): Promise<string>;
  /** Durable, named subscription: its position survives the consumer. */
  subscribe(topic: string, subscription: string, options?: SubscribeOptions): Promise<Consumer>;
  close(): Promise<void>;
}

export interface SubscriptionBacklog {
  subscription: string;
  /** Messages published and not yet acknowledged on this subscription. */
  backlog: number;
}

/** Backlog per subscription of a topic, for the scheduler (rebalance). Pulsar: msgBacklog from topic stats. */
export interface MessagingBacklog {
  backlog(topic: string): Promise<SubscriptionBacklog[]>;
}

// ------------------------------------------------------------------ vectors

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
  close(): Promise<void>;
}

// ------------------------------------------------------------------ cluster

export interface AgentPool {
  name: string;
  /** Replicas asked for. */
  desired: number;
  /** Replicas running and ready. */
  ready: number;
  labels: Record<string, string>;
}

export interface ClusterPort {
  listPools(): Promise<AgentPool[]>;
  getPool(name: string): Promise<AgentPool | undefined>;
  /** Create the pool if missing, then set its desired replica count. */
  scalePool(name: string, replicas: number, labels?: Record<string, string>): Promise<AgentPool>;
  deletePool(name: string): Promise<void>;
}

// -------------------------------------------------------------------- blobs

/** Lower-case hex sha-256 of the blob's bytes. */
export type Digest = string;

export interface BlobStore {
  /** Store bytes under their sha-256; storing the same bytes twice is a no-op. */
  put(bytes: Uint8Array): Promise<Digest>;
  /** The bytes, or undefined when no blob has that digest. */
  get(digest: Digest): Promise<Uint8Array | undefined>;
  has(digest: Digest): Promise<boolean>;
  delete(digest: Digest): Promise<void>;
}
