// /api/v1/decisions: collaborative decisions (proposals and signed ballots). Mounted at
// /api/v1 so that the collection itself is /api/v1/decisions, without a trailing slash.
import { Router, type Request } from 'express';
import { authenticate, requireAdmin, type Caller } from '../auth';
import { parse } from '../validation';
import { DomainError } from '../../core/errors';
import {
  ballotsQuerySchema,
  cancelDecisionSchema,
  decisionCreateSchema,
  decisionIdParamSchema,
  decisionListQuerySchema,
  voteSchema,
} from '../decision-schemas';
import type { DecisionService } from '../decision-service';
import type { SwarmService } from '../swarm-service';

/** An agent proposes, reads and votes only in its own swarm. */
function requireSwarm(caller: Caller, swarmId: string): void {
  if (caller.kind === 'agent' && caller.claims.swarm !== swarmId) {
    throw new DomainError('FORBIDDEN', 'an agent proposes, reads and votes on the decisions of its own swarm only', { field: 'swarmId' });
  }
}

export function decisionRoutes(decisions: DecisionService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));
  const decisionId = (req: Request) => parse(decisionIdParamSchema, req.params, 'params').decisionId;

  router.post('/decisions', async (req, res) => {
    const who = caller(req);
    const body = parse(decisionCreateSchema, req.body, 'body');
    requireSwarm(who, body.swarmId);
    // The action is validated before the agent's standing is checked: a bad body is a 400 naming the field from anyone.
    const standing = who.kind === 'agent' ? () => decisions.requireProposalStanding(body.swarmId, who.claims.sub) : undefined;
    res.status(201).json(await decisions.create(body, who.kind === 'agent' ? who.claims.sub : 'admin', standing));
  });

  router.get('/decisions', async (req, res) => {
    const who = caller(req);
    const query = parse(decisionListQuerySchema, req.query, 'query');
    const swarmId = who.kind === 'agent' ? (query.swarmId ?? who.claims.swarm) : query.swarmId;
    if (swarmId) requireSwarm(who, swarmId);
    res.json({ decisions: await decisions.list({ ...query, swarmId }) });
  });

  router.get('/decisions/:decisionId', async (req, res) => {
    const who = caller(req);
    const status = await decisions.status(decisionId(req));
    requireSwarm(who, status.swarmId);
    res.json(decisions.view(status));
  });

  router.get('/decisions/:decisionId/ballots', async (req, res) => {
    const who = caller(req);
    const id = decisionId(req);
    const { pageSize, pageToken } = parse(ballotsQuerySchema, req.query, 'query');
    const status = await decisions.status(id);
    requireSwarm(who, status.swarmId);
    const { ballots, nextOffset } = await decisions.ballotsPage(status, pageToken ?? 0, pageSize);
    res.json({
      decisionId: status.decisionId,
      swarmId: status.swarmId,
      system: status.system,
      options: status.options,
      state: status.state,
      ballots,
      publicKeys: await decisions.publicKeys(status.swarmId, ballots.map((ballot) => ballot.agentId)),
      nextPageToken: nextOffset === undefined ? undefined : String(nextOffset),
    });
  });

  router.post('/decisions/:decisionId/votes', async (req, res) => {
    const who = caller(req);
    if (who.kind !== 'agent') throw new DomainError('FORBIDDEN', 'only agents vote: send the agent\'s credential');
    const id = decisionId(req);
    const body = parse(voteSchema, req.body, 'body');
    if (body.agentId !== undefined && body.agentId !== who.claims.sub) {
      throw new DomainError('FORBIDDEN', 'a credential votes only for its own agent', { field: 'agentId' });
    }
    const ballot = { decisionId: id, agentId: who.claims.sub, choice: body.choice, castAt: body.castAt, signature: body.signature };
    res.status(202).json(await decisions.vote(id, ballot, who.claims.swarm));
  });

  // The admin cancels any decision (a timelocked action too); the agent that proposed one cancels it while it is PENDING or ACTIVE.
  router.post('/decisions/:decisionId/cancel', async (req, res) => {
    const who = caller(req);
    const id = decisionId(req);
    const { reason } = parse(cancelDecisionSchema, req.body, 'body');
    if (who.kind === 'agent') {
      const status = await decisions.status(id);
      requireSwarm(who, status.swarmId);
      if (status.proposer !== who.claims.sub) {
        throw new DomainError('FORBIDDEN', 'an agent cancels only the decisions it proposed', { reason: 'not-proposer' });
      }
      if (status.state !== 'PENDING' && status.state !== 'ACTIVE') {
        throw new DomainError('CONFLICT', `decision ${id} is ${status.state}: its proposer may cancel it only while PENDING or ACTIVE`, { reason: 'closed' });
      }
    } else requireAdmin(who);
    res.json(decisions.view(await decisions.cancel(id, reason)));
  });

  return router;
}
