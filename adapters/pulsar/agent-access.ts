// Per-agent identities and permissions on a Pulsar broker with token
// authentication and authorisation on. Each agent is its own role,
// `qp-agent.<swarmId>.<agentId>`, with an HS256 token signed by the broker's
// secret key (the key of `tokenSecretKey`). Its role may produce on every topic
// of the swarm's namespace (per-job update and per-decision ballot topics are
// created as work starts; what an agent publishes is still checked by its
// Ed25519 proof), and consume only its own inbox and the swarm's broadcast and
// control topics: never another agent's inbox, the heartbeats or the updates.
import { createHmac } from 'node:crypto';
import type { AgentMessagingAccess } from '../ports';
import type { PulsarAdmin } from './admin';
import { toPulsarTopic, type TopicMapping } from './topics';
import { swarmTopics } from '../../core/topics';

export interface PulsarAgentAccessOptions {
  admin: Pick<PulsarAdmin, 'ensureNamespace' | 'grantNamespace' | 'revokeNamespace' | 'grantTopic' | 'revokeTopic'>;
  mapping: TopicMapping;
  /** The broker's token secret key (raw bytes, as `pulsar tokens create-secret-key` writes it). */
  secretKey: Buffer;
}

export class PulsarAgentAccess implements AgentMessagingAccess {
  constructor(private readonly options: PulsarAgentAccessOptions) {}

  async grant(swarmId: string, agentId: string): Promise<void> {
    const role = agentRole(swarmId, agentId);
    const { tenant, namespace } = this.topic(swarmTopics(swarmId).heartbeats);
    await this.options.admin.ensureNamespace(tenant, namespace);
    await this.options.admin.grantNamespace(tenant, namespace, role, ['produce']);
    for (const topic of this.readable(swarmId, agentId)) {
      await this.options.admin.grantTopic(this.topic(topic).path, role, ['consume']);
    }
  }

  async revoke(swarmId: string, agentId: string): Promise<void> {
    const role = agentRole(swarmId, agentId);
    const { tenant, namespace } = this.topic(swarmTopics(swarmId).heartbeats);
    await this.options.admin.revokeNamespace(tenant, namespace, role);
    for (const topic of this.readable(swarmId, agentId)) {
      await this.options.admin.revokeTopic(this.topic(topic).path, role);
    }
  }

  tokenFor(swarmId: string, agentId: string): string {
    return signToken(this.options.secretKey, agentRole(swarmId, agentId));
  }

  private readable(swarmId: string, agentId: string): string[] {
    const topics = swarmTopics(swarmId);
    return [topics.inbox(agentId), topics.broadcast, topics.control];
  }

  private topic(logical: string) {
    return toPulsarTopic(logical, this.options.mapping);
  }
}

/** The agent's Pulsar role. */
export function agentRole(swarmId: string, agentId: string): string {
  return `qp-agent.${swarmId}.${agentId}`;
}

/** An HS256 JWT with subject `role`, as Pulsar's AuthenticationProviderToken verifies it. */
function signToken(secretKey: Buffer, role: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256' })}.${b64({ sub: role })}`;
  return `${unsigned}.${createHmac('sha256', secretKey).update(unsigned).digest('base64url')}`;
}
