// Opening one WebSocket to the broker, and retrying with backoff inside a bounded wait.
import WebSocket from 'ws';
import { PulsarError, describeError, isTransient } from './errors';

export interface SocketOptions {
  authToken?: string;
  /** Bound on the TCP connect + HTTP upgrade. */
  timeoutMs: number;
  /** Largest frame accepted from the broker. */
  maxPayload?: number;
  /**
   * Called when the wait for an upgrade times out, with a promise of the end of that handshake:
   * it is not cut off (the broker may have made its producer or consumer already, and would keep
   * it after a dropped upgrade) but closed cleanly if it completes late.
   */
  abandoned?: (ended: Promise<void>) => void;
}

/** How long a handshake given up on may still complete (and be closed cleanly) before it is cut off, ms. */
const ABANDONED_HANDSHAKE_MS = 120_000;
/** How long a clean close of a late socket may take before it is cut off, ms. */
const LATE_CLOSE_MS = 5_000;

/** Opens a socket; rejects with a PulsarError that says why (HTTP status and the broker's message). */
export function openSocket(url: string, options: SocketOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.authToken) headers.authorization = `Bearer ${options.authToken}`;
    const ws = new WebSocket(url, {
      headers,
      // The bounded wait is the timer below; this only ends a handshake abandoned long ago.
      handshakeTimeout: Math.max(options.timeoutMs, ABANDONED_HANDSHAKE_MS),
      perMessageDeflate: false,
      maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
    });
    let settled = false;
    let endAbandoned: (() => void) | undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      options.abandoned?.(new Promise<void>((resolve) => (endAbandoned = resolve)));
      reject(new PulsarError('UNAVAILABLE', `the Pulsar broker at ${redact(url)} did not complete the upgrade within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const fail = (error: PulsarError) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      endAbandoned?.();
      if (settled) return;
      settled = true;
      reject(error);
    };
    ws.once('open', () => {
      clearTimeout(timer);
      ws.removeAllListeners();
      if (!settled) {
        settled = true;
        resolve(ws);
        return;
      }
      // Too late for the caller: a clean close makes the broker drop what the upgrade made.
      ws.on('error', () => {});
      const cutOff = setTimeout(() => ws.terminate(), LATE_CLOSE_MS);
      ws.once('close', () => {
        clearTimeout(cutOff);
        endAbandoned?.();
      });
      ws.close(1000);
    });
    ws.once('unexpected-response', (request, response) => {
      const status = response.statusCode ?? 0;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      const done = () => {
        request.destroy();
        fail(httpError(status, brokerMessage(body) || response.statusMessage || '', url));
      };
      response.once('end', done);
      response.once('error', done);
      response.once('close', done);
    });
    ws.once('error', (error) =>
      fail(new PulsarError('UNAVAILABLE', `cannot reach the Pulsar broker at ${redact(url)}: ${describeError(error)}`)),
    );
  });
}

export function httpError(status: number, message: string, url: string): PulsarError {
  const where = redact(url);
  const detail = message ? `: ${message}` : '';
  if (status === 401 || status === 403) {
    return new PulsarError('UNAUTHENTICATED', `the Pulsar broker refused the credentials (HTTP ${status}) at ${where}${detail}`, status);
  }
  if (status === 409) return new PulsarError('CONFLICT', `the Pulsar broker refused (HTTP 409) at ${where}${detail}`, status);
  if (status >= 400 && status < 500) {
    return new PulsarError('REJECTED', `the Pulsar broker rejected the request (HTTP ${status}) at ${where}${detail}`, status);
  }
  return new PulsarError('UNAVAILABLE', `the Pulsar broker failed (HTTP ${status}) at ${where}${detail}`, status);
}

/** The broker's reason out of a Jetty error page or a JSON body. */
export function brokerMessage(body: string): string {
  const decoded = body
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  const json = /"(?:errorMsg|reason)"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(decoded);
  if (json) return json[1];
  const title = /<title>([^<]*)<\/title>/i.exec(decoded);
  if (title) return title[1].trim();
  return decoded.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** Query strings may carry nothing secret, but keep URLs short in messages. */
function redact(url: string): string {
  return url.split('?')[0];
}

export interface RetryOptions {
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before giving up on an error; return true to retry it although it is not transient. */
  retryIf?: (error: unknown, elapsedMs: number) => boolean;
  /** Stop early (the caller was closed). */
  aborted?: () => boolean;
  what: string;
}

/** Runs attempt until it succeeds, a non-transient error occurs, or the deadline passes (then UNAVAILABLE naming the last cause). */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  let delay = options.initialDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      const elapsed = Date.now() - started;
      if (options.aborted?.()) throw error;
      const retryable = isTransient(error) || (options.retryIf?.(error, elapsed) ?? false);
      if (!retryable) throw error;
      const left = options.deadlineMs - elapsed;
      if (left <= 0) {
        throw new PulsarError(
          'UNAVAILABLE',
          `${options.what}: gave up after ${(elapsed / 1000).toFixed(1)} s and ${attempts} attempts; last error: ${describeError(error)}`,
          error instanceof PulsarError ? error.status : undefined,
        );
      }
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Backoff with jitter for long-lived reconnect loops. */
export function backoff(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 16));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
