// The demo's delegation phase: the simulated swarm (seeded, heterogeneous carbon
// intensities and energy budgets) receives a batch of tasks over REST; the agents
// run them; the terminal shows progress (done, running, late) and what the tasks
// were charged, beside what round-robin would have spent on the same workload
// (core/allocation, computed here on the agents' declared profiles).
import type { QpAgent } from '../agents/sdk';
import { allocateRoundRobin } from '../core/allocation/baselines';
import type { AllocationTask } from '../core/allocation/types';
import { seededRandom } from '../core/random';
import { allocationAgent, type TaskState } from '../core/tasks';

export interface DelegationSummary {
  tasks: number;
  succeeded: number;
  failed: number;
  late: number;
  energyWh: number;
  carbonG: number;
  roundRobin: { energyWh: number; carbonG: number; late: number };
}

interface TaskPage {
  tasks: { taskId: string; status: string }[];
  nextPageToken?: string;
}

/** Work units (seconds on a reference agent) and deadlines of the batch: seeded, so runs repeat. */
function workload(count: number, nowMs: number, runId: string): AllocationTask[] {
  const random = seededRandom(17);
  return Array.from({ length: count }, (_, i) => ({
    taskId: `demo-${runId}-${String(i).padStart(4, '0')}`,
    requirements: {},
    estimatedWork: Math.round(30 + random() * 570),
    deadlineMs: nowMs + Math.round((1 + random() * 5) * 3_600_000),
    deferrable: random() < 0.4,
  }));
}

export async function delegationPhase(
  api: { url: string; adminToken: string },
  swarmId: string,
  agents: QpAgent[],
  options: { tasks: number; runId: string; timeoutMs?: number },
): Promise<DelegationSummary> {
  const headers = { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${api.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  console.log(`\nDelegation: ${options.tasks} tasks for swarm "${swarmId}", placed by carbon and deadline among its ACTIVE agents...`);
  // Each agent runs what it is given: a simulated task takes a few milliseconds here.
  await Promise.all(agents.map((agent) => agent.onTask(async (task) => ({ ran: task.kind, by: agent.agentId }))));

  const nowMs = Date.now();
  const batch = workload(options.tasks, nowMs, options.runId);
  await call('POST', '/api/v1/tasks/batch', {
    tasks: batch.map((t) => ({
      taskId: t.taskId,
      swarmId,
      kind: 'simulate',
      input: { workUnits: t.estimatedWork },
      estimatedWork: t.estimatedWork,
      deadline: new Date(t.deadlineMs).toISOString(),
      deferrable: t.deferrable,
    })),
  });

  const countByStatus = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    let pageToken: string | undefined;
    do {
      const query = `swarmId=${encodeURIComponent(swarmId)}&pageSize=500${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`;
      const page = await call<TaskPage>('GET', `/api/v1/tasks?${query}`);
      for (const task of page.tasks) if (task.taskId.startsWith(`demo-${options.runId}-`)) counts[task.status] = (counts[task.status] ?? 0) + 1;
      pageToken = page.nextPageToken;
    } while (pageToken);
    return counts;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const counts = await countByStatus();
    const ended = (counts.SUCCEEDED ?? 0) + (counts.FAILED ?? 0) + (counts.CANCELLED ?? 0);
    process.stdout.write(`\r  done ${counts.SUCCEEDED ?? 0}/${options.tasks}  running ${counts.ASSIGNED ?? 0}  queued ${counts.QUEUED ?? 0}  held ${counts.HELD ?? 0}  failed ${counts.FAILED ?? 0}   `);
    if (ended >= options.tasks || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log('');

  const states = await Promise.all(batch.map((t) => call<TaskState>('GET', `/api/v1/tasks/${t.taskId}`)));
  const summary: DelegationSummary = {
    tasks: batch.length,
    succeeded: states.filter((s) => s.status === 'SUCCEEDED').length,
    failed: states.filter((s) => s.status === 'FAILED').length,
    // Late as planned: a placement expected to finish after the deadline (the simulated agents answer at once).
    late: states.filter((s) => (s.attempts.at(-1)?.expected?.slackS ?? 0) < 0).length,
    energyWh: states.reduce((sum, s) => sum + (s.energyWh ?? 0), 0),
    carbonG: states.reduce((sum, s) => sum + (s.carbonG ?? 0), 0),
    roundRobin: { energyWh: 0, carbonG: 0, late: 0 },
  };
  const active = agents.filter((a) => a.agent).map((a) => allocationAgent(a.agentId, a.agent!.capabilities, a.agent!.resources));
  const placed = new Set(states.filter((s) => s.status === 'SUCCEEDED').map((s) => s.taskId));
  const roundRobin = allocateRoundRobin(batch.filter((t) => placed.has(t.taskId)), active, { objective: 'carbon', nowMs });
  summary.roundRobin = {
    energyWh: roundRobin.totals.energyWh,
    carbonG: roundRobin.totals.carbonG,
    late: roundRobin.decisions.filter((d) => d.slackS < 0).length,
  };
  const ratio = (ours: number, theirs: number) => (theirs > 0 ? (ours / theirs).toFixed(2) : 'n/a');
  console.log(`  ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.late} planned past their deadline`);
  console.log(`  energy ${summary.energyWh.toFixed(1)} Wh, carbon ${summary.carbonG.toFixed(1)} g`);
  console.log(
    `  round-robin on the same ${placed.size} tasks and agents: ${summary.roundRobin.energyWh.toFixed(1)} Wh, ${summary.roundRobin.carbonG.toFixed(1)} g, ` +
      `${summary.roundRobin.late} late (ours: ${ratio(summary.carbonG, summary.roundRobin.carbonG)}× its carbon)`,
  );
  return summary;
}
