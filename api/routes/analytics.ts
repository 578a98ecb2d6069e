// /api/v1/analytics: a swarm's latest analytics windows, the runtime's state, and deploying a
// swarm's analytics job.
import { Router, type Request } from 'express';
import type { AnalyticsService } from '../analytics-service';
import { analyticsLatestQuerySchema, analyticsSwarmParamSchema } from '../analytics-schemas';
import { authenticate, requireAdmin } from '../auth';
import { DomainError } from '../../core/errors';
import type { AnalyticsSignal } from '../../core/analytics';
import type { SwarmService } from '../swarm-service';
import { parse } from '../validation';

export function analyticsRoutes(analytics: AnalyticsService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));

  router.get('/status', async (req, res) => {
    requireAdmin(caller(req));
    parse(analyticsLatestQuerySchema.pick({}), req.query, 'query');
    res.json(await analytics.status());
  });

  router.get('/:swarmId', async (req, res) => {
    const who = caller(req);
    const { swarmId } = parse(analyticsSwarmParamSchema, req.params, 'params');
    const { signal } = parse(analyticsLatestQuerySchema, req.query, 'query');
    if (who.kind === 'agent' && who.claims.swarm !== swarmId) {
      throw new DomainError('FORBIDDEN', "an agent reads its own swarm's analytics only");
    }
    res.json(await analytics.latest(swarmId, signal as AnalyticsSignal | undefined));
  });

  router.put('/:swarmId/job', async (req, res) => {
    requireAdmin(caller(req));
    const { swarmId } = parse(analyticsSwarmParamSchema, req.params, 'params');
    res.json(await analytics.deploy(swarmId));
  });

  return router;
}
