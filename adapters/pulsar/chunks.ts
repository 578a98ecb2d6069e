// Payloads larger than one broker message (or one WebSocket frame) travel as
// several messages with the same key and these properties, and are put back
// together by the consumer. Pulsar's own chunking is not reachable through the
// WebSocket API, hence this.

export const CHUNK_ID = 'qp.chunk.id';
export const CHUNK_INDEX = 'qp.chunk.index';
export const CHUNK_COUNT = 'qp.chunk.count';

export function isChunk(properties: Record<string, string> | undefined): boolean {
  return properties !== undefined && CHUNK_ID in properties;
}

/** Properties without the chunk bookkeeping. */
export function userProperties(properties: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(properties ?? {})) {
    if (k !== CHUNK_ID && k !== CHUNK_INDEX && k !== CHUNK_COUNT) out[k] = v;
  }
  return out;
}

/** Splits payload into slices of at most maxBytes (views, not copies). */
export function split(payload: Uint8Array, maxBytes: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += maxBytes) {
    parts.push(payload.subarray(offset, Math.min(payload.length, offset + maxBytes)));
  }
  return parts;
}

export interface ChunkPart<T> {
  index: number;
  count: number;
  payload: Buffer;
  item: T;
}

/** Collects the chunks of one message; complete once every index arrived. M: what chunk 0 carried. */
export class ChunkGroup<T, M = unknown> {
  readonly parts: (ChunkPart<T> | undefined)[];
  /** Every delivery of a chunk, duplicates included: all must be acknowledged. */
  readonly items: T[] = [];
  readonly firstSeen = Date.now();
  received = 0;
  /** Set from chunk 0: the message's key, publish time, ... */
  head: M | undefined;

  constructor(readonly id: string, readonly count: number) {
    this.parts = new Array<ChunkPart<T> | undefined>(count);
  }

  add(part: ChunkPart<T>): void {
    this.items.push(part.item);
    if (part.index < 0 || part.index >= this.count || this.parts[part.index]) return;
    this.parts[part.index] = part;
    this.received++;
  }

  get complete(): boolean {
    return this.received === this.count;
  }

  payload(): Buffer {
    return Buffer.concat(this.parts.map((p) => (p as ChunkPart<T>).payload));
  }
}
