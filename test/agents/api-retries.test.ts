// The SDK's calls to the manager: a 503 is tried again after the Retry-After the manager sends
// (a busy manager is not hammered), a 4xx is an answer, and the tries are bounded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, QpAgent } from '../../agents/sdk';

/** A manager that answers each POST /register with the next scripted answer, recording when each came. */
async function scriptedManager(answers: Array<{ status: number; retryAfter?: string }>) {
  const arrivals: number[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    arrivals.push(Date.now());
    const answer = answers.shift() ?? { status: 500 };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
    res.writeHead(answer.status, headers);
    res.end(
      JSON.stringify(
        answer.status === 200
          ? { created: false, agent: { agentId: 'a', swarmId: 's', status: 'ACTIVE' }, inboxTopic: 'swarm/s/inbox-a', challenge: 'c' }
          : { error: { code: answer.status === 503 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT', message: 'scripted' } },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, close: () => new Promise((resolve) => server.close(resolve)) };
}

function agentOf(apiUrl: string, retries = 4): QpAgent {
  return new QpAgent({ apiUrl, agentId: 'a', swarmId: 's', capabilities: [], resources: { cpu: 1, memoryMb: 256 }, retries });
}

describe('the SDK calling a busy manager', () => {
  it('waits the Retry-After of a 503 before it tries again', async () => {
    const manager = await scriptedManager([{ status: 503, retryAfter: '1' }, { status: 400 }]);
    try {
      await expect(agentOf(manager.url).register()).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
      expect(manager.arrivals).toHaveLength(2);
      expect(manager.arrivals[1] - manager.arrivals[0]).toBeGreaterThanOrEqual(950);
    } finally {
      await manager.close();
    }
  });

  it('without Retry-After backs off briefly, and gives up after its retries with the last 503', async () => {
    const manager = await scriptedManager([{ status: 503 }, { status: 503 }, { status: 503 }]);
    try {
      const failure = agentOf(manager.url, 2).register();
      await expect(failure).rejects.toBeInstanceOf(ApiError);
      await expect(failure).rejects.toMatchObject({ status: 503 });
      expect(manager.arrivals).toHaveLength(3);
      expect(manager.arrivals[2] - manager.arrivals[0]).toBeLessThan(900);
    } finally {
      await manager.close();
    }
  });
});
