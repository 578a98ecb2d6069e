// Heartbeats for activities that make no progress of their own to report (a
// listing, a fan-out of messages): with a short heartbeatTimeout on their
// proxies, a worker killed in the middle of one is noticed in seconds, not
// after the whole start-to-close timeout.
import { Context } from '@temporalio/activity';

type AsyncFunction = (...args: never[]) => Promise<unknown>;

/** The same activities, each heartbeating every `everyMs` while it runs. */
export function keptAlive<A extends Record<string, AsyncFunction>>(activities: A, everyMs = 1_000): A {
  const wrapped: Record<string, AsyncFunction> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      let context: Context | undefined;
      try {
        context = Context.current();
      } catch {
        return activity(...args); // called outside an activity (a bench, a plain unit test)
      }
      context.heartbeat();
      const timer = setInterval(() => context!.heartbeat(), everyMs);
      try {
        return await activity(...args);
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as A;
}
