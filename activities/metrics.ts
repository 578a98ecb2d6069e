// Every worker-side metric, in one place. Names are qp_manager_<area>_<what>_<unit>
// with base units in the name (seconds, bytes, watts, joules, grams, ratio); the
// process's own metrics carry qp_manager_worker_ / qp_manager_api_. Labels take a
// bounded set of values: status, reason, outcome, channel (a topic's kind), swarm
// (operator-defined, few). Never an agent or job id: 10,000 agents would be 10,000
// series per metric; per-agent and per-job detail is in the API and the status page.
import type { InjectedSinks } from '@temporalio/worker';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QpSinks, RoundOutcome } from '../core/observations';

/** Rejection reasons of updates and heartbeats are codes from a closed set; anything else is 'other'. */
const REASON = /^[a-z][a-z_-]{0,39}$/;
export const boundedReason = (reason: string): string => (REASON.test(reason) ? reason : 'other');

const ROUND_OUTCOMES: RoundOutcome[] = ['completed', 'quorum_not_met', 'too_few_agents'];

export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram<L>({ name, help, buckets, labelNames, registers });

  const metrics = {
    // Registration
    challengesSent: counter('qp_manager_registration_challenges_sent_total', 'Registration challenges put in agent inboxes'),
    signaturesVerified: counter('qp_manager_registration_signatures_verified_total', 'Challenge signatures checked', ['valid']),
    credentialsIssued: counter('qp_manager_registration_credentials_issued_total', 'Agent credentials issued'),
    handshakeSeconds: histogram(
      'qp_manager_registration_handshake_duration_seconds',
      'From the challenge sent to the credential issued',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    // Heartbeats and liveness
    heartbeatsConsumed: counter('qp_manager_heartbeats_consumed_total', 'Heartbeats read by the liveness monitor'),
    malformedHeartbeats: counter(
      'qp_manager_heartbeats_rejected_total',
      'Heartbeat messages refused, by reason: missing-proof, bad-proof, stale, replayed, unknown-agent, sender-mismatch, malformed',
      ['reason'],
    ),
    livenessTransitions: counter('qp_manager_liveness_transitions_total', 'Agents that changed liveness', ['to']),
    // Federated rounds
    updatesAccepted: counter('qp_manager_round_updates_accepted_total', 'Model updates aggregated'),
    updatesRejected: counter('qp_manager_round_updates_rejected_total', 'Model updates refused, by reason', ['reason']),
    rounds: counter('qp_manager_rounds_total', 'Round attempts by outcome: completed, quorum_not_met, too_few_agents', ['outcome']),
    roundSeconds: histogram(
      'qp_manager_round_duration_seconds',
      'Completed rounds, from the first selection to the aggregate, by strategy',
      [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      ['strategy'],
    ),
    roundParticipants: histogram(
      'qp_manager_round_participants',
      'Agents selected per round attempt',
      [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    ),
    roundAccuracy: gauge('qp_manager_round_accuracy_ratio', 'Test accuracy of the latest evaluated global model, by swarm', ['swarm']),
    roundEpsilon: gauge('qp_manager_round_privacy_epsilon', 'Cumulative central-DP epsilon of the latest private job, by swarm', ['swarm']),
    // Behaviour discovery
    behaviorReports: counter('qp_manager_behavior_reports_total', 'Behavior reports drained by sweeps', ['outcome', 'reason']),
    behaviorStrategies: counter('qp_manager_behavior_strategies_total', 'Emergent strategies discovered by sweeps'),
    behaviorSkillsPublished: counter('qp_manager_behavior_skills_published_total', 'Strategies published to swarms as skills'),
    behaviorSweeps: counter('qp_manager_behavior_sweeps_total', 'Behavior sweeps finished'),
    behaviorSweepSeconds: histogram(
      'qp_manager_behavior_sweep_duration_seconds',
      'Behavior sweeps, from start to report',
      [0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    ),
    // Tasks and decisions as they end (their workflows report through the sink). The gauges of
    // tasks by state, open decisions, pool replicas, running tasks' power and the carbon budget
    // are counted by the API from visibility and the cluster (api/metrics.ts), so several
    // workers never report the same thing twice.
    tasksFinished: counter('qp_manager_tasks_finished_total', 'Tasks that ended, by status: succeeded, failed, cancelled', ['status']),
    tasksLate: counter('qp_manager_tasks_late_total', 'Tasks that ended after their deadline'),
    taskEnergyJoules: counter('qp_manager_task_energy_joules_total', 'Energy charged to succeeded tasks (the allocator\'s estimate for the agent that ran it)'),
    carbonGrams: counter('qp_manager_carbon_emitted_grams_total', 'CO2 of succeeded tasks (energy times the agent\'s carbon intensity)'),
    decisionsClosed: counter('qp_manager_decisions_closed_total', 'Decisions whose voting closed, by outcome state', ['state']),
    decisionTurnout: gauge('qp_manager_decision_turnout_ratio', 'Voting power that voted over the electorate\'s, of the latest closed decision'),
  };
  // Known label values start at 0, so a rule's rate() has a series from the first scrape.
  for (const outcome of ROUND_OUTCOMES) metrics.rounds.inc({ outcome }, 0);
  for (const status of ['succeeded', 'failed', 'cancelled']) metrics.tasksFinished.inc({ status }, 0);
  metrics.updatesRejected.inc({ reason: 'other' }, 0);
  metrics.malformedHeartbeats.inc({ reason: 'other' }, 0);
  for (const to of ['ACTIVE', 'LOST']) metrics.livenessTransitions.inc({ to }, 0);
  return metrics;
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** The worker side of the workflows' `qpMetrics` sink; never called on replay. */
export function metricsSinks(metrics: WorkerMetrics): InjectedSinks<QpSinks> {
  return {
    qpMetrics: {
      handshakeCompleted: { fn: (_info, seconds) => metrics.handshakeSeconds.observe(seconds), callDuringReplay: false },
      roundObserved: {
        fn: (_info, round) => {
          metrics.rounds.inc({ outcome: round.outcome });
          metrics.roundParticipants.observe(round.participants);
          if (round.outcome !== 'completed') return;
          metrics.roundSeconds.observe({ strategy: round.strategy }, round.durationSeconds);
          if (round.accuracy !== undefined) metrics.roundAccuracy.set({ swarm: round.swarmId }, round.accuracy);
          if (round.epsilon !== undefined) metrics.roundEpsilon.set({ swarm: round.swarmId }, round.epsilon);
        },
        callDuringReplay: false,
      },
      sweepObserved: {
        fn: (_info, sweep) => {
          metrics.behaviorSweeps.inc();
          metrics.behaviorSweepSeconds.observe(sweep.durationSeconds);
        },
        callDuringReplay: false,
      },
      taskFinished: {
        fn: (_info, task) => {
          metrics.tasksFinished.inc({ status: boundedReason(task.status.toLowerCase()) });
          if (task.late) metrics.tasksLate.inc();
          if (task.energyWh !== undefined && Number.isFinite(task.energyWh)) metrics.taskEnergyJoules.inc(task.energyWh * 3600);
          if (task.carbonG !== undefined && Number.isFinite(task.carbonG)) metrics.carbonGrams.inc(task.carbonG);
        },
        callDuringReplay: false,
      },
      decisionClosed: {
        fn: (_info, decision) => {
          metrics.decisionsClosed.inc({ state: boundedReason(decision.state.toLowerCase()) });
          if (decision.turnoutRatio !== undefined && Number.isFinite(decision.turnoutRatio)) metrics.decisionTurnout.set(decision.turnoutRatio);
        },
        callDuringReplay: false,
      },
    },
  };
}
