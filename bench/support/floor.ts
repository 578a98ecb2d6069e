// The side-by-side floor of the throughput benchmarks: no-op workflows (bench/floor-workflows.ts)
// on a worker of their own, started at the same concurrency as the product path, on the same dev
// server; and the command-line and concurrency helpers both sides use.
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { namespace } from '../../temporal-config';

/** `--<name> <number>` from the command line, else `fallback`. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Runs work(0) .. work(count - 1) with at most `concurrency` of them in flight. */
export async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/**
 * Runs `one` for i = 0 .. count - 1 at `concurrency` against a worker of the floor workflows on a
 * fresh task queue (`one` gets a client, the queue and i); returns the elapsed milliseconds.
 */
export async function measureFloor(
  env: TestWorkflowEnvironment,
  count: number,
  concurrency: number,
  one: (client: Client, taskQueue: string, i: number) => Promise<void>,
): Promise<number> {
  const taskQueue = `bench-floor-${Date.now()}`;
  const connection = await NativeConnection.connect({ address: env.address });
  const worker = await Worker.create({ connection, namespace, taskQueue, workflowsPath: require.resolve('../floor-workflows') });
  const client = new Client({ connection: env.connection, namespace });
  const elapsed = await worker.runUntil(async () => {
    const t0 = performance.now();
    await pool(count, concurrency, (i) => one(client, taskQueue, i));
    return performance.now() - t0;
  });
  await connection.close();
  return elapsed;
}
