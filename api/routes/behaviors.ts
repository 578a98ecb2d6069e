// /api/v1/behaviors: behavior reports in, sweeps on demand, sweep reports out;
// /api/v1/skills: the discovered strategies, searched by similarity.
import { Router, type Request } from 'express';
import type { BehaviorService } from '../behavior-service';
import {
  behaviorReportSchema,
  latestReportQuerySchema,
  listReportsQuerySchema,
  reportIdParamSchema,
  skillSearchQuerySchema,
  sweepRequestSchema,
} from '../behavior-schemas';
import { authenticate, bearerToken, requireAdmin, type Caller } from '../auth';
import { DomainError } from '../../core/errors';
import type { SwarmService } from '../swarm-service';
import { parse } from '../validation';

/** The swarm a caller may read: the admin names any (or none), an agent only its own. */
function readableSwarm(caller: Caller, swarmId: string | undefined): string | undefined {
  if (caller.kind === 'admin') return swarmId;
  if (swarmId !== undefined && swarmId !== caller.claims.swarm) {
    throw new DomainError('FORBIDDEN', 'an agent reads the reports and skills of its own swarm only');
  }
  return caller.claims.swarm;
}

export function behaviorRoutes(behaviors: BehaviorService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));

  router.post('/reports', async (req, res) => {
    const who = caller(req);
    if (who.kind !== 'agent') throw new DomainError('FORBIDDEN', 'behavior reports are posted by agents, with their credential');
    const body = parse(behaviorReportSchema, req.body, 'body');
    res.status(202).json(await behaviors.submitReport(who.claims, bearerToken(req), body));
  });

  router.post('/sweep', async (req, res) => {
    requireAdmin(caller(req));
    const body = parse(sweepRequestSchema, req.body, 'body');
    res.status(202).json(await behaviors.startSweep(body));
  });

  router.get('/latest', async (req, res) => {
    const who = caller(req);
    const query = parse(latestReportQuerySchema, req.query, 'query');
    res.json(await behaviors.latest(readableSwarm(who, query.swarmId)));
  });

  router.get('/reports', async (req, res) => {
    const who = caller(req);
    const query = parse(listReportsQuerySchema, req.query, 'query');
    res.json(await behaviors.list({ ...query, swarmId: readableSwarm(who, query.swarmId) }));
  });

  router.get('/reports/:id', async (req, res) => {
    const who = caller(req);
    const { id } = parse(reportIdParamSchema, req.params, 'params');
    const report = await behaviors.get(id);
    readableSwarm(who, report.swarmId);
    res.json(report);
  });

  return router;
}

export function skillRoutes(behaviors: BehaviorService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));

  router.get('/search', async (req, res) => {
    const who = caller(req);
    const query = parse(skillSearchQuerySchema, req.query, 'query');
    const swarmId = readableSwarm(who, query.swarmId);
    if (!swarmId) throw new DomainError('INVALID_ARGUMENT', 'swarmId: is required with the admin token', { field: 'swarmId' });
    res.json(
      await behaviors.searchSkills({
        swarmId,
        similarTo: query.similarTo,
        vector: query.vector?.split(',').map(Number),
        k: query.k,
      }),
    );
  });

  return router;
}
