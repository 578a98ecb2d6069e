// registerAgent (id register-<agentId>): the handshake, then the agent's
// long-lived session. The session holds the agent's status and credential
// generation; heartbeats never reach it one by one, only status changes
// decided by the liveness monitor.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { QpSinks } from '../core/observations';
import type { AgentProfile, AgentRecord, AgentStatus } from '../core/agents';
import { AgentStatusKey, StandingChangedAtKey } from '../core/search-attributes';
import type { RegistrationActivities } from '../activities/registration';
import {
  ACCEPTED_CREDENTIAL_MEMO,
  REVOKED_CREDENTIAL,
  deregisterRequestedSignal,
  deregisterUpdate,
  getAgentQuery,
  awaitChallengeUpdate,
  livenessChangedSignal,
  reRegisterUpdate,
  respondToChallengeUpdate,
  revokeCredentialsUpdate,
  type CredentialsRevoked,
  type IssuedCredential,
} from './definitions';

export interface RegisterAgentInput {
  profile: AgentProfile;
  handshakeTimeoutMs: number;
  /** Set only by continue-as-new: the live session carried over. */
  session?: AgentRecord;
  pendingChallenge?: string;
  /** The broker authorises each agent: grant and revoke this session's own broker role. */
  brokerAccess?: boolean;
}

export interface RegisterAgentResult {
  agent: AgentRecord;
}

// Every step of the handshake is short (a publish, a signature check, an
// HMAC, a signal): local activities skip the task-queue round trip of each.
const { qpMetrics } = proxySinks<QpSinks>();

const activities = proxyLocalActivities<RegistrationActivities>({
  startToCloseTimeout: '10 seconds',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '200 ms', maximumInterval: '5 seconds', maximumAttempts: 10 },
});

// Broker grants are several admin calls to the broker: a task of their own, not a local activity.
const brokerAccess = proxyActivities<Pick<RegistrationActivities, 'grantMessagingAccess' | 'revokeMessagingAccess'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', maximumAttempts: 10 },
});

export async function registerAgent(input: RegisterAgentInput): Promise<RegisterAgentResult> {
  const now = (): string => new Date().toISOString();
  const agent: AgentRecord = input.session ?? {
    ...input.profile,
    status: 'PENDING',
    registeredAt: now(),
    statusChangedAt: now(),
    credentialGeneration: 0,
  };
  let pendingChallenge: string | undefined = input.pendingChallenge;
  /** The challenge last accepted, and when: its answer sent again (the agent's request timed out) is answered again. */
  let acceptedChallenge: { challenge: string; at: number } | undefined;
  let challengesSent = 0;
  let challengeSentAt = 0;
  let handshakeVerdict: 'accepted' | 'bad-signature' | undefined;
  let deregisterReason: string | undefined;

  // Rosters of the swarm refresh only the sessions changed since their last read.
  const standingChanged = (): void => {
    if (patched('standing-changed-at')) upsertSearchAttributes([{ key: StandingChangedAtKey, value: new Date() }]);
  };

  const setStatus = (status: AgentStatus, reason?: string): void => {
    agent.status = status;
    agent.statusChangedAt = now();
    if (reason !== undefined) agent.failureReason = reason;
    upsertSearchAttributes([{ key: AgentStatusKey, value: status }]);
    standingChanged();
  };

  const sendChallenge = async (): Promise<void> => {
    const { challenge } = await activities.sendChallenge({ swarmId: agent.swarmId, agentId: agent.agentId });
    pendingChallenge = challenge;
    challengeSentAt = Date.now();
    challengesSent++;
  };

  setHandler(getAgentQuery, () => agent);
  setHandler(awaitChallengeUpdate, async () => {
    await condition(() => pendingChallenge !== undefined || agent.status === 'FAILED' || agent.status === 'DEREGISTERED');
    return { challenge: pendingChallenge };
  });

  // Broker permissions belong to this session (the first run of the chain), never to the agent id alone.
  const accessSession = () => ({ swarmId: agent.swarmId, agentId: agent.agentId, session: workflowInfo().firstExecutionRunId.replace(/-/g, '').slice(0, 16) });
  const revokeMessagingAccess = async (): Promise<void> => {
    if (input.brokerAccess) await brokerAccess.revokeMessagingAccess(accessSession());
  };

  let answering = false;
  const answerChallenge = async (challenge: string, signature: string): Promise<IssuedCredential> => {
    // An agent whose request timed out while we answered sends the same answer again; a stale
    // refusal would leave it without the credential its session now holds.
    const repeated =
      acceptedChallenge !== undefined &&
      challenge === acceptedChallenge.challenge &&
      Date.now() - acceptedChallenge.at <= input.handshakeTimeoutMs &&
      patched('repeated-challenge-answer');
    if (challenge !== pendingChallenge && !repeated) {
      throw ApplicationFailure.nonRetryable('this challenge is not the one pending', 'STALE_CHALLENGE');
    }
    const valid = await activities.verifyChallengeSignature({
      agentId: agent.agentId,
      publicKey: agent.publicKey,
      challenge,
      signature,
    });
    if (!valid) {
      if (agent.status === 'PENDING') handshakeVerdict = 'bad-signature';
      throw ApplicationFailure.nonRetryable('the signature does not verify with the registered key', 'BAD_SIGNATURE');
    }
    if (challenge === pendingChallenge) acceptedChallenge = { challenge, at: Date.now() };
    pendingChallenge = undefined;
    let brokerIdentity: string | undefined;
    if (input.brokerAccess) ({ identity: brokerIdentity } = await brokerAccess.grantMessagingAccess(accessSession()));
    const generation = agent.credentialGeneration + 1;
    const issued = await activities.issueAgentCredential({
      agentId: agent.agentId,
      swarmId: agent.swarmId,
      generation,
    });
    agent.credentialGeneration = generation;
    agent.credentialExpiresAt = issued.expiresAt;
    // The newest credential retires the older ones at once: the API checks this memo on every agent call.
    if (patched('accepted-credential-memo')) upsertMemo({ [ACCEPTED_CREDENTIAL_MEMO]: issued.digest });
    if (agent.status === 'PENDING') {
      handshakeVerdict = 'accepted';
      setStatus('ACTIVE');
      if (challengeSentAt > 0) qpMetrics.handshakeCompleted((Date.now() - challengeSentAt) / 1000);
    }
    return { credential: issued.credential, agent: { ...agent }, ...(brokerIdentity ? { brokerIdentity } : {}) };
  };

  setHandler(
    respondToChallengeUpdate,
    async ({ challenge, signature }): Promise<IssuedCredential> => {
      // The agent can only have the challenge after sendChallenge delivered it,
      // but the activity's completion may still be on its way to us.
      await condition(() => challengesSent > 0 || agent.status !== 'PENDING');
      // One answer at a time, so that the credential an answer returns is the newest.
      if (patched('repeated-challenge-answer')) {
        while (answering) await condition(() => !answering);
      }
      answering = true;
      try {
        return await answerChallenge(challenge, signature);
      } finally {
        answering = false;
      }
    },
    {
      validator: ({ challenge, signature }) => {
        if (typeof challenge !== 'string' || challenge.length === 0) throw new Error('challenge is required');
        if (typeof signature !== 'string' || signature.length === 0) throw new Error('signature is required');
        if (agent.status === 'FAILED' || agent.status === 'DEREGISTERED') {
          throw new Error(`registration is ${agent.status}`);
        }
      },
    },
  );

  setHandler(
    reRegisterUpdate,
    async (profile): Promise<AgentRecord> => {
      agent.capabilities = profile.capabilities;
      agent.resources = profile.resources;
      agent.region = profile.region;
      // Task placement reads capabilities from the memo (set when the session started).
      upsertMemo(patched('capabilities-memo') ? { resources: profile.resources, capabilities: profile.capabilities } : { resources: profile.resources });
      standingChanged();
      await sendChallenge();
      return { ...agent };
    },
    {
      validator: (profile) => {
        if (profile.publicKey.trim() !== agent.publicKey.trim()) {
          throw new Error('agent is registered with a different public key; deregister it first');
        }
        if (profile.swarmId !== agent.swarmId) {
          throw new Error(`agent is registered in swarm ${agent.swarmId}; deregister it first`);
        }
        if (agent.status === 'FAILED' || agent.status === 'DEREGISTERED') {
          throw new Error(`registration is ${agent.status}`);
        }
      },
    },
  );

  setHandler(
    revokeCredentialsUpdate,
    async ({ reason }): Promise<CredentialsRevoked> => {
      upsertMemo({ [ACCEPTED_CREDENTIAL_MEMO]: REVOKED_CREDENTIAL });
      agent.credentialRevocation = { through: agent.credentialGeneration, reason, at: now() };
      const revokedThrough = agent.credentialGeneration;
      await revokeMessagingAccess();
      return { agentId: agent.agentId, revokedThrough };
    },
    {
      validator: ({ reason }) => {
        if (typeof reason !== 'string' || reason.length === 0) throw new Error('reason is required');
        if (agent.status === 'FAILED' || agent.status === 'DEREGISTERED') throw new Error(`registration is ${agent.status}`);
      },
    },
  );

  setHandler(deregisterUpdate, ({ reason }): AgentRecord => {
    deregisterReason = reason;
    return { ...agent };
  });

  setHandler(deregisterRequestedSignal, ({ reason }) => {
    deregisterReason ??= reason;
  });

  setHandler(livenessChangedSignal, (transition) => {
    if (agent.status === 'ACTIVE' || agent.status === 'LOST') setStatus(transition.status);
  });

  if (!input.session) {
    await sendChallenge();
    const answered = await condition(
      () => handshakeVerdict !== undefined || deregisterReason !== undefined,
      input.handshakeTimeoutMs,
    );
    if (deregisterReason !== undefined) {
      await revokeMessagingAccess();
      return finish('DEREGISTERED', deregisterReason);
    }
    if (!answered) {
      return fail('HANDSHAKE_TIMED_OUT', `agent did not answer the challenge within ${input.handshakeTimeoutMs} ms`);
    }
    if (handshakeVerdict === 'bad-signature') {
      return fail('BAD_SIGNATURE', 'the challenge signature does not verify with the registered public key');
    }
    await activities.watchLiveness({ swarmId: agent.swarmId, agentId: agent.agentId });
  }

  await condition(() => deregisterReason !== undefined || workflowInfo().continueAsNewSuggested);
  if (deregisterReason !== undefined) {
    await activities.unwatchLiveness({ swarmId: agent.swarmId, agentId: agent.agentId });
    await revokeMessagingAccess();
    return finish('DEREGISTERED', deregisterReason);
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof registerAgent>({ ...input, session: agent, pendingChallenge });

  async function finish(status: AgentStatus, reason: string): Promise<RegisterAgentResult> {
    setStatus(status, reason);
    await condition(allHandlersFinished);
    return { agent };
  }

  async function fail(code: string, reason: string): Promise<never> {
    setStatus('FAILED', reason);
    pendingChallenge = undefined;
    await condition(allHandlersFinished);
    throw ApplicationFailure.nonRetryable(reason, code);
  }
}
