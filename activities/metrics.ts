// The worker's own metrics (qp_manager_worker_*), served by workers/ on QP_METRICS_PORT.
import { Counter, Registry } from 'prom-client';

export function createWorkerMetrics(registry: Registry) {
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `qp_manager_worker_${name}`, help, labelNames, registers: [registry] });
  return {
    challengesSent: counter('challenges_sent_total', 'Registration challenges put in agent inboxes'),
    signaturesVerified: counter('challenge_signatures_verified_total', 'Challenge signatures checked', ['valid']),
    credentialsIssued: counter('credentials_issued_total', 'Agent credentials issued'),
    heartbeatsConsumed: counter('heartbeats_consumed_total', 'Heartbeats read by the liveness monitor'),
    malformedHeartbeats: counter(
      'heartbeats_rejected_total',
      'Heartbeat messages refused, by reason: missing-proof, bad-proof, stale, replayed, unknown-agent, sender-mismatch, malformed',
      ['reason'],
    ),
    livenessTransitions: counter('liveness_transitions_total', 'Agents that changed liveness', ['to']),
    updatesAccepted: counter('tuning_updates_accepted_total', 'Model updates aggregated'),
    updatesRejected: counter('tuning_updates_rejected_total', 'Model updates refused, by reason', ['reason']),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
