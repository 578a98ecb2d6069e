import { createHash, randomBytes } from 'node:crypto';
import type { BlobStore } from '../../adapters/ports';

/** The behaviour every BlobStore adapter must show. */
export function blobsContract(name: string, create: () => Promise<BlobStore>): void {
  describe(`${name} as BlobStore`, () => {
    let blobs: BlobStore;

    beforeEach(async () => {
      blobs = await create();
    });

    it('stores bytes under the lower-case hex sha-256 of their content and returns the same bytes', async () => {
      const bytes = new Uint8Array([0, 1, 2, 3, 250, 255]);

      const digest = await blobs.put(bytes);

      expect(digest).toBe(sha256(bytes));
      expect(digest).toMatch(/^[0-9a-f]{64}$/);
      expect(Array.from((await blobs.get(digest)) ?? [])).toEqual(Array.from(bytes));
    });

    it('stores the same bytes once: a second put returns the same digest and one delete removes them', async () => {
      const bytes = randomBytes(100);

      const first = await blobs.put(bytes);
      const second = await blobs.put(new Uint8Array(bytes));
      await blobs.delete(first);

      expect(second).toBe(first);
      expect(await blobs.has(first)).toBe(false);
    });

    it('reports with has whether a blob is stored, until it is deleted', async () => {
      const digest = await blobs.put(randomBytes(32));
      expect(await blobs.has(digest)).toBe(true);

      await blobs.delete(digest);

      expect(await blobs.has(digest)).toBe(false);
      expect(await blobs.get(digest)).toBeUndefined();
    });

    it('answers undefined, false and nothing for a digest that was never stored', async () => {
      const digest = sha256(randomBytes(32));

      expect(await blobs.get(digest)).toBeUndefined();
      expect(await blobs.has(digest)).toBe(false);
      await expect(blobs.delete(digest)).resolves.toBeUndefined();
    });

    it('round-trips an empty blob', async () => {
      const digest = await blobs.put(new Uint8Array(0));

      expect(digest).toBe(sha256(new Uint8Array(0)));
      expect((await blobs.get(digest))?.length).toBe(0);
    });

    it('round-trips an 8 MB blob byte for byte', async () => {
      const bytes = randomBytes(8 * 1024 * 1024);

      const digest = await blobs.put(bytes);
      const stored = await blobs.get(digest);

      expect(stored?.length).toBe(bytes.length);
      // Deep equality over 8 million elements is too slow in jest; compare natively.
      expect(stored && Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(bytes)).toBe(true);
    });

    it('keeps its own copy: changing an array given to put or returned by get changes nothing stored', async () => {
      const bytes = new Uint8Array([1, 2, 3]);
      const digest = await blobs.put(bytes);
      bytes.fill(0);
      const read = await blobs.get(digest);
      read?.fill(9);

      expect(Array.from((await blobs.get(digest)) ?? [])).toEqual([1, 2, 3]);
    });

    it.each([
      ['an empty string', ''],
      ['a relative path', '../../etc/passwd'],
      ['upper-case hex', 'A'.repeat(64)],
      ['63 hex characters', 'a'.repeat(63)],
      ['non-hex characters', 'g'.repeat(64)],
      ['a path suffix', `${'a'.repeat(64)}/..`],
    ])('rejects %s as a digest in get, has and delete', async (_, digest) => {
      await expect(blobs.get(digest)).rejects.toThrow(Error);
      await expect(blobs.has(digest)).rejects.toThrow(Error);
      await expect(blobs.delete(digest)).rejects.toThrow(Error);
    });
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
