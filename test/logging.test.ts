// Structured logs: JSON lines with the ids of what they concern, the level from
// QP_LOG_LEVEL, and never a secret: a whole run's log, at DEBUG, holds neither the
// admin token nor any agent's credential.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createJsonLogger, jsonLogLine, redact, REDACTED } from '../adapters/logging/json-logger';
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import { parseConfig } from '../core/config';
import { issueCredential } from '../core/credentials';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

describe('redaction', () => {
  const credential = issueCredential('s'.repeat(32), { sub: 'a1', swarm: 's1', gen: 1, iat: 1, exp: 2 });

  it('replaces attributes named like a secret, credentials, bearer tokens and private keys wherever they appear', () => {
    const out = redact({
      agentId: 'a1',
      token: 'abc',
      headers: { Authorization: 'Bearer xyz', accept: 'json' },
      message: `sent ${credential} to the agent`,
      key: '-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----',
      nested: [{ credentialSecret: 'x'.repeat(40) }],
      valid: true,
    });
    expect(out).toEqual({
      agentId: 'a1',
      token: REDACTED,
      headers: { Authorization: REDACTED, accept: 'json' },
      message: `sent ${REDACTED} to the agent`,
      key: REDACTED,
      nested: [{ credentialSecret: REDACTED }],
      valid: true,
    });
  });

  it('replaces exact values it is told are secret (the admin token), and survives cycles', () => {
    const cyclic: Record<string, unknown> = { note: `token is ${ADMIN_TOKEN}` };
    cyclic.self = cyclic;
    expect(redact(cyclic, [ADMIN_TOKEN])).toEqual({ note: `token is ${REDACTED}`, self: '[…]' });
  });

  it("keeps a wrapped error's cause and failure type, redacted like the rest", () => {
    const cause = Object.assign(new Error(`refused ${credential}`), { type: 'AcceptedUpdateCompletedWorkflow' });
    const out = redact(new Error('Workflow Update failed', { cause })) as Record<string, any>;
    expect(out.message).toBe('Workflow Update failed');
    expect(out.cause).toMatchObject({ type: 'AcceptedUpdateCompletedWorkflow', message: `refused ${REDACTED}` });
  });

  it('writes one JSON object per line with time, level and msg', () => {
    const line = jsonLogLine({ level: 'WARN', message: 'heartbeat refused', timestampNanos: 1_700_000_000_000_000_000n, meta: { agentId: 'a1' } });
    expect(JSON.parse(line)).toEqual({ time: '2023-11-14T22:13:20.000Z', level: 'warn', msg: 'heartbeat refused', agentId: 'a1' });
  });

  it('writes only entries at or above the configured level (QP_LOG_LEVEL)', () => {
    const lines: string[] = [];
    const logger = createJsonLogger(parseConfig({ QP_LOG_LEVEL: 'WARN' }).QP_LOG_LEVEL, { write: (l) => lines.push(l) });
    logger.info('quiet');
    logger.warn('loud');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['loud']);
    expect(() => parseConfig({ QP_LOG_LEVEL: 'chatty' })).toThrow(/QP_LOG_LEVEL/);
  });
});

describe("a run's logs", () => {
  const lines: string[] = [];
  let stack: Embedded;
  let swarm: SwarmSimulation;
  const swarmId = uniqueId('logs');

  beforeAll(async () => {
    // Every log of the SDK and of the activities, at DEBUG, through the project's logger.
    await Runtime.instance().shutdown();
    Runtime.install({ logger: createJsonLogger('DEBUG', { write: (line) => lines.push(line) }) });
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await swarm?.stop();
    await stack?.stop();
    await Runtime.instance().shutdown();
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  });

  it('carry workflow, run, agent and job ids, and hold neither the admin token nor an agent credential', async () => {
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 3,
      swarmId,
      idPrefix: swarmId,
      heartbeatIntervalMs: 300,
      trainers: digitsTrainers({ agents: 3, alpha: 0.5, seed: 4 }),
    });
    expect(swarm.failed).toEqual([]);
    const credentials = swarm.agents.map((a) => a.token!);
    expect(credentials.every((c) => c.startsWith('qpc1.'))).toBe(true);

    const started = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ swarmId, model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION }, rounds: 1, fraction: 1, minParticipants: 2 }),
    });
    const { jobId } = (await started.json()) as { jobId: string };
    await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    // A forged heartbeat, refused and logged with the agent it claimed to be.
    await fetch(`${stack.api.url}/api/v1/swarm/agents/${swarm.agents[0].agentId}/heartbeat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credentials[1]}`, 'content-type': 'application/json' },
      body: '{}',
    });
    await waitFor('the round to be logged', () => (lines.some((l) => l.includes('round collected')) ? true : undefined));

    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(20);
    const issued = entries.filter((e) => e.msg === 'credential issued' && String(e.agentId).startsWith(swarmId));
    expect(issued).toHaveLength(3);
    for (const entry of issued) {
      expect(entry).toMatchObject({ level: 'info', swarmId, workflowId: `register-${entry.agentId}` });
      expect(typeof entry.runId).toBe('string');
    }
    expect(entries.find((e) => e.msg === 'round collected' && e.jobId === jobId)).toMatchObject({
      swarmId,
      round: 1,
      workflowId: tuningWorkflowId(jobId),
      runId: expect.any(String),
    });
    expect(entries.some((e) => e.level === 'debug')).toBe(true);

    const text = lines.join('\n');
    expect(text).not.toContain(ADMIN_TOKEN);
    for (const credential of credentials) {
      expect(text).not.toContain(credential);
      // Nor its signature alone (the part after the last dot).
      expect(text).not.toContain(credential.split('.').at(-1)!);
    }
  }, 120_000);
});
