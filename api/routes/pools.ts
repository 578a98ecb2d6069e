// /api/v1/pools (mounted at /api/v1, so that the list is /api/v1/pools): agent pools, their autoscaling policy and carbon input. Admin only.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { autoscalingPolicySchema, carbonInputSchema } from '../../core/autoscaling/policy';
import { POOL_NAME_PATTERN } from '../../core/pools';
import { authenticate, requireAdmin } from '../auth';
import { parse } from '../validation';
import type { PoolService } from '../pool-service';
import type { SwarmService } from '../swarm-service';

const poolNameParamSchema = z.object({
  name: z.string().regex(POOL_NAME_PATTERN, 'must be a DNS-1123 label: at most 63 lower-case letters, digits and "-"'),
});

const poolPolicyRequestSchema = z
  .object({
    policy: autoscalingPolicySchema,
    /** Logical topic (swarm/<id>/<name>) whose subscriptions' backlog drives the pool. */
    backlogTopic: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){1,4}$/, 'expected a topic such as swarm/<id>/tasks').optional(),
  })
  .strict();

export function poolRoutes(pools: PoolService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const admin = (req: Request) => requireAdmin(authenticate(req, adminToken, (token) => swarm.authenticateAgent(token)));
  const name = (req: Request) => parse(poolNameParamSchema, req.params, 'params').name;

  router.get('/pools', async (req, res) => {
    admin(req);
    res.json({ pools: await pools.list() });
  });

  router.get('/pools/:name', async (req, res) => {
    admin(req);
    res.json(await pools.get(name(req)));
  });

  router.put('/pools/:name', async (req, res) => {
    admin(req);
    const pool = name(req);
    const body = parse(poolPolicyRequestSchema, req.body, 'body');
    res.json(await pools.setPolicy(pool, body.policy, body.backlogTopic));
  });

  router.post('/pools/:name/carbon', async (req, res) => {
    admin(req);
    const pool = name(req);
    const body = parse(carbonInputSchema.strict(), req.body, 'body');
    res.json(await pools.setCarbon(pool, body));
  });

  return router;
}
