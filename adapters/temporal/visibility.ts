// Reading Temporal visibility page by page: every execution a query matches.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import type { temporal } from '@temporalio/proto';

export type ExecutionInfo = temporal.api.workflow.v1.IWorkflowExecutionInfo;

/** Every execution matching query, fetched 1,000 at a time as the caller iterates. */
export async function* matchingExecutions(client: Client, namespace: string, query: string): AsyncGenerator<ExecutionInfo> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({ namespace, pageSize: 1000, nextPageToken, query });
    yield* page.executions ?? [];
    nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

/** The value of a Keyword search attribute of an execution, or '' when unset. */
export function keywordAttribute(execution: ExecutionInfo, name: string): string {
  const attributes = decodeSearchAttributes(execution.searchAttributes?.indexedFields);
  return String((attributes[name] as unknown[] | undefined)?.[0] ?? '');
}

/** A memo field of an execution, decoded; undefined when unset or unreadable. */
export function memoField(execution: ExecutionInfo, name: string): unknown {
  const payload = execution.memo?.fields?.[name];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload as Payload);
  } catch {
    return undefined;
  }
}

/** A value as a quoted string literal of a visibility query (backslashes and quotes escaped). */
export function queryString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
