// Timers measured in hours pass in milliseconds on the time-skipping test
// server (the Java one from Maven Central, started from the cached binary).
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { generateKeyPairSync } from 'node:crypto';
import type { RegistrationActivities } from '../activities/registration';
import { AgentIdKey, AgentStatusKey, SwarmIdKey } from '../core/search-attributes';
import { getAgentQuery } from '../workflows/definitions';
import type { RegisterAgentInput } from '../workflows/registration';
import { uniqueId } from './support/stack';
import { startTimeSkipping } from './support/time-skipping';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const DATETIME = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME;

describe('registration timers under time skipping', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await startTimeSkipping();
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: { AgentId: KEYWORD, SwarmId: KEYWORD, AgentStatus: KEYWORD, StandingChangedAt: DATETIME },
    });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('an agent silent for the whole two-hour handshake window fails with a timeout, in well under a second', async () => {
    const taskQueue = uniqueId('ts');
    const challenges: string[] = [];
    // Orchestration only: the activities are stand-ins that record what the workflow asked for.
    const activities: Partial<RegistrationActivities> = {
      async sendChallenge({ agentId }) {
        challenges.push(agentId);
        return { challenge: 'c2lsZW50' };
      },
    };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: { codePath: process.env.QP_TEST_WORKFLOW_BUNDLE! },
      activities,
    });
    const agentId = uniqueId('sleeper');
    const input: RegisterAgentInput = {
      handshakeTimeoutMs: 2 * 60 * 60 * 1000,
      profile: {
        agentId,
        swarmId: 'timers',
        capabilities: [],
        resources: { cpu: 1, memoryMb: 256 },
        publicKey: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    };
    const started = Date.now();
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start('registerAgent', {
        taskQueue,
        workflowId: `register-${agentId}`,
        args: [input],
        typedSearchAttributes: [
          { key: AgentIdKey, value: agentId },
          { key: SwarmIdKey, value: 'timers' },
          { key: AgentStatusKey, value: 'PENDING' },
        ],
      });
      await expect(handle.result()).rejects.toMatchObject({
        cause: { message: 'agent did not answer the challenge within 7200000 ms' },
      });
      expect((await handle.query(getAgentQuery)).status).toBe('FAILED');
    });
    expect(challenges).toEqual([agentId]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
