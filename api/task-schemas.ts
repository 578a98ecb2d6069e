// Request schemas of /api/v1/tasks. A body that fails these is answered 400 naming the field.
import { z } from 'zod';
import { ID_PATTERN } from '../core/agents';
import { TASK_ID_PATTERN, TASK_STATUSES } from '../core/tasks';

const swarmId = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');
export const taskId = z.string().regex(TASK_ID_PATTERN, 'must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Largest inline task input, bytes of JSON; larger inputs go to the blob store and travel as { digest }. */
export const MAX_INLINE_INPUT_BYTES = 16 * 1024;
/** Tasks per batch request at most. */
export const MAX_BATCH = 1000;

export const taskSubmissionSchema = z
  .object({
    taskId: taskId.optional(),
    swarmId,
    kind: z.string().min(1).max(128),
    input: z
      .unknown()
      .refine((value) => value !== undefined, 'is required (small JSON, or { "digest": "<sha-256>" } of a blob)')
      .refine((value) => JSON.stringify(value ?? null).length <= MAX_INLINE_INPUT_BYTES, `must be at most ${MAX_INLINE_INPUT_BYTES} bytes of JSON; store larger input as a blob and send { "digest": "<sha-256>" }`),
    requirements: z
      .object({
        cpu: z.number().positive().max(4096).optional(),
        memoryMb: z.number().int().positive().max(1 << 30).optional(),
        gpu: z.number().int().min(0).max(64).optional(),
        capabilities: z.array(z.string().min(1).max(64)).max(64).optional(),
      })
      .strict()
      .default({}),
    estimatedWork: z.number().positive().max(1e9),
    deadline: z.union([
      z.string().datetime({ offset: true }),
      z.number().int().positive().max(365 * 24 * 3600 * 1000),
    ]),
    priority: z.number().int().min(0).max(100).optional(),
    deferrable: z.boolean().optional(),
    allocation: z.enum(['central', 'contract-net']).optional(),
  })
  .strict();

export type TaskSubmission = z.infer<typeof taskSubmissionSchema>;

export const taskBatchSchema = z
  .object({ tasks: z.array(taskSubmissionSchema).min(1).max(MAX_BATCH) })
  .strict();

export const taskIdParamSchema = z.object({ taskId }).strict();
export const cancelTaskSchema = z.object({ reason: z.string().max(500).optional() }).strict();

export const listTasksQuerySchema = z
  .object({
    swarmId: swarmId.optional(),
    status: z.enum(TASK_STATUSES).optional(),
    agentId: z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit').optional(),
    pageSize: z.coerce.number().int().min(1).max(500).default(50),
    pageToken: z.string().max(4096).optional(),
  })
  .strict();
