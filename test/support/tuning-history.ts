// Reads what a tuning job's history recorded: the participants each attempt's
// selection chose, with the selection's input.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { SelectionInput, SelectionResult } from '../../activities/tuning';

export interface RecordedSelection {
  input: SelectionInput;
  result: SelectionResult;
}

/** The selectParticipants activities of a history, in order, with their decoded input and result. */
export function recordedSelections(history: temporal.api.history.v1.IHistory): RecordedSelection[] {
  const scheduled = new Map<number, SelectionInput>();
  const selections: RecordedSelection[] = [];
  for (const event of history.events ?? []) {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes?.activityType?.name === 'selectParticipants') {
      scheduled.set(Number(event.eventId), defaultPayloadConverter.fromPayload(attributes.input!.payloads![0]));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const input = completed ? scheduled.get(Number(completed.scheduledEventId)) : undefined;
    if (completed && input) {
      selections.push({ input, result: defaultPayloadConverter.fromPayload(completed.result!.payloads![0]) });
    }
  }
  return selections;
}
