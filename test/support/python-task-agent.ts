// A Python agent process running delegated tasks (test/support/python_task_agent.py), for the
// real-stack suites of the Python SDK: its JSON event lines, and the lines written to its stdin.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pythonEnv, ROOT } from './python-sdk';
import { waitFor } from './stack';

export interface PythonAgentEvent {
  event: string;
  [field: string]: unknown;
}

export class PythonTaskAgent {
  readonly events: PythonAgentEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly agentId: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as PythonAgentEvent);
      } catch {
        this.stderr.push(line);
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the script as agentId with the given environment (QP_API_URL, QP_PULSAR_URL, ...). */
  static start(python: string, agentId: string, env: Record<string, string>): PythonTaskAgent {
    const child = spawn(python, [join(ROOT, 'test/support/python_task_agent.py')], { env: pythonEnv({ QP_AGENT_ID: agentId, ...env }) });
    return new PythonTaskAgent(agentId, child);
  }

  next(event: string, timeoutMs = 45_000): Promise<PythonAgentEvent> {
    return waitFor(
      `${this.agentId}'s "${event}" (stderr: ${this.stderr.slice(-5).join(' | ')})`,
      () => this.events.find((e) => e.event === event),
      timeoutMs,
    );
  }

  /** The SDK's own events (on_event) of one type. */
  sdkEvents(type: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === 'sdk' && (e.detail as { type?: string }).type === type).map((e) => e.detail as Record<string, unknown>);
  }

  /** Writes one command line to the script ("release", "deregister"). */
  send(command: string): void {
    this.child.stdin.write(`${command}\n`);
  }

  async stop(): Promise<void> {
    this.send('deregister');
    await this.next('deregistered');
    expect(await this.exited).toBe(0);
  }
}
