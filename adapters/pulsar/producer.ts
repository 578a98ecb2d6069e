// One producer socket per topic (the WebSocket API has no multiplexing). Sends
// are pipelined; each resolves with the broker's message id once the broker has
// stored the message. If the socket drops, the producer reconnects with backoff
// and resends, in order, everything not yet acknowledged: a publish fails only
// when its bounded wait runs out, with an error that says why.
import type WebSocket from 'ws';
import { PulsarError, describeError } from './errors';
import { backoff, openSocket } from './socket';

export interface ProducerFrame {
  payload: string;
  key?: string;
  properties?: Record<string, string>;
}

export interface ProducerChannelOptions {
  url: string;
  authToken?: string;
  connectTimeoutMs: number;
  /** A send fails once it has waited this long for the broker's acknowledgement. */
  unavailableAfterMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  onIdle?: () => void;
}

interface PendingSend {
  readonly context: string;
  readonly json: string;
  readonly deadline: number;
  /** Connection generation the frame was last written on. */
  sentOn: number;
  readonly resolve: (messageId: string) => void;
  readonly reject: (error: Error) => void;
}

interface ProducerAck {
  result?: string;
  messageId?: string;
  context?: string;
  errorMsg?: string;
}

export class ProducerChannel {
  private ws: WebSocket | undefined;
  private generation = 0;
  private connecting = false;
  private closed = false;
  private attempts = 0;
  private lastError = '';
  private counter = 0;
  /** Insertion order = send order, so a resend after reconnect keeps per-key order. */
  private readonly pending = new Map<string, PendingSend>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  lastUsed = Date.now();

  constructor(private readonly options: ProducerChannelOptions) {}

  get inFlight(): number {
    return this.pending.size;
  }

  send(frame: ProducerFrame): Promise<string> {
    if (this.closed) return Promise.reject(new PulsarError('CLOSED', 'producer is closed'));
    this.lastUsed = Date.now();
    const context = String(++this.counter);
    const json = JSON.stringify({ ...frame, context });
    return new Promise<string>((resolve, reject) => {
      const entry: PendingSend = {
        context,
        json,
        deadline: Date.now() + this.options.unavailableAfterMs,
        sentOn: -1,
        resolve,
        reject,
      };
      this.pending.set(context, entry);
      this.armDeadline();
      if (this.ws) this.write(entry);
      else this.connect();
    });
  }

  close(reason = 'producer closed'): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.reconnectTimer);
    this.failAll(new PulsarError('CLOSED', reason));
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.close(1000);
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  private write(entry: PendingSend): void {
    const ws = this.ws;
    if (!ws) return;
    entry.sentOn = this.generation;
    ws.send(entry.json, (error) => {
      // A failed write shows up as a closed socket too; the resend happens on reconnect.
      if (error && !this.closed) this.lastError = describeError(error);
    });
  }

  private connect(): void {
    if (this.connecting || this.closed || this.ws) return;
    this.connecting = true;
    openSocket(this.options.url, { authToken: this.options.authToken, timeoutMs: this.options.connectTimeoutMs }).then(
      (ws) => {
        this.connecting = false;
        if (this.closed) {
          ws.close(1000);
          return;
        }
        this.attempts = 0;
        this.ws = ws;
        this.generation++;
        ws.on('message', (data) => this.onAck(data.toString()));
        ws.on('error', (error) => {
          this.lastError = describeError(error);
        });
        ws.on('close', () => this.onDisconnect());
        for (const entry of this.pending.values()) this.write(entry);
      },
      (error: unknown) => {
        this.connecting = false;
        if (this.closed) return;
        this.lastError = describeError(error);
        // Refused credentials or a refused topic will not change by retrying.
        if (error instanceof PulsarError && (error.code === 'UNAUTHENTICATED' || error.code === 'REJECTED')) {
          this.failAll(error);
          return;
        }
        this.scheduleReconnect();
      },
    );
  }

  private onDisconnect(): void {
    this.ws = undefined;
    if (this.closed) return;
    if (!this.lastError) this.lastError = 'connection closed by the broker';
    if (this.pending.size > 0) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.pending.size === 0) return;
    const delay = backoff(this.attempts++, this.options.reconnectInitialMs, this.options.reconnectMaxMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private onAck(text: string): void {
    let ack: ProducerAck;
    try {
      ack = JSON.parse(text) as ProducerAck;
    } catch {
      return;
    }
    const entry = ack.context === undefined ? undefined : this.pending.get(ack.context);
    if (!entry) return;
    this.pending.delete(entry.context);
    this.lastUsed = Date.now();
    if (ack.result === 'ok' && ack.messageId) {
      entry.resolve(ack.messageId);
    } else {
      entry.reject(new PulsarError('REJECTED', `the Pulsar broker did not store the message: ${ack.result ?? '?'} ${ack.errorMsg ?? ''}`.trim()));
    }
    if (this.pending.size === 0) this.options.onIdle?.();
  }

  /** One timer for the earliest deadline among pending sends. */
  private armDeadline(): void {
    if (this.deadlineTimer || this.closed) return;
    const first = this.pending.values().next().value as PendingSend | undefined;
    if (!first) return;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      const now = Date.now();
      for (const entry of [...this.pending.values()]) {
        if (entry.deadline > now) continue;
        this.pending.delete(entry.context);
        const waited = (this.options.unavailableAfterMs / 1000).toFixed(1);
        entry.reject(
          new PulsarError(
            'UNAVAILABLE',
            `publish to ${this.options.url.split('?')[0]} not acknowledged within ${waited} s` +
              (this.ws ? '' : ` (broker unreachable: ${this.lastError || 'connecting'})`),
          ),
        );
      }
      this.armDeadline();
    }, Math.max(0, first.deadline - Date.now()) + 5);
  }

  private failAll(error: Error): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.reject(error);
  }
}
