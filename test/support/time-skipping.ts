// The time-skipping test server for the timer suites. Its start-up deadline is
// fixed at 5 s inside the SDK, which a loaded CI machine can miss; the SDK kills
// a server that missed it, so starting again is clean.
import { TestWorkflowEnvironment } from '@temporalio/testing';

const STARTS = 4;

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: process.env.QP_TEST_TESTSERVER! } },
      });
    } catch (error) {
      if (attempt >= STARTS || !/did not start within/.test(String(error))) throw error;
    }
  }
}
