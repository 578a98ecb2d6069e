import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { BlobStore, Digest } from '../ports';

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * Content-addressed blobs on disk: `<root>/<first 2 hex digits>/<digest>`.
 * Each blob is written to a temporary file in its final directory, flushed,
 * then renamed into place, so readers never see a partial blob. `get`
 * re-hashes what it reads and throws rather than return corrupted bytes.
 */
export class FilesystemBlobStore implements BlobStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async put(bytes: Uint8Array): Promise<Digest> {
    const digest = sha256(bytes);
    const file = this.fileOf(digest);
    if (await exists(file)) return digest;

    const directory = dirname(file);
    await mkdir(directory, { recursive: true });
    // Starts with a dot and ends in .tmp: never mistaken for a blob, easy to sweep after a crash.
    const temporary = join(directory, `.${digest}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return digest;
  }

  async get(digest: Digest): Promise<Uint8Array | undefined> {
    const file = this.fileOf(digest);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new Error(`blob ${digest} is corrupt: the contents of ${file} hash to ${actual}`);
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async has(digest: Digest): Promise<boolean> {
    return exists(this.fileOf(digest));
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.fileOf(digest));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The only way from a digest to a path: validating here is what keeps callers inside the root. */
  private fileOf(digest: Digest): string {
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      throw new Error(`invalid digest "${digest}": expected 64 lower-case hex characters`);
    }
    return join(this.root, digest.slice(0, 2), digest);
  }
}

function sha256(bytes: Uint8Array): Digest {
  return createHash('sha256').update(bytes).digest('hex');
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
