// livenessMonitor (id liveness-<swarmId>): watches a swarm's heartbeats and
// tells each agent session only when its status flips between ACTIVE and LOST.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { LivenessActivities } from '../activities/liveness';
import {
  livenessChangedSignal,
  registrationWorkflowId,
  unwatchAgentSignal,
  watchAgentSignal,
  watchedAgentsQuery,
  type LivenessMonitorInput,
} from './definitions';

export type { LivenessMonitorInput };

/** Observation windows per run before continue-as-new keeps history small. */
const WINDOWS_PER_RUN = 200;
/** A monitor with nobody to watch for this long ends; the next registration restarts it. */
const IDLE_EXIT = '10 minutes';

export async function livenessMonitor(input: LivenessMonitorInput): Promise<void> {
  const watched = new Set(input.watched ?? []);
  const lost = new Set(input.lost ?? []);
  const observe = proxyActivities<LivenessActivities>({
    startToCloseTimeout: input.windowMs + 30_000,
    heartbeatTimeout: Math.max(10_000, input.windowMs),
    retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  });

  setHandler(watchAgentSignal, ({ agentId }) => {
    watched.add(agentId);
    lost.delete(agentId);
  });
  setHandler(unwatchAgentSignal, ({ agentId }) => {
    watched.delete(agentId);
    lost.delete(agentId);
  });
  setHandler(watchedAgentsQuery, () => ({ watched: [...watched], lost: [...lost] }));

  for (let window = 0; window < WINDOWS_PER_RUN && !workflowInfo().continueAsNewSuggested; window++) {
    if (watched.size === 0 && !(await condition(() => watched.size > 0, IDLE_EXIT))) {
      return;
    }
    const transitions = await observe.observeHeartbeats({
      swarmId: input.swarmId,
      agentIds: [...watched],
      lostAgentIds: [...lost],
      graceMs: input.graceMs,
      windowMs: input.windowMs,
    });
    for (const transition of transitions) {
      if (!watched.has(transition.agentId)) continue;
      if (transition.status === 'LOST') lost.add(transition.agentId);
      else lost.delete(transition.agentId);
      try {
        await getExternalWorkflowHandle(registrationWorkflowId(transition.agentId)).signal(
          livenessChangedSignal,
          transition,
        );
      } catch {
        // The session has ended (deregistered); stop watching it.
        watched.delete(transition.agentId);
        lost.delete(transition.agentId);
      }
    }
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof livenessMonitor>({ ...input, watched: [...watched], lost: [...lost] });
}
