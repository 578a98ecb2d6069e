// The swarm roster on the real dev server: one full listing, then refreshes
// that read only the sessions changed since, and the same answers a fresh full
// listing would give after status flips, deregistration and a session that
// ends while a new run of the same agent goes on.
import { generateKeyPairSync } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { AgentRecord } from '../../core/agents';
import { AgentIdKey, AgentStatusKey, StandingChangedAtKey, SwarmIdKey } from '../../core/search-attributes';
import { TemporalSwarmRoster } from '../../adapters/temporal/swarm-roster';
import {
  REGISTRATION_WORKFLOW,
  deregisterRequestedSignal,
  livenessChangedSignal,
  registrationWorkflowId,
} from '../../workflows/definitions';
import type { RegisterAgentInput } from '../../workflows/registration';
import type { Embedded } from '../../workers/embedded';
import { startTestEmbedded, uniqueId, waitFor } from '../support/stack';

type ListRequest = temporal.api.workflowservice.v1.IListWorkflowExecutionsRequest;

function publicKeyPem(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** Starts an ACTIVE session the way continue-as-new carries one on (no handshake). */
async function startSession(stack: Embedded, swarmId: string, agentId: string, cpu = 2, standingChangedAt = true): Promise<string> {
  const now = new Date().toISOString();
  const publicKey = publicKeyPem();
  const resources = { cpu, memoryMb: 1024 };
  const record: AgentRecord = {
    agentId,
    swarmId,
    capabilities: ['train'],
    resources,
    publicKey,
    status: 'ACTIVE',
    registeredAt: now,
    statusChangedAt: now,
    credentialGeneration: 1,
  };
  const input: RegisterAgentInput = { profile: record, handshakeTimeoutMs: 60_000, session: record };
  await stack.client.workflow.start(REGISTRATION_WORKFLOW, {
    workflowId: registrationWorkflowId(agentId),
    taskQueue: stack.worker.options.taskQueue,
    args: [input],
    memo: { resources, publicKey, capabilities: record.capabilities },
    typedSearchAttributes: [
      { key: AgentIdKey, value: agentId },
      { key: SwarmIdKey, value: swarmId },
      { key: AgentStatusKey, value: 'ACTIVE' },
      ...(standingChangedAt ? [{ key: StandingChangedAtKey, value: new Date() }] : []),
    ],
  });
  return publicKey;
}

describe('TemporalSwarmRoster on the dev server', () => {
  let stack: Embedded;
  const queries: string[] = [];
  let listed = 0;

  /** The stack's client as the roster sees it, counting what each visibility read asked and returned. */
  const countingClient = (): Client => {
    const service = stack.client.workflowService;
    const listWorkflowExecutions = async (request: ListRequest) => {
      queries.push(request.query ?? '');
      const page = await service.listWorkflowExecutions(request);
      listed += page.executions?.length ?? 0;
      return page;
    };
    return { workflowService: { listWorkflowExecutions }, options: stack.client.options } as unknown as Client;
  };

  beforeAll(async () => {
    stack = await startTestEmbedded();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const activeIds = async (directory: { listActive(swarmId: string): Promise<{ agentId: string }[]> }, swarmId: string) =>
    (await directory.listActive(swarmId)).map((entry) => entry.agentId).sort();

  it('follows flips, deregistration and a replaced session by reading only what changed', async () => {
    const swarmId = uniqueId('roster');
    const ids = Array.from({ length: 12 }, (_, i) => `${swarmId}-a${String(i).padStart(2, '0')}`);
    const keys = new Map<string, string>();
    for (const agentId of ids) keys.set(agentId, await startSession(stack, swarmId, agentId));
    const fullListing = new TemporalSwarmRoster(stack.client, stack.client.options.namespace, { ttlMs: 0, fullEveryMs: 0 });
    await waitFor('visibility to list every session', async () => ((await fullListing.listActive(swarmId)).length === ids.length ? true : undefined));

    const roster = new TemporalSwarmRoster(countingClient(), stack.client.options.namespace, { ttlMs: 0 });
    expect(await activeIds(roster, swarmId)).toEqual(ids);
    expect(await roster.publicKey(swarmId, ids[0])).toBe(keys.get(ids[0]));
    expect((await roster.listActive(swarmId)).find((e) => e.agentId === ids[0])).toMatchObject({ resources: { cpu: 2, memoryMb: 1024 }, capabilities: ['train'] });

    // One agent LOST, one deregistered, one session ended and replaced by a new run with new resources.
    await stack.client.workflow.getHandle(registrationWorkflowId(ids[1])).signal(livenessChangedSignal, { agentId: ids[1], status: 'LOST', lastSeenAt: Date.now() });
    await stack.client.workflow.getHandle(registrationWorkflowId(ids[2])).signal(deregisterRequestedSignal, { reason: 'test' });
    await stack.client.workflow.getHandle(registrationWorkflowId(ids[3])).terminate('replaced');
    const replacedKey = await startSession(stack, swarmId, ids[3], 8);

    const expected = ids.filter((id) => id !== ids[1] && id !== ids[2]);
    const queriesBefore = queries.length;
    const listedBefore = listed;
    await waitFor('the roster to show the changes', async () => {
      const active = await activeIds(roster, swarmId);
      return JSON.stringify(active) === JSON.stringify(expected) ? true : undefined;
    });
    await waitFor('the replaced session to be the new run', async () =>
      (await roster.listActive(swarmId)).find((e) => e.agentId === ids[3])?.resources?.cpu === 8 ? true : undefined,
    );
    expect(await roster.publicKey(swarmId, ids[3])).toBe(replacedKey);
    // LOST keeps its key (its heartbeats revive it); deregistered does not.
    expect(await roster.publicKey(swarmId, ids[1])).toBe(keys.get(ids[1]));
    await waitFor('the deregistered key to be gone', async () => ((await roster.publicKey(swarmId, ids[2])) === undefined ? true : undefined));
    expect(await roster.publicKey(swarmId, 'never-registered')).toBeUndefined();

    // The refreshes after the first listing asked for changes only, and read far fewer than every session each time.
    const refreshes = queries.slice(queriesBefore);
    expect(refreshes.length).toBeGreaterThan(0);
    expect(refreshes.every((q) => q.includes('StandingChangedAt') || q.includes('AgentId IN'))).toBe(true);
    expect(await activeIds(fullListing, swarmId)).toEqual(expected);
    const perRefresh = (listed - listedBefore) / refreshes.length;
    expect(perRefresh).toBeLessThan(ids.length);

    for (const agentId of ids) {
      await stack.client.workflow.getHandle(registrationWorkflowId(agentId)).terminate('test over').catch(() => undefined);
    }
  });

  it('a periodic full listing runs in the background: reads go on from deltas meanwhile, and the refresh after it takes it in', async () => {
    const swarmId = uniqueId('roster');
    const ids = [0, 1, 2].map((i) => `${swarmId}-b${i}`);
    for (const agentId of ids.slice(0, 2)) await startSession(stack, swarmId, agentId);
    await waitFor('visibility to list both sessions', async () =>
      (await new TemporalSwarmRoster(stack.client, stack.client.options.namespace, { ttlMs: 0, fullEveryMs: 0 }).listActive(swarmId)).length === 2 ? true : undefined,
    );
    // Full listings (no StandingChangedAt in the query) wait at a gate once it is shut.
    let open: () => void = () => undefined;
    let gate: Promise<void> | undefined;
    let fullListings = 0;
    const service = stack.client.workflowService;
    const gated = {
      workflowService: {
        listWorkflowExecutions: async (request: ListRequest) => {
          const full = !request.query?.includes('StandingChangedAt') && !request.query?.includes('AgentId IN');
          if (full) {
            fullListings++;
            await gate;
          }
          return service.listWorkflowExecutions(request);
        },
      },
      options: stack.client.options,
    } as unknown as Client;
    const roster = new TemporalSwarmRoster(gated, stack.client.options.namespace, { ttlMs: 0, fullEveryMs: 1 });
    expect(await activeIds(roster, swarmId)).toEqual(ids.slice(0, 2));
    gate = new Promise<void>((resolve) => (open = resolve));

    // A session without StandingChangedAt (as before the attribute existed): only a full listing finds it.
    await startSession(stack, swarmId, ids[2], 2, false);
    await stack.client.workflow.getHandle(registrationWorkflowId(ids[0])).signal(deregisterRequestedSignal, { reason: 'test' });
    // The deregistration shows while the full listing is held: reads did not wait for it.
    await waitFor('the deregistration, read from a delta', async () => (JSON.stringify(await activeIds(roster, swarmId)) === JSON.stringify([ids[1]]) ? true : undefined));
    expect(fullListings).toBe(2);
    open();
    await waitFor('the background listing to be taken in', async () => (JSON.stringify(await activeIds(roster, swarmId)) === JSON.stringify(ids.slice(1)) ? true : undefined));

    for (const agentId of ids) {
      await stack.client.workflow.getHandle(registrationWorkflowId(agentId)).terminate('test over').catch(() => undefined);
    }
  });

  it('a change this process reports is read at the next call, within the ttl', async () => {
    const swarmId = uniqueId('roster');
    const first = `${swarmId}-first`;
    await startSession(stack, swarmId, first);
    // No settle time: a reported change is read by the next refresh that starts after it, so once the
    // first session shows, the roster serves its ttl (with the default 5 s, every read in the 5 s after
    // a report refreshes, and the second session would show early when the first was indexed late).
    const roster = new TemporalSwarmRoster(stack.client, stack.client.options.namespace, { ttlMs: 60_000, settleMs: 0 });
    await waitFor('the first session', async () => ((await activeIds(roster, swarmId)).length === 1 ? true : (roster.agentChanged(swarmId), undefined)));
    const second = `${swarmId}-second`;
    await startSession(stack, swarmId, second);
    // Without agentChanged the 60 s ttl serves the old roster.
    expect(await activeIds(roster, swarmId)).toEqual([first]);
    await waitFor('the reported change to be read', async () => {
      roster.agentChanged(swarmId);
      return (await activeIds(roster, swarmId)).length === 2 ? true : undefined;
    });
    for (const agentId of [first, second]) {
      await stack.client.workflow.getHandle(registrationWorkflowId(agentId)).terminate('test over').catch(() => undefined);
    }
  });
});
