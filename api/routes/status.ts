// GET / (the live status page) and GET /api/v1/status (its data as JSON). Anyone may
// read them, like /metrics: they carry counts, ids and accuracies only.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { parse } from '../validation';
import { renderStatusBody, renderStatusPage } from '../status-page';
import type { StatusService } from '../status-service';

const pageQuerySchema = z.object({ part: z.enum(['body']).optional() }).strict();

/** The handlers, registered by the app on exact paths (the page sits at the root, beside /api). */
export function statusHandlers(status: StatusService): { page: RequestHandler; summary: RequestHandler } {
  return {
    page: async (req, res) => {
      const { part } = parse(pageQuerySchema, req.query, 'query');
      const summary = await status.summary();
      res.setHeader('cache-control', 'no-store');
      res.type('text/html').send(part === 'body' ? renderStatusBody(summary) : renderStatusPage(summary));
    },
    summary: async (_req, res) => {
      res.setHeader('cache-control', 'no-store');
      res.json(await status.summary());
    },
  };
}
