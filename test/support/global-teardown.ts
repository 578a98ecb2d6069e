import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { tearDownSharedPulsar } from './pulsar';
import { stopTestMilvus } from './milvus';
import { stopTestPrometheus } from './prometheus';
import { stopTestFlink } from './flink';
import { stopTestKubernetes } from './kubernetes';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __qpTemporal?: TestWorkflowEnvironment }).__qpTemporal?.teardown();
  tearDownSharedPulsar();
  await stopTestMilvus();
  await stopTestPrometheus();
  await stopTestFlink();
  await stopTestKubernetes();
}
