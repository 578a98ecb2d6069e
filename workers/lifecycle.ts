// Start-up and shutdown of the deployable processes (npm run api, npm run worker).
import { ConfigError } from '../core/config';

/**
 * What a process has started, stopped in reverse order. A step that fails is
 * reported and the next one still runs, so a broken port never keeps the
 * Temporal connection open.
 */
export class Shutdown {
  private readonly steps: { name: string; stop: () => Promise<unknown> }[] = [];
  private failed = false;

  add(name: string, stop: () => Promise<unknown>): void {
    this.steps.push({ name, stop });
  }

  /** Resolves true when every step stopped cleanly. */
  async run(): Promise<boolean> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.stop();
      } catch (error) {
        this.failed = true;
        console.error(`stopping ${step.name}:`, error);
      }
    }
    return !this.failed;
  }
}

/**
 * On the first SIGTERM or SIGINT runs the shutdown and exits: 0 when it was
 * clean, 1 when a step failed or the whole took longer than limitMs. Repeated
 * signals while stopping are ignored (npm forwards the terminal's Ctrl-C too).
 */
export function stopOnSignals(shutdown: Shutdown, limitMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    setTimeout(() => {
      console.error(`did not stop within ${limitMs} ms; exiting`);
      process.exit(1);
    }, limitMs).unref();
    void shutdown.run().then((clean) => process.exit(clean ? 0 : 1));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs a process's main; a failed start-up stops what it started and exits 1 with the reason. */
export function runMain(main: (shutdown: Shutdown) => Promise<void>): void {
  const shutdown = new Shutdown();
  main(shutdown).catch(async (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    await shutdown.run();
    process.exit(1);
  });
}
