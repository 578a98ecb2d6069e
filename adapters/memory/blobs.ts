import { createHash } from 'node:crypto';
import type { BlobStore, Digest } from '../ports';

const DIGEST = /^[0-9a-f]{64}$/;

/** Content-addressed blobs in a Map; bytes are copied in and out so callers cannot change what is stored. */
export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<Digest, Uint8Array>();

  async put(bytes: Uint8Array): Promise<Digest> {
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (!this.blobs.has(digest)) this.blobs.set(digest, new Uint8Array(bytes));
    return digest;
  }

  async get(digest: Digest): Promise<Uint8Array | undefined> {
    assertDigest(digest);
    const bytes = this.blobs.get(digest);
    return bytes && new Uint8Array(bytes);
  }

  async has(digest: Digest): Promise<boolean> {
    assertDigest(digest);
    return this.blobs.has(digest);
  }

  async delete(digest: Digest): Promise<void> {
    assertDigest(digest);
    this.blobs.delete(digest);
  }
}

function assertDigest(digest: Digest): void {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new Error(`invalid digest "${digest}": expected 64 lower-case hex characters`);
  }
}
