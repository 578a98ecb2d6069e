// /api/v1/governance/{swarmId}: a swarm's governance settings (its proposal threshold).
// Agents read their own swarm's; only the admin changes them.
import { Router, type Request } from 'express';
import { authenticate, requireAdmin } from '../auth';
import { governanceChangeSchema, governanceSwarmParamSchema } from '../decision-schemas';
import type { GovernanceService } from '../governance-service';
import type { SwarmService } from '../swarm-service';
import { parse } from '../validation';
import { DomainError } from '../../core/errors';

export function governanceRoutes(governance: GovernanceService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));

  router.get('/:swarmId', async (req, res) => {
    const who = caller(req);
    const { swarmId } = parse(governanceSwarmParamSchema, req.params, 'params');
    if (who.kind === 'agent' && who.claims.swarm !== swarmId) {
      throw new DomainError('FORBIDDEN', "an agent reads its own swarm's governance settings only", { field: 'swarmId' });
    }
    res.json(await governance.view(swarmId));
  });

  router.put('/:swarmId', async (req, res) => {
    requireAdmin(caller(req));
    const { swarmId } = parse(governanceSwarmParamSchema, req.params, 'params');
    const change = parse(governanceChangeSchema, req.body, 'body');
    res.json(await governance.set(swarmId, change));
  });

  return router;
}
