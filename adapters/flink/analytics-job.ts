// The analytics job (analytics/, qp.analytics.AnalyticsJob) as a stream-job spec: one job per
// swarm, reading the swarm's event topics (and its decisions' ballot topics) and writing its analytics topic.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { DECISION_IDLE_MS, type AnalyticsOptions } from '../../core/analytics';
import type { StreamJobSpec } from '../ports/stream-jobs';

export const ANALYTICS_ENTRY_CLASS = 'qp.analytics.AnalyticsJob';

export interface AnalyticsJobTarget {
  swarmId: string;
  /** pulsar:// service URL the job's source and sink connect to. */
  pulsarServiceUrl: string;
  /** http(s):// Pulsar admin URL. */
  pulsarAdminUrl: string;
  tenant: string;
  jarPath: string;
  options: AnalyticsOptions;
  /** Checkpoint interval, ms. */
  checkpointMs?: number;
  /** How often the job looks for new ballot topics (one per decision), ms; the job's default is 10 s. */
  discoveryMs?: number;
}

const digests = new Map<string, { mtimeMs: number; size: number; digest: string }>();

/** sha-256 prefix of the jar, cached by mtime and size. */
function jarDigest(path: string): string {
  const { mtimeMs, size } = statSync(path);
  const known = digests.get(path);
  if (known && known.mtimeMs === mtimeMs && known.size === size) return known.digest;
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
  digests.set(path, { mtimeMs, size, digest });
  return digest;
}

export function analyticsJobName(swarmId: string): string {
  return `qp-analytics/${swarmId}`;
}

/** The job for one swarm; its version changes with the jar and with every setting. */
export function analyticsJobSpec(t: AnalyticsJobTarget): StreamJobSpec {
  const args = [
    '--swarm', t.swarmId,
    '--tenant', t.tenant,
    '--service-url', t.pulsarServiceUrl,
    '--admin-url', t.pulsarAdminUrl,
    '--subscription', `qp-analytics-${t.swarmId}`,
    '--window-ms', String(t.options.windowMs),
    '--lateness-ms', String(t.options.latenessMs),
    '--grace-ms', String(t.options.graceMs),
    '--flap-threshold', String(t.options.flapThreshold),
    '--burst-threshold', String(t.options.burstThreshold),
    '--decision-idle-ms', String(t.options.decisionIdleMs ?? DECISION_IDLE_MS),
    '--checkpoint-ms', String(t.checkpointMs ?? 5000),
    ...(t.discoveryMs !== undefined ? ['--discovery-ms', String(t.discoveryMs)] : []),
  ];
  const settings = createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 8);
  return {
    name: analyticsJobName(t.swarmId),
    version: `${jarDigest(t.jarPath)}.${settings}`,
    jarPath: t.jarPath,
    entryClass: ANALYTICS_ENTRY_CLASS,
    args,
  };
}
