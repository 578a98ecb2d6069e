// The live status page at GET / and its data at GET /api/v1/status, against a real
// swarm on the test Temporal server: the numbers are the API's numbers.
import { digitsTrainers, DIGITS_DIMENSION } from '../agents/trainers';
import { simulateSwarm, type SwarmSimulation } from '../agents/simulate';
import { accuracyChart, renderStatusBody } from '../api/status-page';
import type { StatusSummary } from '../api/status-service';
import type { TuningProgress } from '../core/tuning';
import { AGENT_STATUSES, type AgentStatus } from '../core/agents';
import { tuningWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('the status page', () => {
  let stack: Embedded;
  let swarm: SwarmSimulation;
  let other: SwarmSimulation | undefined;
  const swarmId = uniqueId('status');
  const otherSwarmId = uniqueId('status-b');

  beforeAll(async () => {
    stack = await startTestEmbedded({ QP_HEARTBEAT_GRACE_MS: '3000', QP_BEHAVIOR_SWEEP_CRON: 'off', QP_TEMPORAL_UI_URL: 'http://ui.example:8233' });
  });
  afterAll(async () => {
    await swarm?.stop();
    await other?.stop();
    await stack?.stop();
  });

  /** The swarm's agents by status as the REST API lists them, page by page. */
  const agentsByStatus = async (id: string): Promise<Record<AgentStatus, number>> => {
    const counts = {} as Record<AgentStatus, number>;
    for (const st of AGENT_STATUSES) {
      let total = 0;
      let pageToken: string | undefined;
      do {
        const query = new URLSearchParams({ swarmId: id, status: st, pageSize: '50', ...(pageToken ? { pageToken } : {}) });
        const page = (await fetch(`${stack.api.url}/api/v1/swarm/agents?${query}`, { headers: admin }).then((r) => r.json())) as { agents: unknown[]; nextPageToken?: string };
        total += page.agents.length;
        pageToken = page.nextPageToken;
      } while (pageToken);
      counts[st] = total;
    }
    return counts;
  };

  const summary = async (): Promise<StatusSummary> => {
    const res = await fetch(`${stack.api.url}/api/v1/status`);
    expect(res.status).toBe(200);
    return (await res.json()) as StatusSummary;
  };

  it('before anything ran: no job, no report, and the page says so', async () => {
    const page = await fetch(`${stack.api.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('no tuning job yet');
    expect(html).toContain('no completed behaviour sweep of these swarms yet');
    expect(html).toContain('<script>');
    expect(html).toContain('href="http://ui.example:8233/namespaces/');
    expect((await summary()).jobs).toEqual([]);
  });

  it("shows the swarm's agents by status, the job's accuracy per round and the latest behaviour report, as the API reports them", async () => {
    swarm = await simulateSwarm({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      count: 5,
      swarmId,
      idPrefix: swarmId,
      heartbeatIntervalMs: 500,
      trainers: digitsTrainers({ agents: 5, alpha: 0.5, seed: 2 }),
    });
    expect(swarm.failed).toEqual([]);
    swarm.agents[0].stopHeartbeats();
    await waitFor('one agent LOST', async () =>
      (await stack.api.swarm.listAgents({ swarmId, status: 'LOST', pageSize: 10 })).agents.length === 1 ? true : undefined,
    30_000, 250);

    const started = await fetch(`${stack.api.url}/api/v1/tuning/start`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        swarmId,
        model: { kind: 'softmax-digits', dimension: DIGITS_DIMENSION },
        rounds: 2,
        fraction: 1,
        minParticipants: 2,
        training: { learningRate: 0.1, epochs: 1, batchSize: 32 },
      }),
    });
    const { jobId } = (await started.json()) as { jobId: string };
    const result: TuningProgress = await stack.client.workflow.getHandle(tuningWorkflowId(jobId)).result();
    for (const [i, agent] of swarm.agents.slice(1).entries()) {
      for (let e = 0; e < 3; e++) {
        await agent.reportBehavior({ episodeId: `e${e}`, descriptor: Array.from({ length: 16 }, (_, d) => Math.cos(i * 5 + e + d)), fitness: i + e });
      }
    }
    const sweep = await fetch(`${stack.api.url}/api/v1/behaviors/sweep`, { method: 'POST', headers: admin, body: JSON.stringify({ swarmId }) });
    const { reportId } = (await sweep.json()) as { reportId: string };

    const status = await waitFor('the report on the status page', async () => {
      const s = await summary();
      return s.behaviorReport?.reportId === reportId ? s : undefined;
    }, 30_000, 250);

    expect(status.swarms.find((s) => s.swarmId === swarmId)?.agents).toEqual(await agentsByStatus(swarmId));
    const job = status.jobs.find((j) => j.jobId === jobId)!;
    expect(job).toMatchObject({ swarmId, status: 'COMPLETED', round: 2, rounds: 2, workflowUrl: `http://ui.example:8233/namespaces/${status.namespace}/workflows/tuning-${jobId}` });
    expect(job.accuracy).toEqual(result.recentRounds.map((r) => ({ round: r.round, accuracy: r.accuracy ?? null })));
    // By its id: the namespace's latest report may already be another suite's sweep.
    const report = await fetch(`${stack.api.url}/api/v1/behaviors/reports/${reportId}`, { headers: admin }).then((r) => r.json() as Promise<{ counts: Record<string, number> }>);
    expect(status.behaviorReport!.counts).toEqual(report.counts);

    const body = await fetch(`${stack.api.url}/?part=body`).then((r) => r.text());
    expect(body).not.toContain('<script>');
    expect(body).toContain(`data-job="${jobId}"`);
    expect(body).toContain(`aria-label="accuracy per round of job ${jobId}"`);
    expect(body).toContain(`${(result.recentRounds.at(-1)!.accuracy! * 100).toFixed(1)}%`);
    expect(body).toContain(reportId);
  }, 120_000);

  it('counts agents by status per swarm, and in total over the swarms of its task queue, as GET /api/v1/swarm/agents lists them', async () => {
    // A second swarm with an agent that deregistered: its row, not the first swarm's, has it.
    other = await simulateSwarm({ apiUrl: stack.api.url, messaging: stack.ports.messaging, count: 3, swarmId: otherSwarmId, idPrefix: otherSwarmId, heartbeatIntervalMs: 500 });
    expect(other.failed).toEqual([]);
    await other.agents[2].deregister();
    const otherAgents = await waitFor('the API to list the deregistered agent', async () => {
      const counts = await agentsByStatus(otherSwarmId);
      return counts.DEREGISTERED === 1 ? counts : undefined;
    }, 30_000, 250);
    expect(otherAgents).toMatchObject({ ACTIVE: 2, DEREGISTERED: 1 });

    // The page and the API are read together until they agree: a session may change status between
    // two reads (on a slow machine the first swarm's agents can go LOST and come back meanwhile).
    const shown = (body: string, id: string) => {
      const row = body.match(new RegExp(`<tr data-swarm="${id}">(.*?)</tr>`))?.[1] ?? '';
      return Object.fromEntries(AGENT_STATUSES.map((st) => [st, Number(row.match(new RegExp(`data-col="${st}">(\\d+)<`))?.[1])]));
    };
    const { status, expected, body } = await waitFor('the page and the API to agree on both swarms', async () => {
      const expected = { [swarmId]: await agentsByStatus(swarmId), [otherSwarmId]: await agentsByStatus(otherSwarmId) };
      const s = await summary();
      const body = await fetch(`${stack.api.url}/?part=body`).then((r) => r.text());
      const again = { [swarmId]: await agentsByStatus(swarmId), [otherSwarmId]: await agentsByStatus(otherSwarmId) };
      if (JSON.stringify(again) !== JSON.stringify(expected)) throw new Error(`the API changed between two reads: ${JSON.stringify(expected)}, then ${JSON.stringify(again)}`);
      // The page lists swarms by id: compared in the API's order, whatever the ids.
      const listed = Object.fromEntries(s.swarms.map((row) => [row.swarmId, row.agents]));
      const rows = Object.fromEntries(Object.keys({ ...expected, ...listed }).map((id) => [id, listed[id]]));
      const page = Object.fromEntries(Object.keys(expected).map((id) => [id, shown(body, id)]));
      if (JSON.stringify(rows) !== JSON.stringify(expected) || JSON.stringify(page) !== JSON.stringify(expected)) {
        throw new Error(`the API lists ${JSON.stringify(expected)}, the status ${JSON.stringify(rows)}, the page ${JSON.stringify(page)}`);
      }
      return { status: s, expected, body };
    }, 60_000, 250);
    expect(expected[otherSwarmId]).toMatchObject({ DEREGISTERED: 1 });
    expect(expected[swarmId]).toMatchObject({ DEREGISTERED: 0 });
    // The totals are this task queue's: the two swarms', whatever other deployments of the namespace run.
    const sum = Object.fromEntries(AGENT_STATUSES.map((st) => [st, expected[swarmId][st] + expected[otherSwarmId][st]]));
    expect(status.agents).toEqual(sum);
    for (const id of Object.keys(expected)) expect(shown(body, id)).toEqual(expected[id]);
    for (const st of AGENT_STATUSES) expect(body).toContain(`data-status="${st}"><b>${sum[st]}</b>`);
  }, 120_000);

  it('shows the task queue\'s tasks by status and the newest decisions, as the API lists them', async () => {
    const taskId = uniqueId('status-task');
    const submitted = await fetch(`${stack.api.url}/api/v1/tasks`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ taskId, swarmId, kind: 'echo', input: {}, estimatedWork: 1, deadline: 3_600_000 }),
    });
    expect(submitted.status).toBe(202);
    await fetch(`${stack.api.url}/api/v1/tasks/${taskId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
    const opened = await fetch(`${stack.api.url}/api/v1/decisions`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ swarmId, title: 'Status page <check>', system: 'basic', power: 'equal', votingPeriodMs: 60_000, quorum: { fraction: 0.5 } }),
    });
    expect(opened.status).toBe(201);
    const { decisionId } = (await opened.json()) as { decisionId: string };

    const status = await waitFor('the task and the decision on the status page', async () => {
      const s = await summary();
      return s.tasks?.CANCELLED === 1 && s.decisions?.some((d) => d.decisionId === decisionId) ? s : undefined;
    }, 30_000, 250);
    const listed = (await fetch(`${stack.api.url}/api/v1/tasks?status=CANCELLED`, { headers: admin }).then((r) => r.json())) as { tasks: unknown[] };
    expect(status.tasks!.CANCELLED).toBe(listed.tasks.length);
    expect(status.decisions!.find((d) => d.decisionId === decisionId)).toMatchObject({ swarmId, title: 'Status page <check>' });
    const body = await fetch(`${stack.api.url}/?part=body`).then((r) => r.text());
    expect(body).toContain('data-task-status="CANCELLED"><b>1</b>');
    expect(body).toContain(`data-decision="${decisionId}"`);
    expect(body).toContain('Status page &lt;check&gt;');
    await fetch(`${stack.api.url}/api/v1/decisions/${decisionId}/cancel`, { method: 'POST', headers: admin, body: '{}' });
  }, 60_000);

  it('refuses an unknown part with 400 naming part', async () => {
    const res = await fetch(`${stack.api.url}/?part=everything`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe('part');
  });
});

describe('status page rendering', () => {
  const job = { jobId: 'j<1>', swarmId: 's', status: 'RUNNING' as const, round: 3, rounds: 5, workflowUrl: 'http://ui.example:8233/x', accuracy: [
    { round: 1, accuracy: 0.5 },
    { round: 2, accuracy: null },
    { round: 3, accuracy: 0.9 },
  ] };

  it('draws one point per evaluated round, higher accuracy higher up', () => {
    const svg = accuracyChart(job, 100, 50);
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(2);
    expect(ys[1]).toBeLessThan(ys[0]);
  });

  it('escapes what it prints', () => {
    const html = renderStatusBody({
      generatedAt: 'now', namespace: 'ns', taskQueue: 'tq', temporalUi: 'http://ui.example:8233', agents: { PENDING: 0, ACTIVE: 1, LOST: 0, FAILED: 0, DEREGISTERED: 0 },
      swarms: [], jobs: [job], behaviorReport: null,
      tasks: { QUEUED: 1, HELD: 0, ASSIGNED: 0, SUCCEEDED: 2, FAILED: 0, CANCELLED: 0 },
      decisions: [{ decisionId: 'd1', swarmId: 's<x>', state: 'ACTIVE', title: '<b>vote</b>', workflowUrl: 'http://ui.example:8233/d1' }],
    });
    expect(html).toContain('j&lt;1&gt;');
    expect(html).not.toContain('j<1>');
    expect(html).toContain('&lt;b&gt;vote&lt;/b&gt;');
    expect(html).toContain('s&lt;x&gt;');
    expect(html).toContain('data-task-status="SUCCEEDED"><b>2</b>');
  });
});
