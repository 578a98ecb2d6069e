// Activities of the registration handshake.
import { log } from '@temporalio/activity';
import { randomBytes } from 'node:crypto';
import type { ChallengeMessage } from '../core/agents';
import type { AgentRegisteredMessage } from '../core/analytics/roster';
import { challengeSigningInput } from '../core/agents';
import { credentialDigest, issueCredential, verifyAgentSignature } from '../core/credentials';
import { swarmTopics } from '../core/topics';
import type { AgentAccessSession, AgentDirectoryChanges, AgentMessagingAccess, LivenessDirectory, MessagingPort } from '../adapters/ports';
import type { WorkerMetrics } from './metrics';

export interface RegistrationDeps {
  messaging: MessagingPort;
  liveness: LivenessDirectory;
  credentialSecret: string;
  credentialTtlSeconds: number;
  /** Told of every step that changes whether (and with what resources) an agent is listed ACTIVE. */
  directory?: AgentDirectoryChanges;
  metrics?: WorkerMetrics;
  /** The agents' own broker identities; absent: the broker has none. */
  agentAccess?: AgentMessagingAccess;
}

export function createRegistrationActivities(deps: RegistrationDeps) {
  return {
    /** Puts a fresh random challenge in the agent's inbox and returns it. */
    async sendChallenge({ swarmId, agentId }: { swarmId: string; agentId: string }): Promise<{ challenge: string }> {
      const message: ChallengeMessage = {
        type: 'challenge',
        agentId,
        challenge: randomBytes(32).toString('base64'),
        issuedAt: new Date().toISOString(),
      };
      await deps.messaging.publish(swarmTopics(swarmId).inbox(agentId), Buffer.from(JSON.stringify(message)), {
        key: agentId,
        properties: { type: 'challenge' },
      });
      deps.metrics?.challengesSent.inc();
      log.info('challenge sent', { agentId, swarmId });
      // A re-registration may have changed the agent's resources.
      deps.directory?.agentChanged(swarmId);
      return { challenge: message.challenge };
    },

    async verifyChallengeSignature(input: {
      agentId: string;
      publicKey: string;
      challenge: string;
      signature: string;
    }): Promise<boolean> {
      const valid = verifyAgentSignature(
        input.publicKey,
        challengeSigningInput(input.agentId, input.challenge),
        input.signature,
      );
      deps.metrics?.signaturesVerified.inc({ valid: String(valid) });
      if (!valid) log.warn('challenge signature does not verify', { agentId: input.agentId });
      return valid;
    },

    async issueAgentCredential(input: {
      agentId: string;
      swarmId: string;
      generation: number;
    }): Promise<{ credential: string; expiresAt: string; digest: string }> {
      const iat = Math.floor(Date.now() / 1000);
      const exp = iat + deps.credentialTtlSeconds;
      const credential = issueCredential(deps.credentialSecret, {
        sub: input.agentId,
        swarm: input.swarmId,
        gen: input.generation,
        iat,
        exp,
      });
      deps.metrics?.credentialsIssued.inc();
      log.info('credential issued', { agentId: input.agentId, swarmId: input.swarmId, generation: input.generation, expiresAt: new Date(exp * 1000).toISOString() });
      // The session turns ACTIVE with its first credential.
      deps.directory?.agentChanged(input.swarmId);
      // The analytics count what agents publish only for the agents the roster names.
      const registered: AgentRegisteredMessage = { type: 'agent-registered', agentId: input.agentId, generation: input.generation, registeredAt: Date.now() };
      await deps.messaging.publish(swarmTopics(input.swarmId).roster, Buffer.from(JSON.stringify(registered)), {
        key: input.agentId,
        properties: { type: 'agent-registered', agentId: input.agentId },
      });
      return { credential, expiresAt: new Date(exp * 1000).toISOString(), digest: credentialDigest(credential) };
    },

    /** Grants the session its broker permissions; returns its broker identity, if the broker has them. */
    async grantMessagingAccess(session: AgentAccessSession): Promise<{ identity?: string }> {
      const identity = await deps.agentAccess?.grant(session);
      if (identity) log.info('broker permissions granted', { agentId: session.agentId, swarmId: session.swarmId, identity });
      return { identity };
    },

    /** Takes the session's broker permissions away (deregistered, or credentials revoked). */
    async revokeMessagingAccess(session: AgentAccessSession): Promise<void> {
      await deps.agentAccess?.revoke(session);
    },

    async watchLiveness({ swarmId, agentId }: { swarmId: string; agentId: string }): Promise<void> {
      await deps.liveness.watch(swarmId, agentId);
      deps.directory?.agentChanged(swarmId);
    },

    async unwatchLiveness({ swarmId, agentId }: { swarmId: string; agentId: string }): Promise<void> {
      await deps.liveness.unwatch(swarmId, agentId);
      // The session is deregistering.
      deps.directory?.agentChanged(swarmId);
    },
  };
}

export type RegistrationActivities = ReturnType<typeof createRegistrationActivities>;
