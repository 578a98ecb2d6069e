// Request schemas of /api/v1/analytics.
import { z } from 'zod';
import { ID_PATTERN } from '../core/agents';
import { ANALYTICS_SIGNALS } from '../core/analytics';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit');

export const analyticsSwarmParamSchema = z.object({ swarmId: id }).strict();

export const analyticsLatestQuerySchema = z
  .object({ signal: z.enum(ANALYTICS_SIGNALS as [string, ...string[]]).optional() })
  .strict();
