// `npm run build:bundle [-- <path>]`: writes the workflow bundle (default
// dist/workflow-bundle.js) that workers load with QP_WORKFLOW_BUNDLE=<path>.
import { resolve } from 'node:path';
import { buildWorkflowBundle } from './bundle';

const out = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
buildWorkflowBundle(out).then(
  (bytes) => console.log(`wrote ${out} (${(bytes / 1024).toFixed(0)} KiB); start workers with QP_WORKFLOW_BUNDLE=${out}`),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
