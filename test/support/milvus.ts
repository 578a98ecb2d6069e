// The shared Milvus of test runs: started once per jest run by the global
// set-up when nothing answers on its port (`stack.sh up milvus`), stopped by
// the teardown of the last run using it, and only when a test run started it
// (lease files: test/support/shared-service.ts).
import { connect } from 'node:net';
import { SharedTestService, stackError } from './shared-service';

const milvus = new SharedTestService('milvus');

export function testMilvusAddress(): string {
  return process.env.MILVUS_ADDRESS ?? `127.0.0.1:${process.env.MILVUS_PORT ?? '19530'}`;
}

function answers(address: string, timeoutMs = 1000): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Makes sure a Milvus answers and exports its address as QP_TEST_MILVUS_ADDRESS.
 * On failure it exports QP_TEST_MILVUS_ERROR instead, so only the suites that
 * need Milvus fail (with the reason), not the whole run. Runs that select no
 * *milvus*.test.ts suite skip it; QP_TEST_MILVUS=0 / 1 forces the choice.
 */
export async function startTestMilvus(testPathPattern?: string): Promise<void> {
  if (!milvus.neededBy(testPathPattern)) {
    process.env.QP_TEST_MILVUS_ERROR = 'this jest run selected no *milvus*.test.ts suite, so Milvus was not started';
    return;
  }
  const address = testMilvusAddress();
  milvus.lease(address);
  const started = Date.now();
  let startedHere: boolean;
  try {
    startedHere = await milvus.startUnlessRunning(() => answers(address), 300_000);
  } catch (error) {
    process.env.QP_TEST_MILVUS_ERROR = `could not start Milvus with infra/local/stack.sh up milvus:\n${stackError(error)}`;
    console.warn(`\ntest stack: ${process.env.QP_TEST_MILVUS_ERROR}`);
    return;
  }
  if (startedHere) console.log(`test stack: Milvus started at ${address} (${Date.now() - started} ms)`);
  else console.log(`test stack: Milvus already answers at ${address}`);
  process.env.QP_TEST_MILVUS_ADDRESS = address;
}

export async function stopTestMilvus(): Promise<void> {
  milvus.release({ QP_STACK_STOP_TIMEOUT: process.env.QP_STACK_STOP_TIMEOUT ?? '10' });
}

/** For suites that need Milvus: its address, or a failure that says why there is none. */
export function requireTestMilvus(): string {
  const address = process.env.QP_TEST_MILVUS_ADDRESS;
  if (!address) throw new Error(process.env.QP_TEST_MILVUS_ERROR ?? 'the jest global set-up did not start Milvus');
  return address;
}
