/** @type {import('jest').Config} */
module.exports = {
  // Node, with the chaos suites one at a time (see the file).
  testEnvironment: '<rootDir>/test/support/suite-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
  // @zilliz/milvus2-sdk-node loads thrift, whose `uuid` is ESM only: Node 20
  // require()s it, jest cannot. The hoisted uuid 11 ships the same API as CommonJS.
  moduleNameMapper: { '^uuid$': '<rootDir>/node_modules/uuid/dist/cjs/index.js' },
  testSequencer: '<rootDir>/test/support/test-sequencer.js',
  testTimeout: 60000,
  maxWorkers: 2,
};
