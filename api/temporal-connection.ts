// How this project's processes connect to Temporal: the client's own gRPC
// retries, made to respect a call's deadline.
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * The client's default retry policy (10 attempts, backoff from 100 ms by 1.7x
 * up to 5 s), except that it gives up, with the last status, rather than sleep
 * past the call's deadline: the default sleeps and then fails the retry with
 * DEADLINE_EXCEEDED, overshooting a deadline by up to 5 s.
 */
export function deadlineAwareRetryInterceptor(): Interceptor {
  const defaults = defaultGrpcRetryOptions();
  return (options, nextCall) => {
    const deadline = options.deadline === undefined ? Infinity : new Date(options.deadline).getTime();
    let nextDelay = 0;
    return makeGrpcRetryInterceptor({
      // The interceptor asks the decider, then the delay, for the same attempt.
      retryableDecider(attempt, status) {
        if (!defaults.retryableDecider(attempt, status)) return false;
        nextDelay = defaults.delayFunction(attempt, status);
        return Date.now() + nextDelay < deadline;
      },
      delayFunction: () => nextDelay,
    })(options, nextCall);
  };
}

/** Options of this process's one Temporal Connection to `address`. */
export function temporalConnectionOptions(address: string): ConnectionOptions {
  return { address, interceptors: [deadlineAwareRetryInterceptor()] };
}
