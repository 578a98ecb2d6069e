// Novelty scoring at scale: N stored behaviors and M new ones (dimension D);
// each new behavior is stored and scored by a kNN search for k + 1 against the
// archive, as the sweep does. Milvus (HNSW) beside exact brute force (our
// in-memory adapter, the embedded default), with recall@k of Milvus against
// the exact answer and the ratio of each figure, one figure per line.
//
//   npx tsx bench/behaviors.ts [--stored 1000000] [--new 10000] [--dim 64] [--k 10]
//       [--exact-sample 1000] [--batch 10000] [--ef 128] [--clusters 1000] [--spread 0.15]
//       [--address 127.0.0.1:19530]
//
// Needs a Milvus (bash infra/local/stack.sh up milvus). Exact search costs
// stored x dim multiply-adds per query (6.4e7 at 1M x 64): it is run on the
// first --exact-sample new behaviors and its total for all of them is
// extrapolated (marked so); recall is measured on the same sample.
import { randomBytes } from 'node:crypto';
import { MemoryVectors } from '../adapters/memory/vectors';
import { MilvusVectors } from '../adapters/milvus/vectors';
import type { VectorHit, VectorPort, VectorRecord } from '../adapters/ports';
import { novelty } from '../core/behaviors/novelty';
import { gaussian, seededRandom } from '../core/random';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
function textArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const STORED = arg('stored', 1_000_000);
const NEW = arg('new', 10_000);
const DIM = arg('dim', 64);
const K = arg('k', 10);
const SAMPLE = Math.min(arg('exact-sample', 1000), NEW);
const BATCH = arg('batch', 10_000);
const EF = arg('ef', 128);
const ADDRESS = textArg('address', process.env.MILVUS_ADDRESS ?? '127.0.0.1:19530');
/** Behaviors come in strategies: a mixture of this many Gaussian clusters... */
const CLUSTERS = arg('clusters', 1000);
/** ...with this standard deviation per component around centres drawn from [-1, 1]^dim. */
const SPREAD = arg('spread', 0.15);

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms: number) => `${fmt(ms / 1000, 1)} s`;
const line = (what: string, milvus: string, memory: string, ratio: string) =>
  console.log(`${what.padEnd(44)} milvus ${milvus.padStart(14)} | memory ${memory.padStart(18)} | ratio ${ratio}`);

/** Deterministic behaviors: cluster centre (unit scale) plus noise; record i is the same in every run. */
function makeBehaviors(seed: number, start: number, count: number, prefix: string): VectorRecord[] {
  const centres = seededRandom(1);
  const centre: number[][] = Array.from({ length: CLUSTERS }, () => Array.from({ length: DIM }, () => centres() * 2 - 1));
  const random = seededRandom(seed + start);
  return Array.from({ length: count }, (_, j) => {
    const c = centre[Math.floor(random() * CLUSTERS)];
    return {
      id: `${prefix}${start + j}`,
      vector: c.map((x) => x + SPREAD * gaussian(random)),
      fields: { fitness: random() },
    };
  });
}

async function store(port: VectorPort, collection: string, total: number, prefix: string, seed: number): Promise<number> {
  const t0 = performance.now();
  for (let start = 0; start < total; start += BATCH) {
    await port.upsert(collection, makeBehaviors(seed, start, Math.min(BATCH, total - start), prefix));
    if (process.stderr.isTTY) process.stderr.write(`\r  ${prefix} ${fmt(Math.min(start + BATCH, total))}/${fmt(total)}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return performance.now() - t0;
}

/**
 * The sweep's step: store the new behaviors, kNN k + 1 for each, novelty from
 * the hits. Only the first `searched` are searched (exact search is slow);
 * searchMs is the time of those searches alone, for extrapolation.
 */
async function score(
  port: VectorPort,
  collection: string,
  fresh: VectorRecord[],
  searched = fresh.length,
): Promise<{ ms: number; upsertMs: number; searchMs: number; hits: VectorHit[][] }> {
  const t0 = performance.now();
  await port.upsert(collection, fresh);
  const t1 = performance.now();
  const queries = fresh.slice(0, searched);
  const hits = await port.searchMany(collection, queries.map((r) => r.vector), K + 1);
  for (let i = 0; i < queries.length; i++) novelty(queries[i].id, hits[i], K, 'L2');
  const t2 = performance.now();
  return { ms: t2 - t0, upsertMs: t1 - t0, searchMs: t2 - t1, hits };
}

async function main(): Promise<void> {
  const collection = `bench_behaviors_${randomBytes(4).toString('hex')}`;
  const milvus = new MilvusVectors({ address: ADDRESS, index: 'HNSW', ef: EF, batchSize: BATCH, timeoutMs: 120_000 });
  const memory = new MemoryVectors();
  console.log(
    `behaviors bench: ${fmt(STORED)} stored + ${fmt(NEW)} new behaviors, dimension ${DIM}, k ${K}; ` +
      `Milvus ${ADDRESS} HNSW(M=16, efConstruction=200, ef=${Math.max(EF, K + 1)}) vs MemoryVectors (exact); ` +
      `${fmt(CLUSTERS)} clusters, spread ${SPREAD}`,
  );
  try {
    await milvus.ensureCollection(collection, DIM, 'L2');
    await memory.ensureCollection(collection, DIM, 'L2');

    const milvusStore = await store(milvus, collection, STORED, 'b', 7);
    const t1 = performance.now();
    await milvus.flush(collection);
    const flushMs = performance.now() - t1;
    const t2 = performance.now();
    const indexed = await milvus.waitForIndex(collection, 3_600_000);
    const indexMs = performance.now() - t2;
    const memoryStore = await store(memory, collection, STORED, 'b', 7);

    line(`store ${fmt(STORED)} behaviors (upsert)`, secs(milvusStore), secs(memoryStore), `${fmt(milvusStore / memoryStore, 1)}x`);
    line('  throughput', `${fmt(STORED / (milvusStore / 1000))}/s`, `${fmt(STORED / (memoryStore / 1000))}/s`, `${fmt(memoryStore / milvusStore, 2)}x`);
    line('flush + HNSW build (milvus only)', secs(flushMs + indexMs), '-', `- (${fmt(indexed.indexedRows)} rows indexed)`);

    const fresh = makeBehaviors(99, 0, NEW, 'n');
    const m = await score(milvus, collection, fresh);
    const sample = fresh.slice(0, SAMPLE);
    // Both stores hold all new behaviors, so both answer over the same archive.
    const e = await score(memory, collection, fresh, SAMPLE);
    const exactTotal = e.upsertMs + (e.searchMs / SAMPLE) * NEW;
    const sampled = SAMPLE < NEW ? ` (${fmt(SAMPLE)} run, x${fmt(NEW / SAMPLE, 1)})` : '';
    line(`novelty scoring, ${fmt(NEW)} new (store + kNN)`, secs(m.ms), `${secs(exactTotal)}${SAMPLE < NEW ? '*' : ''}`, `${fmt(exactTotal / m.ms, 1)}x faster`);
    line('  per new behavior', `${fmt(m.ms / NEW, 2)} ms`, `${fmt(exactTotal / NEW, 2)} ms`, `${fmt(exactTotal / m.ms, 1)}x`);
    line('  of which kNN search', secs(m.searchMs), `${secs((e.searchMs / SAMPLE) * NEW)}${SAMPLE < NEW ? '*' : ''}`, `${fmt((e.searchMs / SAMPLE) * NEW / m.searchMs, 1)}x`);
    line('  of which store (upsert)', secs(m.upsertMs), secs(e.upsertMs), `${fmt(m.upsertMs / e.upsertMs, 1)}x slower`);

    let overlap = 0;
    for (let i = 0; i < SAMPLE; i++) {
      const exact = new Set(e.hits[i].filter((h) => h.id !== sample[i].id).slice(0, K).map((h) => h.id));
      overlap += m.hits[i].filter((h) => h.id !== sample[i].id).slice(0, K).filter((h) => exact.has(h.id)).length;
    }
    const recall = overlap / (SAMPLE * K);
    line(`recall@${K} vs exact (${fmt(SAMPLE)} queries)`, fmt(recall, 4), '1.0000', `${fmt(recall, 4)}`);
    if (SAMPLE < NEW) console.log(`* exact search timed on the first ${fmt(SAMPLE)} new behaviors, total extrapolated${sampled}`);
  } finally {
    await milvus.dropCollection(collection).catch(() => undefined);
    await milvus.close();
    await memory.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
