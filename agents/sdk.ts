// The reference QP-Agent SDK: what an agent developer uses to join a swarm.
// Registers over REST, answers the challenge from its Pulsar inbox, then
// heartbeats on an interval; a rejected credential triggers re-registration.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { AgentRecord, AgentResources, ChallengeMessage } from '../core/agents';
import { challengeSigningInput } from '../core/agents';
import type { Consumer, MessagingPort } from '../adapters/ports';

export interface QpAgentOptions {
  apiUrl: string;
  agentId: string;
  swarmId?: string;
  capabilities: string[];
  resources: AgentResources;
  region?: string;
  /** The agent's inbox is read through this (Pulsar in production). */
  messaging: MessagingPort;
  /** Ed25519 key pair; generated when absent. */
  keys?: { publicKey: KeyObject; privateKey: KeyObject };
  heartbeatIntervalMs?: number;
  /** Per HTTP request. */
  requestTimeoutMs?: number;
  /** How long to wait for the challenge in the inbox. */
  handshakeTimeoutMs?: number;
  /** Retries of a failed call before giving up (heartbeats retry forever). */
  retries?: number;
  onEvent?: (event: AgentEvent) => void;
}

export type AgentEvent =
  | { type: 'registered'; credentialExpiresAt?: string }
  | { type: 'heartbeat-failed'; error: string; attempt: number }
  | { type: 'reconnected' }
  | { type: 'deregistered' };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'ApiError';
  }
}

export class QpAgent {
  readonly agentId: string;
  private readonly keys: { publicKey: KeyObject; privateKey: KeyObject };
  private inbox?: Consumer;
  private credential?: string;
  private timer?: NodeJS.Timeout;
  private heartbeatFailures = 0;
  private stopped = false;
  agent?: AgentRecord;

  constructor(private readonly options: QpAgentOptions) {
    this.agentId = options.agentId;
    this.keys = options.keys ?? generateKeyPairSync('ed25519');
  }

  get publicKeyPem(): string {
    return this.keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  get token(): string | undefined {
    return this.credential;
  }

  /** Registers (or re-registers) and completes the challenge handshake. */
  async register(): Promise<AgentRecord> {
    const accepted = await this.call<{ inboxTopic: string }>('POST', '/api/v1/swarm/register', {
      agentId: this.agentId,
      swarmId: this.options.swarmId,
      capabilities: this.options.capabilities,
      resources: this.options.resources,
      region: this.options.region,
      publicKey: this.publicKeyPem,
    });
    this.inbox ??= await this.options.messaging.subscribe(accepted.inboxTopic, `agent-${this.agentId}`, {
      initialPosition: 'earliest',
    });
    const deadline = Date.now() + (this.options.handshakeTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      const message = await this.inbox.receive(Math.min(1000, deadline - Date.now()));
      if (!message) continue;
      await this.inbox.ack(message);
      const parsed = JSON.parse(Buffer.from(message.payload).toString('utf8')) as Partial<ChallengeMessage>;
      if (parsed.type !== 'challenge' || typeof parsed.challenge !== 'string') continue;
      const signature = sign(
        null,
        Buffer.from(challengeSigningInput(this.agentId, parsed.challenge)),
        this.keys.privateKey,
      ).toString('base64');
      try {
        const issued = await this.call<{ credential: string; agent: AgentRecord }>(
          'POST',
          `/api/v1/swarm/agents/${this.agentId}/challenge-response`,
          { challenge: parsed.challenge, signature },
        );
        this.credential = issued.credential;
        this.agent = issued.agent;
        this.options.onEvent?.({ type: 'registered', credentialExpiresAt: issued.agent.credentialExpiresAt });
        return issued.agent;
      } catch (error) {
        // An older challenge left in the inbox: wait for the current one.
        if (error instanceof ApiError && error.code === 'STALE_CHALLENGE') continue;
        throw error;
      }
    }
    throw new Error(`no challenge arrived in the inbox of ${this.agentId} in time`);
  }

  /** Sends one heartbeat with the current credential. */
  async heartbeat(status: { load?: number; energyRemainingWh?: number } = {}): Promise<void> {
    if (!this.credential) throw new Error('register() first');
    await this.call('POST', `/api/v1/swarm/agents/${this.agentId}/heartbeat`, status, this.credential, 0);
  }

  /** Heartbeats every heartbeatIntervalMs until stopHeartbeats(); failures back off and reconnect. */
  startHeartbeats(status: () => { load?: number; energyRemainingWh?: number } = () => ({})): void {
    this.stopHeartbeats();
    this.stopped = false;
    const interval = this.options.heartbeatIntervalMs ?? 10_000;
    const tick = async (): Promise<void> => {
      let delay = interval;
      try {
        await this.heartbeat(status());
        this.heartbeatFailures = 0;
      } catch (error) {
        this.heartbeatFailures++;
        this.options.onEvent?.({ type: 'heartbeat-failed', error: String(error), attempt: this.heartbeatFailures });
        delay = Math.min(interval, 250 * 2 ** Math.min(this.heartbeatFailures, 6));
        if (error instanceof ApiError && error.status === 401) await this.reconnect();
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), delay);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stopHeartbeats(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async deregister(): Promise<void> {
    this.stopHeartbeats();
    if (this.credential) {
      await this.call('DELETE', `/api/v1/swarm/agents/${this.agentId}`, undefined, this.credential);
      this.credential = undefined;
      this.options.onEvent?.({ type: 'deregistered' });
    }
    await this.close();
  }

  async close(): Promise<void> {
    this.stopHeartbeats();
    await this.inbox?.close();
    this.inbox = undefined;
  }

  private async reconnect(): Promise<void> {
    try {
      await this.register();
      this.options.onEvent?.({ type: 'reconnected' });
    } catch {
      // The next heartbeat tick tries again.
    }
  }

  private async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    retries = this.options.retries ?? 4,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(`${this.options.apiUrl}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
        });
        const payload = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
        if (response.ok) return payload as T;
        const error = new ApiError(response.status, payload.error?.code ?? 'HTTP', payload.error?.message ?? '');
        // 4xx is an answer, not a transient failure.
        if (response.status < 500 || attempt >= retries) throw error;
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) throw error;
        if (attempt >= retries) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}
