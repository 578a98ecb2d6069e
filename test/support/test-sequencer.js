// Test order: the schemathesis conformance run first, the worker-kill and restart chaos
// suites last. Each chaos suite runs a worker process of its own (one a Temporal server
// too); beside the conformance run on 2 cores they starved its single worker, and its
// workflow queries waited past the API's deadline (585 s instead of about 180 s).
// Within each group, jest's own order (slowest first when it knows, else largest file).
const Sequencer = require('@jest/test-sequencer').default;

const rank = (path) => (/api-conformance\.test\.ts$/.test(path) ? 0 : /chaos[^/]*\.test\.ts$/.test(path) ? 2 : 1);

class ConformanceFirstChaosLast extends Sequencer {
  sort(tests) {
    return [...super.sort(tests)].sort((a, b) => rank(a.path) - rank(b.path));
  }
}

module.exports = ConformanceFirstChaosLast;
