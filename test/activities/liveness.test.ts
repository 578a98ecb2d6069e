// The liveness observation declares an agent LOST only after it read the heartbeats topic to its end:
// a worker that fell behind must not take a backlog for silence.
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createLivenessActivities } from '../../activities/liveness';
import type { Consumer, MessagingPort, ReceivedMessage } from '../../adapters/ports';
import { HeartbeatLedger, type LivenessTransition } from '../../core/liveness';
import { TestAgentKeys } from '../support/agent-keys';

/** A heartbeats topic that delivers `backlog` messages (unsigned, so refused), then nothing. */
function topicWithBacklog(backlog: number): MessagingPort {
  let left = backlog;
  const consumer: Consumer = {
    async receive(timeoutMs: number): Promise<ReceivedMessage | undefined> {
      if (left <= 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 20)));
        return undefined;
      }
      left--;
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { id: String(left), topic: 'heartbeats', properties: { agentId: 'someone' }, payload: Buffer.from('{}'), publishTime: Date.now(), redeliveryCount: 0 };
    },
    ack: async () => undefined,
    nack: async () => undefined,
    close: async () => undefined,
  };
  return { subscribe: async () => consumer } as unknown as MessagingPort;
}

describe('observeHeartbeats', () => {
  const observe = async (backlog: number): Promise<LivenessTransition[]> => {
    const ledger = new HeartbeatLedger();
    ledger.record('s', 'quiet', Date.now() - 60_000);
    const activities = createLivenessActivities({ messaging: topicWithBacklog(backlog), ledger, agentKeys: new TestAgentKeys(), credentialSecret: 'liveness-test-secret-0123456789' });
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    return await env.run(activities.observeHeartbeats, { swarmId: 's', agentIds: ['quiet'], lostAgentIds: [], graceMs: 1000, windowMs: 300 });
  };

  it('declares a silent agent LOST once the window read the topic to its end', async () => {
    expect((await observe(5)).map((t) => [t.agentId, t.status])).toEqual([['quiet', 'LOST']]);
  });

  it('defers LOST while the window never got to the end of the backlog', async () => {
    expect(await observe(1_000_000)).toEqual([]);
  });
});
