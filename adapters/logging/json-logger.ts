// Structured logs (the Temporal Logger interface): one JSON object per line on stderr, at the level of QP_LOG_LEVEL.
// The Temporal SDK's runtime logger writes through it, so activity and workflow logs
// carry their workflowId, runId, activity type and task queue; QP-Manager's own
// entries add agentId, swarmId and jobId where they concern one. Secrets never reach
// a line: attributes named like one, and anything shaped like a credential, a bearer
// token or a PEM key, are replaced before writing.
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

const SECRET_KEY = /token|secret|credential|password|passwd|authorization|signature|private.?key|api.?key/i;
const SECRET_VALUE = /qpc1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|Bearer\s+\S+|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
export const REDACTED = '[redacted]';

/** A copy of value with secret-looking attributes and substrings replaced (depth-limited, cycle-safe). */
export function redact(value: unknown, extraSecrets: string[] = [], depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') {
    let out = value.replace(SECRET_VALUE, REDACTED);
    for (const secret of extraSecrets) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6 || seen.has(value)) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    // A wrapped failure (a Temporal update's, an activity's) says what happened only in its cause and type.
    const { type, cause } = value as { type?: unknown; cause?: unknown };
    return {
      name: value.name,
      message: redact(value.message, extraSecrets, depth + 1, seen),
      ...(typeof type === 'string' ? { type } : {}),
      stack: redact(value.stack, extraSecrets, depth + 1, seen),
      ...(cause !== undefined ? { cause: redact(cause, extraSecrets, depth + 1, seen) } : {}),
    };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, extraSecrets, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined && typeof v !== 'boolean' ? REDACTED : redact(v, extraSecrets, depth + 1, seen);
  }
  return out;
}

/** One log entry as its JSON line (no newline). */
export function jsonLogLine(entry: LogEntry, extraSecrets: string[] = []): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = (redact(entry.meta ?? {}, extraSecrets) as Record<string, unknown>) ?? {};
  // Activities' entries name the run workflowRunId, workflows' runId: one name to search by.
  if (meta.runId === undefined && meta.workflowRunId !== undefined) {
    meta.runId = meta.workflowRunId;
    delete meta.workflowRunId;
  }
  return JSON.stringify({ time, level: entry.level.toLowerCase(), msg: redact(entry.message, extraSecrets), ...meta });
}

/**
 * The process's logger: JSON lines to write (default: stderr) at level and above.
 * extraSecrets are exact values never to print (the admin token, the credential secret).
 */
export function createJsonLogger(level: LogLevel, options: { write?: (line: string) => void; extraSecrets?: string[] } = {}): DefaultLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const secrets = (options.extraSecrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return new DefaultLogger(level, (entry) => write(jsonLogLine(entry, secrets)));
}

let processLogger: DefaultLogger | undefined;

/** The logger of this process outside Temporal's (the API's request errors); INFO JSON until set. */
export function processLog(): DefaultLogger {
  return (processLogger ??= createJsonLogger('INFO'));
}

/** Sets the process's logger (the composition root, from QP_LOG_LEVEL). */
export function setProcessLog(logger: DefaultLogger): void {
  processLogger = logger;
}
