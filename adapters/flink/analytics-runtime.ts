// The analytics on a Flink cluster: one job per swarm, submitted and upgraded over REST.
import type { AnalyticsOptions } from '../../core/analytics';
import type { AnalyticsDeployment, AnalyticsRuntime, AnalyticsRuntimeStatus } from '../ports/analytics-runtime';
import type { StreamJobsPort } from '../ports/stream-jobs';
import { analyticsJobSpec } from './analytics-job';

export interface FlinkAnalyticsOptions {
  url: string;
  jarPath: string;
  pulsarServiceUrl: string;
  pulsarAdminUrl: string;
  tenant: string;
  options: AnalyticsOptions;
  checkpointMs?: number;
}

const PREFIX = 'qp-analytics/';

export class FlinkAnalyticsRuntime implements AnalyticsRuntime {
  readonly kind = 'flink' as const;

  constructor(
    private readonly jobs: StreamJobsPort,
    private readonly settings: FlinkAnalyticsOptions,
  ) {}

  async deploy(swarmId: string): Promise<AnalyticsDeployment> {
    const spec = analyticsJobSpec({ swarmId, ...this.settings });
    const result = await this.jobs.ensure(spec);
    return { swarmId, runtime: 'flink', action: result.action, jobId: result.jobId, version: spec.version, savepoint: result.savepoint };
  }

  async status(): Promise<AnalyticsRuntimeStatus> {
    try {
      const [overview, jobs] = await Promise.all([this.jobs.overview(), this.jobs.list()]);
      return {
        runtime: 'flink',
        reachable: true,
        flink: { url: this.settings.url, ...overview },
        jobs: jobs.filter((j) => j.name.startsWith(PREFIX)).map((j) => ({ ...j, swarmId: j.name.slice(PREFIX.length) })),
      };
    } catch (error) {
      return { runtime: 'flink', reachable: false, detail: error instanceof Error ? error.message : String(error), jobs: [] };
    }
  }

  async close(): Promise<void> {}
}
