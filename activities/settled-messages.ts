// A consumer that acknowledges and skips the messages an earlier, recorded
// collection counted without acknowledging them (they come back to every new
// consumer of the subscription until acknowledged).
import { ApplicationFailure } from '@temporalio/common';
import type { BlobStore, Consumer, ReceivedMessage } from '../adapters/ports';

export class SettlingConsumer implements Consumer {
  constructor(
    private readonly inner: Consumer,
    private readonly settled: Set<string>,
  ) {}

  async receive(timeoutMs: number): Promise<ReceivedMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.inner.receive(Math.max(1, deadline - Date.now()));
      if (!message || !this.settled.delete(message.id)) return message;
      await this.inner.ack(message);
    }
  }

  ack(message: ReceivedMessage): Promise<void> {
    return this.inner.ack(message);
  }

  nack(message: ReceivedMessage): Promise<void> {
    return this.inner.nack(message);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Settled ids that did not come back here: a later collection still has to acknowledge them. */
  unseen(): string[] {
    return [...this.settled];
  }
}

/** Message ids as one blob (sorted, so the same ids are the same digest). */
export function storeMessageIds(blobs: BlobStore, ids: Iterable<string>): Promise<string> {
  return blobs.put(Buffer.from(JSON.stringify([...new Set(ids)].sort()), 'utf8'));
}

/** The ids stored by storeMessageIds; none for no digest. */
export async function loadMessageIds(blobs: BlobStore, digest: string | undefined): Promise<Set<string>> {
  if (!digest) return new Set();
  const bytes = await blobs.get(digest);
  if (!bytes) throw ApplicationFailure.nonRetryable(`no message id blob ${digest}`, 'STATE_NOT_FOUND');
  return new Set(JSON.parse(Buffer.from(bytes).toString('utf8')) as string[]);
}
