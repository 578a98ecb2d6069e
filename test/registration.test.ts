// The registration handshake and agent sessions, end to end: real Temporal
// dev server, real worker, real HTTP API, the reference SDK.
import { generateKeyPairSync, sign } from 'node:crypto';
import type { AgentRecord, ChallengeMessage } from '../core/agents';
import { challengeSigningInput } from '../core/agents';
import { signAsAgent } from '../core/message-proof';
import { swarmTopics } from '../core/topics';
import { QpAgent, ApiError } from '../agents/sdk';
import { TemporalSwarmRoster } from '../adapters/temporal/swarm-roster';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function getAgent(stack: Embedded, agentId: string): Promise<AgentRecord> {
  const res = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}`, { headers: admin });
  if (!res.ok) throw new Error(`GET agent ${res.status}`);
  return (await res.json()) as AgentRecord;
}

function newAgent(
  stack: Embedded,
  swarmId: string,
  agentId = uniqueId('agent'),
  heartbeatIntervalMs = 200,
  heartbeatVia: 'http' | 'messaging' = 'http',
): QpAgent {
  return new QpAgent({
    heartbeatVia,
    apiUrl: stack.api.url,
    messaging: stack.ports.messaging,
    agentId,
    swarmId,
    capabilities: ['train'],
    resources: { cpu: 2, memoryMb: 2048, energy: { source: 'solar', budgetWh: 100 } },
    heartbeatIntervalMs,
    handshakeTimeoutMs: 10_000,
  });
}

async function readChallenge(stack: Embedded, swarmId: string, agentId: string): Promise<string> {
  const consumer = await stack.ports.messaging.subscribe(swarmTopics(swarmId).inbox(agentId), 'test-reader', {
    initialPosition: 'earliest',
  });
  try {
    const message = await consumer.receive(10_000);
    if (!message) throw new Error('no challenge in the inbox');
    await consumer.ack(message);
    return (JSON.parse(Buffer.from(message.payload).toString()) as ChallengeMessage).challenge;
  } finally {
    await consumer.close();
  }
}

async function postRegister(stack: Embedded, body: object): Promise<Response> {
  return fetch(`${stack.api.url}/api/v1/swarm/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('agent registration on a real Temporal server', () => {
  let stack: Embedded;
  const swarmId = uniqueId('swarm');

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_HANDSHAKE_TIMEOUT_MS: '1500',
      QP_HEARTBEAT_GRACE_MS: '1500',
      QP_LIVENESS_WINDOW_MS: '250',
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('an agent that signs the challenge becomes ACTIVE and gets a credential that works for heartbeats', async () => {
    const agent = newAgent(stack, swarmId);
    const record = await agent.register();
    expect(record.status).toBe('ACTIVE');
    expect(record.swarmId).toBe(swarmId);
    expect(agent.token).toMatch(/^qpc1\./);
    await agent.heartbeat({ load: 0.5 });
    const stored = await getAgent(stack, agent.agentId);
    expect(stored.status).toBe('ACTIVE');
    expect(stored.credentialGeneration).toBe(1);
    expect(stored.resources.energy?.source).toBe('solar');
    await agent.close();
  });

  it('a signature by another key fails the registration with a clear reason', async () => {
    const agentId = uniqueId('forger');
    const { publicKey } = generateKeyPairSync('ed25519');
    const { privateKey: wrongKey } = generateKeyPairSync('ed25519');
    const res = await postRegister(stack, {
      agentId,
      swarmId,
      capabilities: [],
      resources: { cpu: 1, memoryMb: 512 },
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    expect(res.status).toBe(202);
    const challenge = await readChallenge(stack, swarmId, agentId);
    const signature = sign(null, Buffer.from(challengeSigningInput(agentId, challenge)), wrongKey).toString('base64');
    const answer = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}/challenge-response`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challenge, signature }),
    });
    expect(answer.status).toBe(401);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('BAD_SIGNATURE');
    const failed = await waitFor('the registration to fail', async () => {
      const agent = await getAgent(stack, agentId);
      return agent.status === 'FAILED' ? agent : undefined;
    });
    expect(failed.failureReason).toMatch(/signature does not verify/);
  });

  it('an agent that never answers the challenge fails after the handshake timeout', async () => {
    const agentId = uniqueId('silent');
    const { publicKey } = generateKeyPairSync('ed25519');
    const res = await postRegister(stack, {
      agentId,
      swarmId,
      capabilities: [],
      resources: { cpu: 1, memoryMb: 512 },
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    expect(res.status).toBe(202);
    const failed = await waitFor('the handshake to time out', async () => {
      const agent = await getAgent(stack, agentId);
      return agent.status === 'FAILED' ? agent : undefined;
    });
    expect(failed.failureReason).toBe('agent did not answer the challenge within 1500 ms');
  });

  it('registering a live agent again returns the existing session and a fresh credential', async () => {
    const agent = newAgent(stack, swarmId);
    const first = await agent.register();
    const firstToken = agent.token;
    const again = await postRegister(stack, {
      agentId: agent.agentId,
      swarmId,
      capabilities: ['train'],
      resources: { cpu: 2, memoryMb: 2048 },
      publicKey: agent.publicKeyPem,
    });
    expect(again.status).toBe(200);
    const body = (await again.json()) as { created: boolean; agent: { status: string } };
    expect(body).toMatchObject({ created: false, agent: { status: 'ACTIVE' } });
    const second = await agent.register();
    expect(second.registeredAt).toBe(first.registeredAt);
    expect(second.credentialGeneration).toBe(first.credentialGeneration + 1);
    expect(agent.token).not.toBe(firstToken);
    await agent.close();
  });

  it('the same answer sent again (its request timed out while the manager answered) gets the newest credential; an older challenge stays refused', async () => {
    const agentId = uniqueId('retrier');
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const registered = await postRegister(stack, {
      agentId,
      swarmId,
      capabilities: [],
      resources: { cpu: 1, memoryMb: 512 },
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    expect(registered.status).toBe(202);
    const challenge = await readChallenge(stack, swarmId, agentId);
    const signature = sign(null, Buffer.from(challengeSigningInput(agentId, challenge)), privateKey).toString('base64');
    const answer = (body: object) =>
      fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}/challenge-response`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const heartbeat = (token: string) =>
      fetch(`${stack.api.url}/api/v1/swarm/agents/${agentId}/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
    // The first answer and its retry race, as they do when the first request's client gave up.
    const [first, again] = await Promise.all([answer({ challenge, signature }), answer({ challenge, signature })]);
    expect([first.status, again.status]).toEqual([200, 200]);
    const issued = await Promise.all([first, again].map(async (res) => (await res.json()) as { credential: string; agent: AgentRecord }));
    const newest = issued.reduce((a, b) => (b.agent.credentialGeneration > a.agent.credentialGeneration ? b : a));
    expect(issued.map((i) => i.agent.credentialGeneration).sort()).toEqual([1, 2]);
    expect((await heartbeat(newest.credential)).status).toBe(202);
    expect((await heartbeat(issued.find((i) => i !== newest)!.credential)).status).toBe(401);
    expect((await getAgent(stack, agentId)).status).toBe('ACTIVE');

    // A challenge this session never accepted is refused as ever.
    const other = 'b'.repeat(43) + '=';
    const stale = await answer({ challenge: other, signature: sign(null, Buffer.from(challengeSigningInput(agentId, other)), privateKey).toString('base64') });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('STALE_CHALLENGE');
  });

  it('re-registering a live agent with a different key is refused with 409', async () => {
    const agent = newAgent(stack, swarmId);
    await agent.register();
    const { publicKey } = generateKeyPairSync('ed25519');
    const res = await postRegister(stack, {
      agentId: agent.agentId,
      swarmId,
      capabilities: [],
      resources: { cpu: 1, memoryMb: 512 },
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/different public key/);
    await agent.close();
  });

  it('an agent that stops heartbeating is marked LOST after the grace period, and ACTIVE again when it returns', async () => {
    const agent = newAgent(stack, swarmId);
    await agent.register();
    agent.startHeartbeats();
    await waitFor('heartbeats to be consumed', async () => {
      const text = await stack.workerRegistry.getSingleMetricAsString('qp_manager_heartbeats_consumed_total');
      return /heartbeats_consumed_total [1-9]/.test(text) ? true : undefined;
    });
    expect((await getAgent(stack, agent.agentId)).status).toBe('ACTIVE');
    agent.stopHeartbeats();
    await waitFor('the agent to be LOST', async () =>
      (await getAgent(stack, agent.agentId)).status === 'LOST' ? true : undefined,
    );
    agent.startHeartbeats();
    await waitFor('the agent to be ACTIVE again', async () =>
      (await getAgent(stack, agent.agentId)).status === 'ACTIVE' ? true : undefined,
    );
    await agent.close();
  });

  it('heartbeats published straight on the swarm topic keep an agent alive; forged, unsigned and replayed ones do not', async () => {
    const agent = newAgent(stack, swarmId, uniqueId('direct'), 200, 'messaging');
    const topic = swarmTopics(swarmId).heartbeats;
    await agent.register();
    await waitFor('the silent agent to be LOST', async () =>
      (await getAgent(stack, agent.agentId)).status === 'LOST' ? true : undefined,
    );
    // Back to ACTIVE on its own heartbeats: the monitor has accepted one at or after the first one tapped here.
    const tap = await stack.ports.messaging.subscribe(topic, uniqueId('tap'), { initialPosition: 'latest' });
    agent.startHeartbeats();
    await waitFor('the agent to be ACTIVE again', async () =>
      (await getAgent(stack, agent.agentId)).status === 'ACTIVE' ? true : undefined,
    );
    agent.stopHeartbeats();
    // What travels on the shared topic: the agent's id, a send time and a signature; never its credential.
    const real = await waitFor('a real heartbeat on the topic', async () => {
      // Other agents of the swarm heartbeat too: read until this agent's first, or the topic is quiet.
      for (let message = await tap.receive(200); message; message = await tap.receive(200)) {
        await tap.ack(message);
        if (message.properties.agentId === agent.agentId) return message;
      }
      return undefined;
    });
    await tap.close();
    expect(Object.keys(real.properties).sort()).toEqual(['agentId', 'proof', 'sentAt']);
    expect(JSON.stringify(real.properties)).not.toContain(agent.token!);
    await waitFor('the agent to be LOST', async () =>
      (await getAgent(stack, agent.agentId)).status === 'LOST' ? true : undefined,
    );
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const refused = async (reason: string): Promise<number> => {
      const text = await stack.workerRegistry.getSingleMetricAsString('qp_manager_heartbeats_rejected_total');
      const line = text.split('\n').find((l) => l.includes(`reason="${reason}"`));
      return line ? Number(line.trim().split(' ').pop()) : 0;
    };
    const before = { bad: await refused('bad-proof'), missing: await refused('missing-proof'), replayed: await refused('replayed') };
    // Someone without the agent's key speaks for it: signed by another key, carrying the agent's own
    // bearer credential the old way, or replaying the agent's real heartbeat. It stays LOST.
    const forge = setInterval(() => {
      const payload = Buffer.from(JSON.stringify({ agentId: agent.agentId, sentAt: Date.now() }));
      void stack.ports.messaging.publish(topic, payload, {
        key: agent.agentId,
        properties: signAsAgent(stranger, agent.agentId, topic, {}, payload, Date.now()),
      });
      void stack.ports.messaging.publish(topic, payload, { key: agent.agentId, properties: { credential: agent.token! } });
      void stack.ports.messaging.publish(topic, real.payload, { key: agent.agentId, properties: real.properties });
    }, 100);
    try {
      await waitFor('each kind of forgery to be refused and counted by reason', async () =>
        (await refused('bad-proof')) > before.bad &&
        (await refused('missing-proof')) > before.missing &&
        (await refused('replayed')) > before.replayed
          ? true
          : undefined,
      );
      expect((await getAgent(stack, agent.agentId)).status).toBe('LOST');
    } finally {
      clearInterval(forge);
    }
    agent.startHeartbeats();
    await waitFor('the agent to be ACTIVE again', async () =>
      (await getAgent(stack, agent.agentId)).status === 'ACTIVE' ? true : undefined,
    );
    await agent.close();
  });

  it("a deregistered agent's signed messages stop counting: its key leaves the manager's key directory within seconds", async () => {
    const keys = new TemporalSwarmRoster(stack.client, stack.client.options.namespace);
    const agent = newAgent(stack, swarmId);
    await agent.register();
    const key = await waitFor('the registered key to be listed', async () => keys.publicKey(swarmId, agent.agentId));
    expect(key).toBe(agent.publicKeyPem);
    await agent.deregister();
    const started = Date.now();
    await waitFor('the key to be gone', async () => ((await keys.publicKey(swarmId, agent.agentId)) === undefined ? true : undefined));
    // The roster's refresh period (1 s) plus visibility's own lag.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await keys.publicKey(swarmId, 'never-registered')).toBeUndefined();
  });

  it('a deregistered agent leaves the registry and its credential can no longer act on it', async () => {
    const agent = newAgent(stack, swarmId);
    await agent.register();
    const token = agent.token!;
    await agent.deregister();
    const record = await waitFor('the session to close', async () => {
      const r = await getAgent(stack, agent.agentId);
      return r.status === 'DEREGISTERED' ? r : undefined;
    });
    expect(record.failureReason).toBe('deregistered by agent');
    const again = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agent.agentId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/no longer registered/);
  });

  it('deregistering again, as a retry after a lost answer does, gives the same answer, not a 404', async () => {
    const agent = newAgent(stack, swarmId);
    await agent.register();
    const remove = () => fetch(`${stack.api.url}/api/v1/swarm/agents/${agent.agentId}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const first = await remove();
    expect(first.status).toBe(200);
    await waitFor('the session to close', async () => ((await getAgent(stack, agent.agentId)).status === 'DEREGISTERED' ? true : undefined));
    const again = await remove();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { status: string }).status).toBe('DEREGISTERED');
  });

  it('a newer credential retires the older one, and a revocation or deregistration stops the current one, each at once', async () => {
    const agent = newAgent(stack, swarmId);
    await agent.register();
    const heartbeat = (token: string) =>
      fetch(`${stack.api.url}/api/v1/swarm/agents/${agent.agentId}/heartbeat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
    const first = agent.token!;
    expect((await heartbeat(first)).status).toBe(202);

    // Rotation: a fresh handshake issues a new credential; the old one is refused on the very next call.
    await agent.register();
    const second = agent.token!;
    expect(second).not.toBe(first);
    const retired = await heartbeat(first);
    expect(retired.status).toBe(401);
    expect(((await retired.json()) as { error: { message: string } }).error.message).toMatch(/newer credential/);
    expect((await heartbeat(second)).status).toBe(202);

    // Revocation by the admin: the current credential stops at once; the session stays.
    const revoked = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agent.agentId}/credentials/revoke`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'key holder left' }),
    });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toEqual({ agentId: agent.agentId, revokedThrough: 2 });
    const refused = await heartbeat(second);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/revoked/);
    const record = await getAgent(stack, agent.agentId);
    expect(record.status).toBe('ACTIVE');
    expect(record.credentialRevocation).toMatchObject({ through: 2, reason: 'key holder left' });

    // The same key earns a new credential; deregistration then stops it at once too.
    await agent.register();
    const third = agent.token!;
    expect((await heartbeat(third)).status).toBe(202);
    const gone = await fetch(`${stack.api.url}/api/v1/swarm/agents/${agent.agentId}`, { method: 'DELETE', headers: admin });
    expect(gone.status).toBe(200);
    expect((await heartbeat(third)).status).toBe(401);
    await agent.close();
  });

  it('an agent may revoke its own credentials but not another agent\'s', async () => {
    const [a, b] = [newAgent(stack, swarmId), newAgent(stack, swarmId)];
    await a.register();
    await b.register();
    const revoke = (target: string, token: string) =>
      fetch(`${stack.api.url}/api/v1/swarm/agents/${target}/credentials/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await revoke(b.agentId, a.token!)).status).toBe(403);
    const own = await revoke(a.agentId, a.token!);
    expect(own.status).toBe(200);
    expect((await revoke(a.agentId, a.token!)).status).toBe(401);
    await a.close();
    await b.close();
  });

  it('ending a swarm ends every live session in it, crashed agents included, and no other swarm\'s', async () => {
    const ending = uniqueId('swarm-ending');
    const staying = uniqueId('swarm-staying');
    const agents = [0, 1, 2].map((i) => newAgent(stack, ending, `${ending}-a${i}`, 60_000));
    const neighbour = newAgent(stack, staying, undefined, 60_000);
    for (const agent of [...agents, neighbour]) await agent.register();
    await agents[0].close(); // crashed: it will never deregister itself
    await waitFor('visibility to list the three sessions', async () =>
      (await stack.client.workflow.count(`SwarmId = '${ending}' AND ExecutionStatus = 'Running'`)).count === 3 ? true : undefined,
    );
    const ended = await stack.api.swarm.deregisterSwarm(ending, 'swarm stopped', { timeoutMs: 30_000 });
    expect(ended).toEqual({ asked: 3, stillRunning: 0 });
    for (const agent of agents) {
      const described = await stack.client.workflow.getHandle(`register-${agent.agentId}`).describe();
      expect(described.status.name).toBe('COMPLETED');
      expect(described.searchAttributes.AgentStatus).toEqual(['DEREGISTERED']);
    }
    expect((await getAgent(stack, neighbour.agentId)).status).toBe('ACTIVE');
    await Promise.all([...agents.slice(1), neighbour].map((agent) => agent.close()));
  });

  it('lists agents by swarm and status, page by page', async () => {
    const listSwarm = uniqueId('swarm-list');
    const agents = [0, 1, 2].map((i) => newAgent(stack, listSwarm, `${listSwarm}-a${i}`));
    for (const agent of agents) await agent.register();
    const pages: string[][] = [];
    let token: string | undefined;
    await waitFor('visibility to show all three ACTIVE', async () => {
      const res = await fetch(`${stack.api.url}/api/v1/swarm/agents?swarmId=${listSwarm}&status=ACTIVE`, {
        headers: admin,
      });
      const body = (await res.json()) as { agents: unknown[] };
      return body.agents.length === 3 ? true : undefined;
    });
    do {
      const url = `${stack.api.url}/api/v1/swarm/agents?swarmId=${listSwarm}&pageSize=2${token ? `&pageToken=${token}` : ''}`;
      const body = (await (await fetch(url, { headers: admin })).json()) as {
        agents: { agentId: string; swarmId: string; status: string }[];
        nextPageToken?: string;
      };
      pages.push(body.agents.map((a) => a.agentId));
      for (const a of body.agents) expect(a).toMatchObject({ swarmId: listSwarm, status: 'ACTIVE' });
      token = body.nextPageToken;
    } while (token);
    expect(pages[0]).toHaveLength(2);
    expect(pages.flat().sort()).toEqual(agents.map((a) => a.agentId).sort());
    await Promise.all(agents.map((a) => a.close()));
  });

  it('refuses page tokens it did not hand out, or handed out for another listing, with 400 naming pageToken', async () => {
    const listSwarm = uniqueId('swarm-pages');
    const agents = [0, 1, 2].map((i) => newAgent(stack, listSwarm, `${listSwarm}-a${i}`));
    for (const agent of agents) await agent.register();
    const list = (query: string) => fetch(`${stack.api.url}/api/v1/swarm/agents?${query}`, { headers: admin });
    const issued = await waitFor('a first page with a next page token', async () => {
      const body = (await (await list(`swarmId=${listSwarm}&pageSize=2`)).json()) as { nextPageToken?: string };
      return body.nextPageToken;
    });
    const [body, mac] = issued.split('.');
    const flipped = `${body.slice(0, -1)}${body.endsWith('A') ? 'B' : 'A'}.${mac}`;
    for (const [query, why] of [
      [`swarmId=${listSwarm}&pageToken=abc`, 'made up'],
      [`swarmId=${listSwarm}&pageToken=0`, 'made up'],
      [`swarmId=${listSwarm}&pageToken=${flipped}`, 'edited'],
      [`swarmId=other-${listSwarm}&pageToken=${issued}`, 'another listing'],
    ]) {
      const started = Date.now();
      const res = await list(query);
      expect({ why, status: res.status }).toEqual({ why, status: 400 });
      expect(await res.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', field: 'pageToken' } });
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    expect((await list(`swarmId=${listSwarm}&pageSize=2&pageToken=${issued}`)).status).toBe(200);
    await Promise.all(agents.map((a) => a.close()));
  });

  it('an agent credential may not read or remove another agent', async () => {
    const a = newAgent(stack, swarmId);
    const b = newAgent(stack, swarmId);
    await a.register();
    await b.register();
    const res = await fetch(`${stack.api.url}/api/v1/swarm/agents/${b.agentId}`, {
      headers: { authorization: `Bearer ${a.token}` },
    });
    expect(res.status).toBe(403);
    const hb = await fetch(`${stack.api.url}/api/v1/swarm/agents/${b.agentId}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(hb.status).toBe(403);
    await expect(a.heartbeat()).resolves.toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('the SDK reports a rejected call as an ApiError with the code', async () => {
    const agent = newAgent(stack, swarmId, 'bad id with spaces');
    await expect(agent.register()).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    await expect(agent.register()).rejects.toBeInstanceOf(ApiError);
  });
});
