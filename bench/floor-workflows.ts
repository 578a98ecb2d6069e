// The floor for bench/registration.ts: a workflow that does nothing but take
// the same messages a registration takes (one update), with no activities.
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

export const noopAnswer = defineUpdate<string, [string]>('noopAnswer');

export async function noopHandshake(): Promise<void> {
  let answered = false;
  setHandler(noopAnswer, (value) => {
    answered = true;
    return value;
  });
  await condition(() => answered);
}

/** The floor for bench/delegation-dispatch.ts: a workflow that completes at once. */
export async function noopTask(): Promise<void> {}
