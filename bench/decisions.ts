// Ballots verified and counted per second, end to end, for --voters 10,000
// agents, beside the floor measured in the same run: the same number of
// messages consumed and acknowledged by the same messaging adapter without
// verification or counting.
//   ours:  the collaborativeDecision workflow on a real Temporal dev server with
//          the product's activities (snapshot, announce, countBallots batches,
//          outcome) over the messaging adapter. Once voting is open, the --voters
//          signed ballots (ranked-choice over 4 options, signed beforehand) are
//          published on the decision's topic, 256 in flight; timed from the first
//          publish to the workflow's result (it closes early once all have voted).
//   floor: the same ballots published the same way on another topic while one
//          consumer receives and acknowledges them, timed from the first publish
//          to the last ack.
//   npm run bench:decisions -- [--voters 10000] [--messaging pulsar|memory] [--repeats 2]
// --messaging pulsar (default when a broker answers on PULSAR_ADMIN_URL, default
// http://127.0.0.1:8090, started with `bash infra/local/stack.sh up pulsar`), else memory.
import { randomUUID } from 'node:crypto';
import { Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { createKeptAliveDecisionActivities } from '../activities/decisions';
import { MemoryBlobStore } from '../adapters/memory/blobs';
import { MemoryMessaging } from '../adapters/memory/messaging';
import { PulsarMessaging } from '../adapters/pulsar/messaging';
import type { MessagingPort } from '../adapters/ports';
import { signBallot } from '../core/decisions/ballot';
import type { DecisionStatus } from '../core/decisions/status';
import { decisionTopic } from '../core/decisions/topics';
import type { DecisionSpec } from '../core/decisions/types';
import { DECISION_WORKFLOW, decisionStatusQuery, decisionWorkflowId } from '../workflows/definitions';
import type { CollaborativeDecisionInput } from '../workflows/decision';
import { GeneratedElectorate } from './support/electorate';
import { startDevServer } from './support/temporal';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const OPTIONS = ['keep', 'explore', 'exploit', 'rest'];

async function pulsarAnswers(adminUrl: string): Promise<boolean> {
  try {
    return (await fetch(`${adminUrl}/admin/v2/clusters`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

async function publishAll(messaging: MessagingPort, topic: string, payloads: Buffer[], keys: string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < payloads.length) {
        const i = next++;
        await messaging.publish(topic, payloads[i], { key: keys[i], properties: { type: 'ballot' } });
      }
    }),
  );
}

/**
 * The floor: the same ballots published the same way while one consumer
 * receives and acknowledges them one at a time, as countBallots does, with no
 * verification or counting; ms from the first publish to the last ack.
 */
async function floor(messaging: MessagingPort, topic: string, payloads: Buffer[], keys: string[]): Promise<number> {
  const consumer = await messaging.subscribe(topic, 'qp-manager-decision', { initialPosition: 'earliest' });
  const started = performance.now();
  const publishing = publishAll(messaging, topic, payloads, keys);
  let received = 0;
  while (received < payloads.length) {
    const message = await consumer.receive(10_000);
    if (!message) throw new Error(`floor: only ${received} of ${payloads.length} messages arrived`);
    await consumer.ack(message);
    received++;
  }
  const ms = performance.now() - started;
  await publishing;
  await consumer.close();
  return ms;
}

async function main(): Promise<void> {
  const voters = Number(arg('voters', '10000'));
  const repeats = Number(arg('repeats', '2'));
  const adminUrl = process.env.PULSAR_ADMIN_URL ?? 'http://127.0.0.1:8090';
  const kind = arg('messaging', (await pulsarAnswers(adminUrl)) ? 'pulsar' : 'memory');
  const messaging: MessagingPort =
    kind === 'pulsar'
      ? new PulsarMessaging({ webSocketUrl: adminUrl.replace(/^http/, 'ws'), adminUrl, tenant: 'qp-bench' })
      : new MemoryMessaging();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const swarmId = `bench-${randomUUID().slice(0, 8)}`;
  const electorate = new GeneratedElectorate(Array.from({ length: voters }, (_, i) => `voter-${String(i).padStart(5, '0')}`));
  const env = await startDevServer();
  const taskQueue = `decisions-${randomUUID().slice(0, 8)}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createKeptAliveDecisionActivities({ messaging, blobs: new MemoryBlobStore(), electorate, agentKeys: electorate }),
  });
  const running = worker.run();
  console.log(`messaging: ${kind}; voters: ${voters}; ranked-choice over ${OPTIONS.length} options`);
  try {
    for (let repeat = 1; repeat <= repeats; repeat++) {
      const decisionId = `bench-${randomUUID().slice(0, 8)}`;
      const payloads = electorate.agentIds.map((agentId, i) => {
        const ranking = [OPTIONS[i % 4], OPTIONS[(i + 1) % 4], OPTIONS[(i * 7) % 4 === i % 4 ? (i + 2) % 4 : (i * 7) % 4]];
        const ballot = signBallot(electorate.privateKeys.get(agentId)!, { decisionId, agentId, choice: [...new Set(ranking)], castAt: Date.now() });
        return Buffer.from(JSON.stringify(ballot));
      });
      const spec: DecisionSpec = {
        decisionId, swarmId, title: 'bench', options: OPTIONS, system: 'ranked-choice', power: 'equal', votingDelayMs: 0,
        votingPeriodMs: 10 * 60_000, quorum: { fraction: 0.5 }, proposer: 'admin',
      };
      const input: CollaborativeDecisionInput = { spec };
      const handle = await env.client.workflow.start(DECISION_WORKFLOW, { workflowId: decisionWorkflowId(decisionId), taskQueue, args: [input] });
      for (;;) {
        if ((await handle.query(decisionStatusQuery)).state === 'ACTIVE') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Timed from the first ballot published to the outcome (the workflow closes early once all have voted).
      const started = performance.now();
      await publishAll(messaging, decisionTopic(swarmId, decisionId), payloads, electorate.agentIds);
      const result: DecisionStatus = await handle.result();
      const oursMs = performance.now() - started;
      if (result.voters !== voters || result.tally.ballots !== voters) throw new Error(`counted ${result.voters} of ${voters}`);
      const floorMs = await floor(messaging, `swarm/${swarmId}/floor-${decisionId}`, payloads, electorate.agentIds);
      const history = await env.client.workflow.getHandle(decisionWorkflowId(decisionId)).fetchHistory();
      const oursRate = (voters * 1000) / oursMs;
      const floorRate = (voters * 1000) / floorMs;
      console.log(`run ${repeat}: ours (verify + count, workflow end to end) ballots/s: ${oursRate.toFixed(0)}`);
      console.log(`run ${repeat}: floor (receive + ack only) messages/s: ${floorRate.toFixed(0)}`);
      console.log(`run ${repeat}: ratio ours/floor: ${(oursRate / floorRate).toFixed(2)}`);
      console.log(`run ${repeat}: workflow history events: ${history.events?.length}; state ${result.state}, winner ${result.outcome?.winner}, closed ${result.closedBy}`);
    }
  } finally {
    worker.shutdown();
    await running;
    await env.teardown();
    await messaging.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
