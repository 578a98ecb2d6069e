// The live status page (GET /): rendered on the server from the status summary;
// a small inline script fetches the body again (GET /?part=body) every few seconds.
// No build step, no external asset.
import type { AgentStatus } from '../core/agents';
import type { JobStatus, StatusSummary } from './status-service';

/** How often the page refreshes itself, in milliseconds. */
export const STATUS_REFRESH_MS = 3_000;

const escapeHtml = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const percent = (value: number | null | undefined): string => (typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : 'n/a');

/** Accuracy per round as an inline SVG line (0..100% on the y axis). */
export function accuracyChart(job: JobStatus, width = 320, height = 90): string {
  const points = job.accuracy.filter((p): p is { round: number; accuracy: number } => p.accuracy !== null);
  if (points.length === 0) return '<span class="muted">no evaluated round yet</span>';
  const first = points[0].round;
  const last = Math.max(points.at(-1)!.round, first + 1);
  const x = (round: number) => 4 + ((round - first) / (last - first)) * (width - 8);
  const y = (accuracy: number) => height - 4 - accuracy * (height - 8);
  const line = points.map((p) => `${x(p.round).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(' ');
  const dots = points
    .map((p) => `<circle cx="${x(p.round).toFixed(1)}" cy="${y(p.accuracy).toFixed(1)}" r="2.5"><title>round ${p.round}: ${percent(p.accuracy)}</title></circle>`)
    .join('');
  return (
    `<svg class="chart" role="img" aria-label="accuracy per round of job ${escapeHtml(job.jobId)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<line x1="0" x2="${width}" y1="${y(0.5)}" y2="${y(0.5)}" class="grid"/><line x1="0" x2="${width}" y1="${y(1)}" y2="${y(1)}" class="grid"/>` +
    `<polyline points="${line}"/>${dots}</svg>`
  );
}

/** The swarm table's columns: live agents first, then those whose sessions ended. */
const SWARM_COLUMNS: AgentStatus[] = ['ACTIVE', 'LOST', 'PENDING', 'FAILED', 'DEREGISTERED'];

export function renderStatusBody(summary: StatusSummary): string {
  const totals = Object.entries(summary.agents)
    .map(([status, count]) => `<div class="tile" data-status="${escapeHtml(status)}"><b>${count}</b><span>${escapeHtml(status)}</span></div>`)
    .join('');
  const swarms = summary.swarms.length
    ? summary.swarms
        .map(
          (s) =>
            `<tr data-swarm="${escapeHtml(s.swarmId)}"><td>${escapeHtml(s.swarmId)}</td>` +
            SWARM_COLUMNS.map((status) => `<td class="n" data-col="${status}">${s.agents[status]}</td>`).join('') +
            '</tr>',
        )
        .join('')
    : `<tr><td colspan="${SWARM_COLUMNS.length + 1}" class="muted">no swarm has live agents</td></tr>`;
  const jobs = summary.jobs.length
    ? summary.jobs
        .map((job) => {
          const latest = [...job.accuracy].reverse().find((p) => p.accuracy !== null)?.accuracy;
          return (
            `<tr data-job="${escapeHtml(job.jobId)}"><td><a href="${escapeHtml(job.workflowUrl)}">${escapeHtml(job.jobId)}</a></td>` +
            `<td>${escapeHtml(job.swarmId)}</td><td data-col="status">${escapeHtml(job.status)}</td>` +
            `<td class="n" data-col="round">${job.round}/${job.rounds}</td><td class="n" data-col="accuracy">${percent(latest)}</td>` +
            `<td>${accuracyChart(job)}</td></tr>`
          );
        })
        .join('')
    : '<tr><td colspan="6" class="muted">no tuning job yet: POST /api/v1/tuning/start</td></tr>';
  const tasks = summary.tasks
    ? Object.entries(summary.tasks)
        .map(([status, count]) => `<div class="tile" data-task-status="${escapeHtml(status)}"><b>${count}</b><span>${escapeHtml(status)}</span></div>`)
        .join('')
    : '<p class="muted">task counts unavailable (Temporal visibility did not answer)</p>';
  const decisions = summary.decisions === null
    ? '<tr><td colspan="3" class="muted">decisions unavailable (Temporal visibility did not answer)</td></tr>'
    : summary.decisions.length
      ? summary.decisions
          .map(
            (d) =>
              `<tr data-decision="${escapeHtml(d.decisionId)}"><td><a href="${escapeHtml(d.workflowUrl)}">${escapeHtml(d.title || d.decisionId)}</a></td>` +
              `<td>${escapeHtml(d.swarmId)}</td><td data-col="state">${escapeHtml(d.state)}</td></tr>`,
          )
          .join('')
      : '<tr><td colspan="3" class="muted">no decision yet: POST /api/v1/decisions</td></tr>';
  const report = summary.behaviorReport;
  const behavior = report
    ? `<p>Report <code>${escapeHtml(report.reportId)}</code> of swarm <b>${escapeHtml(report.swarmId)}</b>, finished ${escapeHtml(report.finishedAt)}: ` +
      Object.entries(report.counts)
        .map(([k, v]) => `${escapeHtml(k)} ${v}`)
        .join(', ') +
      `</p><table><tr><th>rank</th><th>strategy</th><th>behaviours</th><th>mean fitness</th><th>published</th></tr>` +
      report.strategies
        .map(
          (s) =>
            `<tr><td class="n">${s.rank}</td><td><code>${escapeHtml(s.strategyId)}</code></td><td class="n">${s.size}</td>` +
            `<td class="n">${s.meanFitness.toFixed(3)}</td><td>${s.disseminated ? 'yes' : ''}</td></tr>`,
        )
        .join('') +
      '</table>'
    : '<p class="muted">no completed behaviour sweep of these swarms yet</p>';
  return `<header><h1>QP-Manager</h1><span class="muted">namespace ${escapeHtml(summary.namespace)}, task queue ${escapeHtml(summary.taskQueue)};
updated <time id="generated">${escapeHtml(summary.generatedAt)}</time></span>
<a href="${escapeHtml(summary.temporalUi)}">Temporal Web UI</a> <a href="/metrics">metrics</a> <a href="/api/v1/openapi.yaml">API</a></header>
<section><h2>Agents <span class="muted">(task queue, every swarm)</span></h2><div class="tiles" id="agents">${totals}</div></section>
<section><h2>Swarms <span class="muted">(agents by status)</span></h2><table id="swarms"><tr><th>swarm</th>${SWARM_COLUMNS.map((status) => `<th class="n">${status.toLowerCase()}</th>`).join('')}</tr>${swarms}</table></section>
<section><h2>Tuning jobs</h2><table id="jobs"><tr><th>job</th><th>swarm</th><th>status</th><th class="n">round</th><th class="n">accuracy</th><th>accuracy per round</th></tr>${jobs}</table></section>
<section><h2>Tasks <span class="muted">(task queue)</span></h2><div class="tiles" id="tasks">${tasks}</div></section>
<section><h2>Decisions <span class="muted">(namespace, newest first)</span></h2><table id="decisions"><tr><th>proposal</th><th>swarm</th><th>state</th></tr>${decisions}</table></section>
<section><h2>Latest behaviour report</h2><div id="behavior">${behavior}</div></section>`;
}

export function renderStatusPage(summary: StatusSummary): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>QP-Manager status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#1d2330}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
.muted{color:#6b7280}.tiles{display:flex;gap:.6rem;flex-wrap:wrap}.tile{border:1px solid #d0d5dd;border-radius:6px;padding:.4rem .8rem;min-width:6rem}
.tile b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:middle}
.n{text-align:right;font-variant-numeric:tabular-nums}.chart polyline{fill:none;stroke:#2563eb;stroke-width:2}.chart circle{fill:#2563eb}.chart .grid{stroke:#e5e7eb}
#stale{color:#b91c1c}
</style></head>
<body><main id="status">${renderStatusBody(summary)}</main><p id="stale" hidden>the API does not answer; retrying</p>
<script>
(function () {
  var main = document.getElementById('status'), stale = document.getElementById('stale');
  function refresh() {
    fetch('/?part=body', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.text(); })
      .then(function (html) { main.innerHTML = html; stale.hidden = true; })
      .catch(function () { stale.hidden = false; })
      .finally(function () { setTimeout(refresh, ${STATUS_REFRESH_MS}); });
  }
  setTimeout(refresh, ${STATUS_REFRESH_MS});
})();
</script></body></html>
`;
}
