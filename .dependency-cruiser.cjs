// Layer rules (design.md, "Layout"). `npm test` runs these; a violation fails it.
const IO_BUILTINS = '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls|cluster|worker_threads|readline|inspector|os|process|v8|vm)$';

module.exports = {
  forbidden: [
    {
      name: 'workflow-imports-node-builtin',
      comment: 'Workflows run in a deterministic sandbox: no Node built-ins.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'workflow-imports-outside-its-layer',
      comment: 'Workflows import @temporalio/workflow, core/ and definitions only; activities as types only.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: {
        path: '^(adapters|api|workers|agents|bench|infra)/',
      },
    },
    {
      name: 'workflow-imports-activity-values',
      comment: 'Activities are imported as types (import type) so their code stays out of the bundle.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workflow-imports-npm-package',
      comment: 'Only the workflow SDK (and its common types) belong in workflow code.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['npm', 'npm-dev'], pathNot: 'node_modules/@temporalio/(workflow|common)/' },
    },
    {
      name: 'core-does-io',
      comment: 'core/ is pure domain logic: no I/O built-ins.',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS },
    },
    {
      name: 'core-imports-outer-layer',
      comment: 'core/ depends on nothing but itself and pure libraries.',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(adapters|activities|api|workers|agents|workflows|bench|infra)/' },
    },
    {
      name: 'core-imports-io-package',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: 'node_modules/(express|ws|prom-client|@temporalio/(client|worker|activity|testing)|@zilliz)/' },
    },
    {
      name: 'activities-import-composition',
      comment: 'Activities get their ports injected; they never build adapters or the API.',
      severity: 'error',
      from: { path: '^activities/' },
      to: { path: '^(api|workers|agents|adapters/(?!ports))', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'adapter-imports-activities',
      comment: 'Adapters implement ports (adapters/ports/); they never reach up into the activities that use them.',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^activities/' },
    },
    {
      name: 'adapter-imports-workflow-code',
      comment: 'From workflows/, adapters import only the shared definitions (ids, signals, inputs).',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^workflows/', pathNot: '^workflows/definitions[-a-z]*\\.ts$' },
    },
    {
      name: 'port-imports-implementation',
      comment: 'Ports are interfaces over core/ types: they import nothing else.',
      severity: 'error',
      from: { path: '^adapters/ports/' },
      to: { path: '^(adapters/(?!ports/)|activities|api|workers|agents|workflows|bench|infra)' },
    },
    {
      name: 'adapter-imports-composition',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^(api|workers|agents)/' },
    },
    {
      name: 'api-imports-worker',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^(workers|activities)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^|/)node_modules/|^dist/|^\\.tmp/' },
  },
};
