import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __qpTemporal?: TestWorkflowEnvironment }).__qpTemporal?.teardown();
}
