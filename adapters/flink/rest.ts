// Flink's REST API (the JobManager's, FLINK_JOB_MANAGER_URL): upload a jar, run it, list jobs,
// stop a job with a savepoint and run its successor from it. Every call has a timeout and is
// retried while the JobManager does not answer.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  StreamJobError,
  type EnsureResult,
  type StreamJobSpec,
  type StreamJobState,
  type StreamJobStatus,
  type StreamJobsPort,
} from '../ports/stream-jobs';

export interface FlinkRestOptions {
  /** http(s)://host:port of the JobManager's REST endpoint. */
  url: string;
  /** Bound on one request. Default 15 s (jar uploads: 120 s). */
  requestTimeoutMs?: number;
  /** Bound on all attempts of a call while the JobManager is unreachable. Default 30 s. */
  unavailableAfterMs?: number;
  /** Bound on a savepoint, and on a new job reaching RUNNING. Default 120 s. */
  operationTimeoutMs?: number;
}

/** Job names carry the version: "<name>@<version>". */
const VERSION_SEPARATOR = '@';
const ACTIVE: StreamJobState[] = ['RUNNING', 'CREATED', 'RESTARTING', 'INITIALIZING', 'RECONCILING', 'FAILING'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FlinkRest implements StreamJobsPort {
  private readonly url: string;
  private readonly requestTimeoutMs: number;
  private readonly unavailableAfterMs: number;
  private readonly operationTimeoutMs: number;
  /** Uploaded jars by content digest: one upload per jar per process. */
  private readonly jarIds = new Map<string, Promise<string>>();

  constructor(options: FlinkRestOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.unavailableAfterMs = options.unavailableAfterMs ?? 30_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 120_000;
  }

  async overview() {
    const o = (await this.request('GET', '/overview')) as Record<string, unknown>;
    return {
      taskManagers: Number(o.taskmanagers ?? 0),
      slotsTotal: Number(o['slots-total'] ?? 0),
      slotsAvailable: Number(o['slots-available'] ?? 0),
      flinkVersion: String(o['flink-version'] ?? ''),
    };
  }

  async list(): Promise<StreamJobStatus[]> {
    const o = (await this.request('GET', '/jobs/overview')) as { jobs: { jid: string; name: string; state: StreamJobState; 'start-time': number }[] };
    return o.jobs
      .map((j) => {
        const at = j.name.lastIndexOf(VERSION_SEPARATOR);
        return {
          jobId: j.jid,
          name: at < 0 ? j.name : j.name.slice(0, at),
          version: at < 0 ? '' : j.name.slice(at + 1),
          state: j.state,
          startTime: j['start-time'],
        };
      })
      .sort((a, b) => b.startTime - a.startTime);
  }

  async ensure(spec: StreamJobSpec): Promise<EnsureResult> {
    const active = (await this.list()).filter((j) => j.name === spec.name && ACTIVE.includes(j.state));
    const same = active.find((j) => j.version === spec.version);
    if (same) return { action: 'unchanged', jobId: same.jobId };
    let savepoint: string | undefined;
    for (const old of active) {
      // The newest other version hands its state over; any older leftovers are cancelled.
      if (savepoint === undefined) savepoint = await this.stopWithSavepoint(old.jobId);
      else await this.cancel(old.jobId);
    }
    const jarId = await this.upload(spec.jarPath);
    const body: Record<string, unknown> = {
      entryClass: spec.entryClass,
      programArgsList: [...spec.args, '--job-name', `${spec.name}${VERSION_SEPARATOR}${spec.version}`],
    };
    if (savepoint) Object.assign(body, { savepointPath: savepoint, allowNonRestoredState: spec.allowNonRestoredState ?? true });
    // Building the job graph runs on the JobManager inside this call: give it the upload's bound.
    const run = (await this.request('POST', `/jars/${encodeURIComponent(jarId)}/run`, body, 120_000)) as { jobid: string };
    await this.waitRunning(run.jobid);
    return savepoint ? { action: 'upgraded', jobId: run.jobid, savepoint } : { action: 'submitted', jobId: run.jobid };
  }

  async cancel(jobId: string): Promise<void> {
    await this.request('PATCH', `/jobs/${jobId}?mode=cancel`);
  }

  async metric(jobId: string, name: string): Promise<number | undefined> {
    const job = (await this.request('GET', `/jobs/${jobId}`)) as { vertices: { id: string }[] };
    let sum: number | undefined;
    for (const v of job.vertices) {
      const listed = (await this.request('GET', `/jobs/${jobId}/vertices/${v.id}/metrics`)) as { id: string }[];
      const ids = listed.map((m) => m.id).filter((id) => id === name || id.endsWith(`.${name}`));
      if (ids.length === 0) continue;
      const values = (await this.request('GET', `/jobs/${jobId}/vertices/${v.id}/metrics?get=${ids.map(encodeURIComponent).join(',')}`)) as {
        value: string;
      }[];
      for (const m of values) sum = (sum ?? 0) + Number(m.value);
    }
    return sum;
  }

  /** Stops the job with a savepoint (its sources finish at a consistent point); returns its location. */
  async stopWithSavepoint(jobId: string): Promise<string> {
    const trigger = (await this.request('POST', `/jobs/${jobId}/stop`, { drain: false })) as { 'request-id': string };
    const deadline = Date.now() + this.operationTimeoutMs;
    while (Date.now() < deadline) {
      const s = (await this.request('GET', `/jobs/${jobId}/savepoints/${trigger['request-id']}`)) as {
        status: { id: string };
        operation?: { location?: string; 'failure-cause'?: { 'stack-trace'?: string } };
      };
      if (s.status.id === 'COMPLETED') {
        if (s.operation?.location) return s.operation.location;
        throw new StreamJobError('REJECTED', `stop-with-savepoint of job ${jobId} failed: ${(s.operation?.['failure-cause']?.['stack-trace'] ?? '').split('\n')[0]}`);
      }
      await sleep(250);
    }
    throw new StreamJobError('TIMEOUT', `stop-with-savepoint of job ${jobId} did not complete within ${this.operationTimeoutMs} ms`);
  }

  /** Uploads the jar once per content; a jar already on the cluster under the same digest is reused. */
  private upload(jarPath: string): Promise<string> {
    const go = async () => {
      const bytes = await readFile(jarPath);
      const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      const fileName = `${basename(jarPath, '.jar')}-${digest}.jar`;
      const jars = (await this.request('GET', '/jars')) as { files: { id: string; name: string }[] };
      const known = jars.files.find((f) => f.name === fileName);
      if (known) return known.id;
      const form = new FormData();
      form.append('jarfile', new Blob([bytes], { type: 'application/java-archive' }), fileName);
      const up = (await this.request('POST', '/jars/upload', form, 120_000)) as { filename: string };
      return basename(up.filename);
    };
    const key = jarPath;
    let pending = this.jarIds.get(key);
    if (!pending) {
      pending = go();
      this.jarIds.set(key, pending);
      pending.catch(() => this.jarIds.delete(key));
    }
    return pending;
  }

  private async waitRunning(jobId: string): Promise<void> {
    const deadline = Date.now() + this.operationTimeoutMs;
    while (Date.now() < deadline) {
      const job = (await this.request('GET', `/jobs/${jobId}`)) as { state: StreamJobState; vertices: { status: string }[] };
      if (job.state === 'RUNNING' && job.vertices.length > 0 && job.vertices.every((v) => v.status === 'RUNNING')) return;
      if (job.state === 'FAILED' || job.state === 'CANCELED' || job.state === 'FINISHED') {
        throw new StreamJobError('REJECTED', `job ${jobId} ended (${job.state}) instead of running`);
      }
      await sleep(200);
    }
    throw new StreamJobError('TIMEOUT', `job ${jobId} was not running within ${this.operationTimeoutMs} ms`);
  }

  private async request(method: string, path: string, body?: unknown, timeoutMs = this.requestTimeoutMs): Promise<unknown> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(`${this.url}${path}`, {
          method,
          body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
          headers: body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        // Only calls that change nothing are repeated blindly; a run or upload that timed out may have happened.
        const retryable = method === 'GET' || !(error instanceof Error && error.name === 'TimeoutError');
        if (!retryable || Date.now() - started > this.unavailableAfterMs) {
          throw new StreamJobError('UNAVAILABLE', `Flink ${method} ${path}: ${error instanceof Error ? error.message : String(error)}`);
        }
        await sleep(Math.min(2000, 100 * 2 ** attempt));
        continue;
      }
      const text = await response.text();
      if (response.status >= 500 && method === 'GET' && Date.now() - started < this.unavailableAfterMs) {
        await sleep(Math.min(2000, 100 * 2 ** attempt));
        continue;
      }
      if (!response.ok) {
        throw new StreamJobError(response.status >= 500 ? 'UNAVAILABLE' : 'REJECTED', `Flink ${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`, response.status);
      }
      return text ? JSON.parse(text) : {};
    }
  }
}
