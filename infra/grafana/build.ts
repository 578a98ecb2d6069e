// Grafana dashboards of QP-Manager, as code (@grafana/grafana-foundation-sdk).
// `npm run build:dashboards` writes them to infra/grafana/dashboards/*.json;
// test/dashboards.test.ts fails when the committed JSON is stale, and
// test/prometheus-integration.test.ts runs every query against a real Prometheus.
// Grafana itself is not part of the project: drop infra/grafana/provisioning/ and
// the dashboards into a Grafana of your own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource the provisioning file creates (infra/grafana/provisioning/datasources/qp-manager.yml). */
export const DATASOURCE = { type: 'prometheus', uid: 'qp-manager-prometheus' };
const RATE = '$__rate_interval';
/** Per-swarm series of qp_manager_agents (the totals are swarm="_all"). */
const SWARMS = 'swarm!~"_all|_other"';

interface Query {
  expr: string;
  legend?: string;
}

const queries = (list: Query[]) =>
  list.map((q, i) =>
    new DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend ?? '__auto'),
  );

function graph(title: string, unit: string, list: Query[], description?: string): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder().title(title).unit(unit).datasource(DATASOURCE).height(8).span(12).targets(queries(list));
  return description ? panel.description(description) : panel;
}

function single(title: string, unit: string, expr: string, description?: string): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(title)
    .unit(unit)
    .datasource(DATASOURCE)
    .height(4)
    .span(6)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .targets(queries([{ expr }]));
  return description ? panel.description(description) : panel;
}

const quantiles = (metric: string, by: string[] = []) =>
  [0.5, 0.95].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (rate(${metric}_bucket[${RATE}])))`,
    legend: `p${q * 100}${by.map((label) => ` {{${label}}}`).join('')}`,
  }));

function base(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['qp-manager'])
    .refresh('10s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .readonly();
}

export function swarmOverview(): dashboard.DashboardBuilder {
  return base('qp-swarm-overview', 'QP-Manager / Swarm overview', 'Agents, registrations, heartbeats, the processes and their messaging')
    .withRow(new dashboard.RowBuilder('Agents'))
    .withPanel(single('Active agents', 'short', 'sum(qp_manager_agents{status="ACTIVE", swarm="_all"})'))
    .withPanel(single('Lost agents', 'short', 'sum(qp_manager_agents{status="LOST", swarm="_all"})'))
    .withPanel(
      single(
        'Lost share (worst swarm)',
        'percentunit',
        `max(sum by (swarm) (qp_manager_agents{status="LOST", ${SWARMS}}) / clamp_min(sum by (swarm) (qp_manager_agents{status=~"ACTIVE|LOST", ${SWARMS}}), 1))`,
        'Alert QpAgentsLost fires above 20% for 2 minutes',
      ),
    )
    .withPanel(single('Processes up', 'short', 'sum(up{job=~"qp-manager-.*"})'))
    .withPanel(graph('Agents by status', 'short', [{ expr: 'sum by (status) (qp_manager_agents{swarm="_all"})', legend: '{{status}}' }]))
    .withPanel(graph('Agents by swarm', 'short', [{ expr: `sum by (swarm, status) (qp_manager_agents{${SWARMS}})`, legend: '{{swarm}} {{status}}' }]))
    .withRow(new dashboard.RowBuilder('Registrations and heartbeats'))
    .withPanel(graph('Registration steps', 'reqps', [{ expr: `sum by (outcome) (rate(qp_manager_registrations_total[${RATE}]))`, legend: '{{outcome}}' }]))
    .withPanel(graph('Handshake latency', 's', quantiles('qp_manager_registration_handshake_duration_seconds'), 'Challenge sent to credential issued'))
    .withPanel(
      graph('Heartbeats', 'ops', [
        { expr: `sum(rate(qp_manager_heartbeats_consumed_total[${RATE}]))`, legend: 'consumed' },
        { expr: `sum by (reason) (rate(qp_manager_heartbeats_rejected_total[${RATE}]))`, legend: 'rejected {{reason}}' },
      ]),
    )
    .withPanel(graph('Liveness changes', 'short', [{ expr: `sum by (to) (increase(qp_manager_liveness_transitions_total[${RATE}]))`, legend: 'to {{to}}' }]))
    .withRow(new dashboard.RowBuilder('API, messaging and Temporal'))
    .withPanel(graph('API requests', 'reqps', [{ expr: `sum by (route, status) (rate(qp_manager_http_requests_total[${RATE}]))`, legend: '{{route}} {{status}}' }]))
    .withPanel(graph('API latency', 's', quantiles('qp_manager_http_request_duration_seconds')))
    .withPanel(
      graph('Messages', 'ops', [
        { expr: `sum by (channel) (rate(qp_manager_messaging_published_total[${RATE}]))`, legend: 'published {{channel}}' },
        { expr: `sum by (channel) (rate(qp_manager_messaging_consumed_total[${RATE}]))`, legend: 'consumed {{channel}}' },
      ]),
    )
    .withPanel(
      graph('Messaging backlog and publish latency', 'short', [
        { expr: 'sum by (channel) (qp_manager_messaging_backlog_messages)', legend: 'backlog {{channel}}' },
        { expr: `histogram_quantile(0.95, sum by (le) (rate(qp_manager_messaging_publish_duration_seconds_bucket[${RATE}])))`, legend: 'publish p95 (s)' },
      ]),
    )
    .withPanel(
      graph('Temporal workflows (SDK)', 'ops', [
        { expr: `sum(rate(temporal_workflow_completed[${RATE}]))`, legend: 'completed' },
        { expr: `sum(rate(temporal_workflow_task_execution_latency_count[${RATE}]))`, legend: 'workflow tasks' },
      ]),
    )
    .withPanel(graph('Temporal activity latency (SDK)', 's', quantiles('temporal_activity_execution_latency')))
    .withPanel(
      graph('Process memory', 'bytes', [
        { expr: 'sum by (instance) (qp_manager_worker_process_resident_memory_bytes)', legend: 'worker {{instance}}' },
        { expr: 'sum by (instance) (qp_manager_api_process_resident_memory_bytes)', legend: 'API {{instance}}' },
      ]),
    );
}

export function federatedRounds(): dashboard.DashboardBuilder {
  return base('qp-federated-rounds', 'QP-Manager / Federated rounds', 'Rounds, participants, updates, accuracy and privacy')
    .withPanel(single('Rounds completed (1h)', 'short', 'sum(increase(qp_manager_rounds_total{outcome="completed"}[1h]))'))
    .withPanel(single('Rounds without quorum (1h)', 'short', 'sum(increase(qp_manager_rounds_total{outcome=~"quorum_not_met|too_few_agents"}[1h]))'))
    .withPanel(single('Best accuracy', 'percentunit', 'max(qp_manager_round_accuracy_ratio)'))
    .withPanel(single('Updates rejected (1h)', 'short', 'sum(increase(qp_manager_round_updates_rejected_total[1h]))'))
    .withPanel(graph('Round attempts by outcome', 'short', [{ expr: `sum by (outcome) (increase(qp_manager_rounds_total[${RATE}]))`, legend: '{{outcome}}' }]))
    .withPanel(graph('Round duration', 's', quantiles('qp_manager_round_duration_seconds', ['strategy'])))
    .withPanel(graph('Participants per round', 'short', quantiles('qp_manager_round_participants')))
    .withPanel(
      graph('Updates', 'ops', [
        { expr: `sum(rate(qp_manager_round_updates_accepted_total[${RATE}]))`, legend: 'accepted' },
        { expr: `sum by (reason) (rate(qp_manager_round_updates_rejected_total[${RATE}]))`, legend: 'rejected {{reason}}' },
      ]),
    )
    .withPanel(graph('Test accuracy by swarm', 'percentunit', [{ expr: 'qp_manager_round_accuracy_ratio', legend: '{{swarm}}' }]))
    .withPanel(graph('Privacy spent (epsilon) by swarm', 'none', [{ expr: 'qp_manager_round_privacy_epsilon', legend: '{{swarm}}' }], 'Cumulative central-DP epsilon of the latest private job'));
}

export function schedulingAndEnergy(): dashboard.DashboardBuilder {
  return base('qp-scheduling-energy', 'QP-Manager / Scheduling and energy', 'Tasks, deadlines, energy, carbon, decisions and agent pools')
    .withPanel(single('Tasks running', 'short', 'sum(qp_manager_tasks{state="running"})'))
    .withPanel(single('Late tasks (1h)', 'short', 'sum(increase(qp_manager_tasks_late_total[1h]))'))
    .withPanel(single('Power', 'watt', 'sum(qp_manager_task_power_watts)'))
    .withPanel(
      single(
        'Carbon budget used (1d)',
        'percentunit',
        'sum(increase(qp_manager_carbon_emitted_grams_total[1d])) / clamp_min(sum(qp_manager_carbon_budget_grams), 1)',
        'Alert QpCarbonBudgetExceeded fires above 100%',
      ),
    )
    .withPanel(graph('Tasks by state', 'short', [{ expr: 'sum by (state) (qp_manager_tasks)', legend: '{{state}}' }]))
    .withPanel(graph('Deadline misses', 'short', [{ expr: `sum(increase(qp_manager_tasks_late_total[${RATE}]))`, legend: 'late' }]))
    .withPanel(
      graph('Energy', 'watt', [
        { expr: `sum(rate(qp_manager_task_energy_joules_total[${RATE}]))`, legend: 'finished tasks (J/s)' },
        { expr: 'sum(qp_manager_task_power_watts)', legend: 'running tasks' },
      ]),
    )
    .withPanel(graph('Carbon', 'massg', [{ expr: `sum(increase(qp_manager_carbon_emitted_grams_total[${RATE}]))`, legend: 'emitted' }, { expr: 'sum(qp_manager_carbon_budget_grams)', legend: 'budget' }]))
    .withPanel(
      graph('Decisions', 'short', [
        { expr: 'sum(qp_manager_decisions_open)', legend: 'open' },
        { expr: 'max(qp_manager_decision_turnout_ratio)', legend: 'turnout of the latest' },
      ]),
    )
    .withPanel(graph('Agent pool replicas', 'short', [{ expr: 'sum by (kind) (qp_manager_pool_replicas)', legend: '{{kind}}' }]));
}

export function behaviors(): dashboard.DashboardBuilder {
  return base('qp-behaviors', 'QP-Manager / Behaviours', 'Behaviour sweeps, reports, strategies and the vector store')
    .withPanel(single('Sweeps (1h)', 'short', 'sum(increase(qp_manager_behavior_sweeps_total[1h]))'))
    .withPanel(single('Strategies found (1h)', 'short', 'sum(increase(qp_manager_behavior_strategies_total[1h]))'))
    .withPanel(single('Skills published (1h)', 'short', 'sum(increase(qp_manager_behavior_skills_published_total[1h]))'))
    .withPanel(single('Vector store errors (1h)', 'short', 'sum(increase(qp_manager_vector_operation_errors_total[1h]))'))
    .withPanel(graph('Reports', 'ops', [{ expr: `sum by (outcome, reason) (rate(qp_manager_behavior_reports_total[${RATE}]))`, legend: '{{outcome}} {{reason}}' }]))
    .withPanel(graph('Sweep duration', 's', quantiles('qp_manager_behavior_sweep_duration_seconds')))
    .withPanel(graph('Vector store latency', 's', quantiles('qp_manager_vector_operation_duration_seconds', ['operation'])))
    .withPanel(graph('Vector store calls', 'ops', [{ expr: `sum by (operation) (rate(qp_manager_vector_operation_duration_seconds_count[${RATE}]))`, legend: '{{operation}}' }]));
}

/** Every dashboard, by file name. */
export function buildDashboards(): Record<string, unknown> {
  return {
    'swarm-overview.json': swarmOverview().build(),
    'federated-rounds.json': federatedRounds().build(),
    'scheduling-energy.json': schedulingAndEnergy().build(),
    'behaviors.json': behaviors().build(),
  };
}

export const DASHBOARDS_DIR = join(__dirname, 'dashboards');

/** The JSON as committed: two-space indent, a final newline. */
export const dashboardJson = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

if (require.main === module) {
  for (const [file, built] of Object.entries(buildDashboards())) {
    writeFileSync(join(DASHBOARDS_DIR, file), dashboardJson(built));
    console.log(`wrote infra/grafana/dashboards/${file}`);
  }
}
