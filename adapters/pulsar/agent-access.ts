// Per-agent identities and permissions on a Pulsar broker with token
// authentication and authorisation on. Each registration session is its own
// role, `qp-agent.<swarmId>.<agentId>.<session>`, with an HS256 token signed by
// the broker's secret key (the key of `tokenSecretKey`): a later session of the
// same agent id never inherits an earlier one's token. The role may produce on
// every topic of the swarm's namespace (per-job update and per-decision ballot
// topics are created as work starts; what an agent publishes is still checked
// by its Ed25519 proof), and consume only its own inbox and the swarm's
// broadcast and control topics: never another agent's inbox, the heartbeats or
// the updates.
import { createHmac } from 'node:crypto';
import type { AgentAccessSession, AgentMessagingAccess } from '../ports';
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
  readonly issuesTokens = true;

  constructor(private readonly options: PulsarAgentAccessOptions) {}

  async grant(session: AgentAccessSession): Promise<string> {
    const role = agentRole(session);
    const { tenant, namespace } = this.topic(swarmTopics(session.swarmId).heartbeats);
    await this.options.admin.ensureNamespace(tenant, namespace);
    await this.options.admin.grantNamespace(tenant, namespace, role, ['produce']);
    for (const topic of this.readable(session)) {
      await this.options.admin.grantTopic(this.topic(topic).path, role, ['consume']);
    }
    return role;
  }

  async revoke(session: AgentAccessSession): Promise<void> {
    const role = agentRole(session);
    const { tenant, namespace } = this.topic(swarmTopics(session.swarmId).heartbeats);
    await this.options.admin.revokeNamespace(tenant, namespace, role);
    for (const topic of this.readable(session)) {
      await this.options.admin.revokeTopic(this.topic(topic).path, role);
    }
  }

  tokenFor(identity: string): string {
    return signToken(this.options.secretKey, identity);
  }

  private readable({ swarmId, agentId }: AgentAccessSession): string[] {
    const topics = swarmTopics(swarmId);
    return [topics.inbox(agentId), topics.broadcast, topics.control];
  }

  private topic(logical: string) {
    return toPulsarTopic(logical, this.options.mapping);
  }
}

/** The Pulsar role of one registration session. */
export function agentRole({ swarmId, agentId, session }: AgentAccessSession): string {
  return `qp-agent.${swarmId}.${agentId}.${session}`;
}

/** An HS256 JWT with subject `role`, as Pulsar's AuthenticationProviderToken verifies it. */
function signToken(secretKey: Buffer, role: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256' })}.${b64({ sub: role })}`;
  return `${unsigned}.${createHmac('sha256', secretKey).update(unsigned).digest('base64url')}`;
}
