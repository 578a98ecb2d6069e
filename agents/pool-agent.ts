// One simulated agent process of a local agent pool (the process-pool cluster
// adapter starts one per replica). It says "ready" on stdout once started,
// prints a heartbeat with its simulated load every QP_POOL_HEARTBEAT_MS, and
// exits cleanly on SIGTERM, like a pod given its termination grace period.
import { seededRandom } from '../core/random';

const pool = process.env.QP_POOL ?? 'pool';
const replica = Number(process.env.QP_POOL_REPLICA ?? '0');
const heartbeatMs = Number(process.env.QP_POOL_HEARTBEAT_MS ?? '1000');
const random = seededRandom(replica + 1);

const timer = setInterval(() => {
  process.stdout.write(`heartbeat ${JSON.stringify({ pool, replica, load: Math.round(random() * 1000) / 1000 })}\n`);
}, heartbeatMs);

const stop = () => {
  clearInterval(timer);
  process.stdout.write('stopping\n', () => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write('ready\n');
