// Parsing request parts against their schemas; failures name the field.
import type { z, ZodTypeAny } from 'zod';
import { fromZod } from './errors';

export function parse<S extends ZodTypeAny>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw fromZod(result.error, where);
  return result.data;
}
