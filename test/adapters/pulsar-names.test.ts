// The Pulsar adapter's pure parts: topic names, message ids, endpoints.
import { messageIdBase64, messageIdString } from '../../adapters/pulsar/message-id';
import { pulsarOptions } from '../../adapters/pulsar/options';
import { toPulsarTopic } from '../../adapters/pulsar/topics';
import { brokerMessage } from '../../adapters/pulsar/socket';
import { swarmTopics } from '../../core/topics';

describe('Pulsar topic names', () => {
  const mapping = { tenant: 'qp-manager', defaultNamespace: 'system' };

  it('puts every topic of a swarm in the swarm namespace of the tenant', () => {
    const topics = swarmTopics('swarm-eu');
    expect(toPulsarTopic(topics.inbox('agent-7'), mapping).fullName).toBe('persistent://qp-manager/swarm-eu/inbox-agent-7');
    expect(toPulsarTopic(topics.updates('job-1'), mapping).path).toBe('qp-manager/swarm-eu/updates-job-1');
    expect(toPulsarTopic(topics.heartbeats, mapping).namespace).toBe('swarm-eu');
  });

  it('puts single names in the default namespace and refuses names that do not fit a Pulsar topic', () => {
    expect(toPulsarTopic('jobs', mapping).fullName).toBe('persistent://qp-manager/system/jobs');
    expect(() => toPulsarTopic('a/b', mapping)).toThrow(/swarm\/<swarmId>\/<name>/);
    expect(() => toPulsarTopic('swarm/has space/x', mapping)).toThrow(/not a valid Pulsar name/);
    expect(() => toPulsarTopic('', mapping)).toThrow(/non-empty/);
  });
});

describe('Pulsar message ids', () => {
  it('prints the broker id as ledger:entry:partition and encodes it back', () => {
    // What the WebSocket API sent for ledger 7, entry 0 (with an empty batch size field).
    expect(messageIdString('CAcQADAA')).toBe('7:0:-1');
    for (const id of ['7:1:-1', '123456789012:99:-1', '5:6:2', '5:6:-1:3']) {
      expect(messageIdString(messageIdBase64(id))).toBe(id);
    }
    expect(() => messageIdBase64('not-an-id')).toThrow(/not a Pulsar message id/);
  });
});

describe('Pulsar endpoints from configuration', () => {
  it('serves the WebSocket API from the web service: the admin URL, or a ws/http service URL', () => {
    expect(pulsarOptions({ serviceUrl: 'pulsar://broker:6650', adminUrl: 'http://broker:8090' })).toMatchObject({
      webSocketUrl: 'ws://broker:8090',
      adminUrl: 'http://broker:8090',
    });
    expect(pulsarOptions({ serviceUrl: 'wss://broker:8443' })).toMatchObject({
      webSocketUrl: 'wss://broker:8443',
      adminUrl: 'https://broker:8443',
    });
    expect(() => pulsarOptions({ serviceUrl: 'pulsar://broker:6650' })).toThrow(/PULSAR_ADMIN_URL is required/);
    expect(pulsarOptions({ serviceUrl: 'http://b:8090', replicationClusters: ['eu', 'us'] }).policies).toEqual({
      replicationClusters: ['eu', 'us'],
    });
  });

  it('reads the reason out of a broker error page', () => {
    const page =
      '<html><title>Error 409 Failed to create producer/consumer: {&quot;errorMsg&quot;:&quot;Exclusive consumer is already connected&quot;,&quot;reqId&quot;:1}</title></html>';
    expect(brokerMessage(page)).toBe('Exclusive consumer is already connected');
  });
});
