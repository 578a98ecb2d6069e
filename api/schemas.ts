// Request schemas. A body that fails these is answered 400 naming the field.
import { z } from 'zod';
import { AGENT_STATUSES, ID_PATTERN } from '../core/agents';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');

export const registerRequestSchema = z
  .object({
    agentId: id,
    swarmId: id.optional(),
    capabilities: z.array(z.string().min(1).max(64)).max(64),
    resources: z
      .object({
        cpu: z.number().positive().max(4096),
        memoryMb: z.number().int().positive(),
        gpu: z.number().int().min(0).max(64).optional(),
        energy: z
          .object({
            source: z.enum(['grid', 'solar', 'wind', 'battery', 'mixed', 'other']),
            budgetWh: z.number().nonnegative().optional(),
            carbonGPerKWh: z.number().nonnegative().optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
    region: id.optional(),
    publicKey: z.string().min(1).max(4096),
  })
  .strict();

export const challengeResponseSchema = z
  .object({
    challenge: z.string().min(1).max(256),
    signature: z.string().min(1).max(256),
  })
  .strict();

export const heartbeatSchema = z
  .object({
    load: z.number().min(0).max(1).optional(),
    energyRemainingWh: z.number().nonnegative().optional(),
  })
  .strict();

export const listAgentsQuerySchema = z
  .object({
    swarmId: id.optional(),
    status: z.enum(AGENT_STATUSES).optional(),
    pageSize: z.coerce.number().int().min(1).max(500).default(50),
    pageToken: z.string().max(4096).optional(),
  })
  .strict();

export const agentIdParamSchema = z.object({ id });
