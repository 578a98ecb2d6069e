// Liveness and readiness. /healthz answers while the process runs; /readyz
// answers 200 only when every dependency the process needs answers, and 503
// with the names of those that do not otherwise.
import type { WorkflowService } from '@temporalio/client';

/** Resolves when the dependency answers; rejects (with the reason) when it does not. */
export type ReadinessCheck = () => Promise<void>;

export interface Readiness {
  status: 'ready' | 'not ready';
  /** 'up', or 'down: <reason>', per dependency. */
  checks: Record<string, string>;
  /** The dependencies that are down (empty when ready). */
  down: string[];
}

/**
 * Runs every check at once. Checks bound themselves (a deadline on their
 * call); timeoutMs is the net for one that does not.
 */
export async function checkReadiness(checks: Record<string, ReadinessCheck>, timeoutMs = 5_000): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(
    names.map(async (name) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([checks[name](), timeout]);
        return 'up';
      } catch (error) {
        return `down: ${error instanceof Error ? error.message : String(error)}`;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report: Readiness = { status: 'ready', checks: {}, down: [] };
  names.forEach((name, i) => {
    report.checks[name] = results[i];
    if (results[i] !== 'up') report.down.push(name);
  });
  if (report.down.length) report.status = 'not ready';
  return report;
}

/** The slice of a Temporal Connection or NativeConnection a readiness check needs. */
export interface TemporalConnectionLike {
  workflowService: Pick<WorkflowService, 'getSystemInfo'>;
  withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R>;
}

/**
 * The Temporal frontend answers a cheap call on this connection within
 * deadlineMs. The call is awaited to its end, never abandoned: the client
 * retries an unreachable server inside the deadline, and a retry still
 * pending when the connection closes at shutdown would throw.
 */
export function temporalCheck(connection: TemporalConnectionLike, deadlineMs = 1_500): ReadinessCheck {
  return async () => {
    await connection.withDeadline(Date.now() + deadlineMs, () => connection.workflowService.getSystemInfo({}));
  };
}

/**
 * 200 with the report when ready; otherwise 503 with the API's error body
 * (code UNAVAILABLE, the message naming what is down) and the same report.
 */
export function readinessResponse(report: Readiness): { status: 200 | 503; body: object } {
  if (report.status === 'ready') return { status: 200, body: report };
  const message = `not ready: ${report.down.map((name) => `${name} ${report.checks[name]}`).join('; ')}`;
  return { status: 503, body: { error: { code: 'UNAVAILABLE', message }, ...report } };
}
