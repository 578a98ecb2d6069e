// Records test/histories/behaviorSweep.json, which test/replay.test.ts replays.
// Run after a change of the sweep workflow that is meant to be incompatible:
//   npx tsx test/support/record-behavior-history.ts
import { QpAgent } from '../../agents/sdk';
import { swarmTopics } from '../../core/topics';
import { startRecordingStack, runRecorder } from './recording-stack';

runRecorder(async () => {
  const recording = await startRecordingStack({ QP_BEHAVIOR_DIMENSION: '4', QP_BEHAVIOR_DRAIN_IDLE_MS: '200' });
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const agents = [0, 1, 2].map(
    (i) =>
      new QpAgent({
        apiUrl: stack.api.url,
        messaging: stack.ports.messaging,
        agentId: `recorded-${i}-${tag}`,
        swarmId,
        capabilities: ['explore'],
        resources: { cpu: 1, memoryMb: 512 },
      }),
  );
  await Promise.all(agents.map((a) => a.register()));
  // Two agents discover something (12 behaviors), the third does the usual (24); one garbage report.
  for (let e = 0; e < 6; e++) {
    await agents[0].reportBehavior({ episodeId: `e${e}`, descriptor: [5 + 0.01 * e, 5, 5, 5], fitness: 0.9 });
    await agents[1].reportBehavior({ episodeId: `e${e}`, descriptor: [5, 5 + 0.01 * e, 5, 5], fitness: 0.9 });
    for (let j = 0; j < 4; j++) {
      await agents[2].reportBehavior({ episodeId: `e${e}-${j}`, descriptor: [0.01 * j, 0.01 * e, 0, 0], fitness: 0.4 });
    }
  }
  await stack.ports.messaging.publish(swarmTopics(swarmId).behaviors, Buffer.from('not json'));
  const started = (await stack.api.behaviors.startSweep({ swarmId })).workflowId;
  const { report } = await stack.client.workflow.getHandle(started).result();
  if (report.strategies.length !== 1) throw new Error(`expected one strategy, got ${report.strategies.length}`);

  recording.save(started, 'behaviorSweep');
  await Promise.all(agents.map((a) => a.close()));
  await recording.stop();
});
