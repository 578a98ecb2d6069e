// The prebuilt workflow bundle a production worker loads (QP_WORKFLOW_BUNDLE)
// instead of bundling workflows/ with webpack at every start.
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

type BundleLogger = NonNullable<Parameters<typeof bundleWorkflowCode>[0]['logger']>;

/** Bundles workflows/ and writes it to outPath; resolves with its size in bytes. */
export async function buildWorkflowBundle(outPath: string, logger?: BundleLogger): Promise<number> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger });
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, code);
  return Buffer.byteLength(code);
}
