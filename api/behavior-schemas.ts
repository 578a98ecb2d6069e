// Request schemas of the behavior and skill routes; failures answer 400 naming the field.
import { z } from 'zod';
import { ID_PATTERN } from '../core/agents';
import { EPISODE_ID_PATTERN } from '../core/behaviors/validation';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');

export const BEHAVIOR_ID_PATTERN = new RegExp(`^${ID_PATTERN.source.slice(1, -1)}:${EPISODE_ID_PATTERN.source.slice(1, -1)}$`);
export const REPORT_ID_PATTERN = /^sweep-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Up to 4096 comma-separated decimal numbers. */
const VECTOR_PATTERN = /^-?\d+(\.\d+)?([eE][-+]?\d+)?(,-?\d+(\.\d+)?([eE][-+]?\d+)?){0,4095}$/;

export const behaviorReportSchema = z
  .object({
    episodeId: z.string().regex(EPISODE_ID_PATTERN, 'must be 1-128 characters of letters, digits, ".", "_", ":" or "-"'),
    descriptor: z.array(z.number()).min(1).max(4096),
    fitness: z.number(),
    context: z.record(z.unknown()).optional(),
    timestamp: z.number().int().min(0).optional(),
  })
  .strict();

const sweepParametersSchema = z
  .object({
    k: z.number().int().min(1).max(1000).optional(),
    noveltyThreshold: z.union([z.literal('auto'), z.number().min(0)]).optional(),
    noveltyFactor: z.number().positive().optional(),
    fitnessFloor: z.union([z.literal('mean'), z.number()]).optional(),
    eps: z.union([z.literal('auto'), z.number().positive()]).optional(),
    minPts: z.number().int().min(1).max(1000).optional(),
    maxStrategies: z.number().int().min(1).max(100).optional(),
    broadcastTop: z.number().int().min(0).max(100).optional(),
  })
  .strict();

export const sweepRequestSchema = z
  .object({
    swarmId: id,
    parameters: sweepParametersSchema.optional(),
  })
  .strict();

export const latestReportQuerySchema = z.object({ swarmId: id.optional() }).strict();

export const listReportsQuerySchema = z
  .object({
    swarmId: id.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().min(1).max(4096).optional(),
  })
  .strict();

export const reportIdParamSchema = z.object({
  id: z.string().regex(REPORT_ID_PATTERN, 'must be a report id, sweep-<uuid>'),
});

export const skillSearchQuerySchema = z
  .object({
    swarmId: id.optional(),
    similarTo: z.string().regex(BEHAVIOR_ID_PATTERN, 'must be a behavior id, <agentId>:<episodeId>').optional(),
    vector: z.string().regex(VECTOR_PATTERN, 'must be comma-separated numbers').optional(),
    k: z.coerce.number().int().min(1).max(100).default(5),
  })
  .strict()
  .superRefine((query, context) => {
    if ((query.similarTo === undefined) === (query.vector === undefined)) {
      context.addIssue({
        code: z.ZodIssueCode.custom,
        path: [query.similarTo === undefined ? 'similarTo' : 'vector'],
        message: 'give exactly one of similarTo (a behavior id) and vector',
      });
    }
  });
