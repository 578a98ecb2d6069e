import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemBlobStore } from '../../adapters/blobs/filesystem';
import { MemoryBlobStore } from '../../adapters/memory/blobs';
import { blobsContract } from '../contracts/blobs.contract';

const roots: string[] = [];

async function newRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'qp-blobs-'));
  roots.push(root);
  return root;
}

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

blobsContract('MemoryBlobStore', async () => new MemoryBlobStore());
blobsContract('FilesystemBlobStore', async () => new FilesystemBlobStore(await newRoot()));

describe('FilesystemBlobStore', () => {
  const bytes = new TextEncoder().encode('agent checkpoint');
  const digest = createHash('sha256').update(bytes).digest('hex');

  async function filesUnder(root: string): Promise<string[]> {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
      .sort();
  }

  it('stores a blob at <root>/<first two hex digits>/<digest>', async () => {
    const root = await newRoot();

    await new FilesystemBlobStore(root).put(bytes);

    expect(await filesUnder(root)).toEqual([join(digest.slice(0, 2), digest)]);
  });

  it('finds blobs written by an earlier store on the same root', async () => {
    const root = await newRoot();
    await new FilesystemBlobStore(root).put(bytes);

    const reopened = new FilesystemBlobStore(root);

    expect(await reopened.has(digest)).toBe(true);
    expect(Array.from((await reopened.get(digest)) ?? [])).toEqual(Array.from(bytes));
  });

  it('reports a blob whose file no longer hashes to its digest as corrupt instead of returning it', async () => {
    const root = await newRoot();
    const store = new FilesystemBlobStore(root);
    await store.put(bytes);

    await writeFile(join(root, digest.slice(0, 2), digest), 'tampered');

    await expect(store.get(digest)).rejects.toThrow(/corrupt/);
  });

  it('rejects a digest that would lead outside the root without touching the file system', async () => {
    const root = await newRoot();
    const store = new FilesystemBlobStore(join(root, 'store'));
    await writeFile(join(root, 'secret'), 'not a blob');

    await expect(store.get('../secret')).rejects.toThrow(/invalid digest/);
    await expect(store.delete('../secret')).rejects.toThrow(/invalid digest/);
    expect(await filesUnder(root)).toEqual(['secret']);
  });

  it('leaves no temporary files behind, also when the same bytes are put concurrently', async () => {
    const root = await newRoot();
    const store = new FilesystemBlobStore(root);
    const contents = Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`blob ${i % 5}`));

    const digests = await Promise.all(contents.map((content) => store.put(content)));

    const unique = [...new Set(digests)].sort();
    expect(unique).toHaveLength(5);
    expect(await filesUnder(root)).toEqual(unique.map((d) => join(d.slice(0, 2), d)).sort());
  });
});
