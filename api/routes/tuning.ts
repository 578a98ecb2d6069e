// /api/v1/tuning: federated tuning jobs.
import { Router, type Request } from 'express';
import { authenticate, requireAdmin } from '../auth';
import { parse } from '../validation';
import { jobIdParamSchema, modelQuerySchema, tuningStartSchema } from '../schemas';
import type { SwarmService } from '../swarm-service';
import type { TuningService } from '../tuning-service';

export function tuningRoutes(tuning: TuningService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));
  const jobId = (req: Request) => parse(jobIdParamSchema, req.params, 'params').jobId;

  router.post('/start', async (req, res) => {
    requireAdmin(caller(req));
    const spec = parse(tuningStartSchema, req.body, 'body');
    res.status(202).json(await tuning.start(spec));
  });

  router.get('/:jobId', async (req, res) => {
    requireAdmin(caller(req));
    res.json(await tuning.progress(jobId(req)));
  });

  router.get('/:jobId/model', async (req, res) => {
    caller(req); // the admin or any registered agent
    const id = jobId(req);
    const { digest } = parse(modelQuerySchema, req.query, 'query');
    const model = await tuning.model(id, digest);
    res.setHeader('x-model-digest', model.digest);
    res.type('application/octet-stream').send(Buffer.from(model.bytes));
  });

  router.post('/:jobId/cancel', async (req, res) => {
    requireAdmin(caller(req));
    await tuning.cancel(jobId(req));
    res.status(202).json({ cancelling: true });
  });

  router.post('/:jobId/pause', async (req, res) => {
    requireAdmin(caller(req));
    res.json(await tuning.pause(jobId(req), true));
  });

  router.post('/:jobId/resume', async (req, res) => {
    requireAdmin(caller(req));
    res.json(await tuning.pause(jobId(req), false));
  });

  return router;
}
