// Reads what a tuning job's history recorded: the participants each attempt's
// selection chose, with the selection's input. Jobs that keep the participant
// list in the blob store (selectAndStoreParticipants) record digests: they are
// read back from the blob store into the same shape.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { BlobStore } from '../../adapters/ports';
import type { SelectionInput, SelectionResult, StoredSelection, StoredSelectionInput } from '../../activities/tuning';

export interface RecordedSelection {
  input: SelectionInput;
  result: SelectionResult;
}

const SELECTIONS = ['selectParticipants', 'selectAndStoreParticipants'];

/** The selection activities of a history, in order, with their decoded input and result (lists read from blobs). */
export async function recordedSelections(history: temporal.api.history.v1.IHistory, blobs: BlobStore): Promise<RecordedSelection[]> {
  const json = async <T>(digest: string | undefined, empty: T): Promise<T> => {
    if (!digest) return empty;
    const bytes = await blobs.get(digest);
    if (!bytes) throw new Error(`no blob ${digest}`);
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  };
  const scheduled = new Map<number, SelectionInput | StoredSelectionInput>();
  const selections: RecordedSelection[] = [];
  for (const event of history.events ?? []) {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (SELECTIONS.includes(attributes?.activityType?.name ?? '')) {
      scheduled.set(Number(event.eventId), defaultPayloadConverter.fromPayload(attributes!.input!.payloads![0]));
    }
    const completed = event.activityTaskCompletedEventAttributes;
    const input = completed ? scheduled.get(Number(completed.scheduledEventId)) : undefined;
    if (!completed || !input) continue;
    const result = defaultPayloadConverter.fromPayload<SelectionResult | StoredSelection>(completed.result!.payloads![0]);
    if ('participantsDigest' in result) {
      const { participationDigest, lastParticipation, ...rest } = input as StoredSelectionInput;
      const { participantsDigest, participantCount, participationDigest: _next, ...selection } = result;
      const participants = await json<string[]>(participantsDigest, []);
      if (participants.length !== participantCount) throw new Error(`${participantsDigest} lists ${participants.length}, not ${participantCount}`);
      selections.push({
        input: { ...rest, lastParticipation: { ...(await json<Record<string, number>>(participationDigest, {})), ...lastParticipation } },
        result: { ...selection, participants },
      });
    } else {
      selections.push({ input: input as SelectionInput, result });
    }
  }
  return selections;
}
