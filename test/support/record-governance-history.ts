// Records test/histories/swarmGovernance.json, which test/replay.test.ts replays: a swarm's
// governance settings set, set again, raised and returned to the default.
//   npx tsx test/support/record-governance-history.ts
import { GovernanceService } from '../../api/governance-service';
import { swarmGovernanceWorkflowId } from '../../workflows/definitions-reputation';
import { runRecorder, startRecordingStack } from './recording-stack';

runRecorder(async () => {
  const recording = await startRecordingStack();
  const { stack, tag } = recording;
  const swarmId = `record-${tag}`;
  const governance = new GovernanceService(stack.client, { taskQueue: `record-${tag}`, defaultProposalThreshold: 1 });
  await governance.set(swarmId, { proposalThreshold: 0 });
  await governance.set(swarmId, { proposalThreshold: 0 });
  await governance.set(swarmId, { proposalThreshold: 5 });
  const reset = await governance.set(swarmId, { proposalThreshold: null });
  if (reset.source !== 'default' || reset.proposalThreshold !== 1) throw new Error(`unexpected settings: ${JSON.stringify(reset)}`);
  recording.save(swarmGovernanceWorkflowId(swarmId), 'swarmGovernance');
  await recording.stop();
});
