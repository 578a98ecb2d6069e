// /api/v1/swarm: registration, challenge answers, heartbeats, the registry.
import { Router, type Request } from 'express';
import { authenticate, bearerToken, requireAdmin, requireSelfOrAdmin } from '../auth';
import { refuseRevokedCredential } from '../credential-standing';
import { parse } from '../validation';
import {
  agentIdParamSchema,
  challengeResponseSchema,
  heartbeatSchema,
  listAgentsQuerySchema,
  registerRequestSchema,
  revokeCredentialsSchema,
} from '../schemas';
import type { SwarmService } from '../swarm-service';

export function swarmRoutes(swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));
  const agentId = (req: Request) => parse(agentIdParamSchema, req.params, 'params').id;

  router.post('/register', async (req, res) => {
    const body = parse(registerRequestSchema, req.body, 'body');
    const accepted = await swarm.register(body);
    res.status(accepted.created ? 202 : 200).json(accepted);
  });

  router.post('/agents/:id/challenge-response', async (req, res) => {
    const id = agentId(req);
    const body = parse(challengeResponseSchema, req.body, 'body');
    res.json(await swarm.respondToChallenge(id, body));
  });

  router.post('/agents/:id/heartbeat', async (req, res) => {
    const id = agentId(req);
    const token = bearerToken(req);
    const claims = swarm.authenticateAgent(token, id);
    refuseRevokedCredential(req);
    const body = parse(heartbeatSchema, req.body, 'body');
    await swarm.heartbeat(claims, body);
    res.status(202).json({ accepted: true });
  });

  router.get('/agents', async (req, res) => {
    requireAdmin(caller(req));
    const query = parse(listAgentsQuerySchema, req.query, 'query');
    res.json(await swarm.listAgents(query));
  });

  router.get('/agents/:id', async (req, res) => {
    const id = agentId(req);
    requireSelfOrAdmin(caller(req), id);
    res.json(await swarm.getAgent(id));
  });

  router.delete('/agents/:id', async (req, res) => {
    const id = agentId(req);
    const who = caller(req);
    requireSelfOrAdmin(who, id);
    res.json(await swarm.deregister(id, who.kind === 'admin' ? 'deregistered by admin' : 'deregistered by agent'));
  });

  router.post('/agents/:id/credentials/revoke', async (req, res) => {
    const id = agentId(req);
    const who = caller(req);
    requireSelfOrAdmin(who, id);
    const { reason } = parse(revokeCredentialsSchema, req.body ?? {}, 'body');
    res.json(await swarm.revokeCredentials(id, reason ?? (who.kind === 'admin' ? 'revoked by admin' : 'revoked by agent')));
  });

  return router;
}
