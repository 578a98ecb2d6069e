// The blob port: content-addressed bytes (models, server state).

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
