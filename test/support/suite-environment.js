// The test environment of every suite: jest's Node environment, except that the chaos suites
// run one at a time. Each runs a worker process of its own and kills or restarts a worker, a
// Temporal server, a broker or a vector store; two at once on 2 cores starved each other's
// timing-sensitive steps (handshakes, round deadlines). A chaos suite waits here, before its
// own hooks and their timeouts start, until the one before it has finished.
const { closeSync, openSync, readFileSync, unlinkSync, writeSync } = require('node:fs');
const { TestEnvironment } = require('jest-environment-node');

const isChaos = (path) => /chaos[^/]*\.test\.ts$/.test(path);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Takes the lock file (created exclusively, holding our pid); a holder that died leaves it to us. */
async function acquire(path) {
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released between our two calls
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      try {
        unlinkSync(path);
      } catch {}
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

class SuiteEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.lockPath = isChaos(context.testPath) ? process.env.QP_TEST_CHAOS_LOCK : undefined;
  }

  async setup() {
    await super.setup();
    if (this.lockPath) await acquire(this.lockPath);
    this.holding = Boolean(this.lockPath);
  }

  async teardown() {
    if (this.holding) {
      try {
        unlinkSync(this.lockPath);
      } catch {}
      this.holding = false;
    }
    await super.teardown();
  }
}

module.exports = SuiteEnvironment;
