// /api/v1/tasks: delegated tasks. The admin submits and reads any task; an
// agent submits to and reads the tasks of its own swarm only.
import { Router, type Request } from 'express';
import { authenticate, type Caller } from '../auth';
import { DomainError } from '../../core/errors';
import type { SwarmService } from '../swarm-service';
import type { TaskService } from '../task-service';
import { cancelTaskSchema, listTasksQuerySchema, taskBatchSchema, taskIdParamSchema, taskSubmissionSchema } from '../task-schemas';
import { parse } from '../validation';

/** Workflow starts a batch keeps in flight at once. */
const BATCH_CONCURRENCY = 32;

function requireSwarm(caller: Caller, swarmId: string): void {
  if (caller.kind === 'agent' && caller.claims.swarm !== swarmId) {
    throw new DomainError('FORBIDDEN', 'an agent delegates to and reads the tasks of its own swarm only');
  }
}

export function taskRoutes(tasks: TaskService, swarm: SwarmService, adminToken: string | undefined): Router {
  const router = Router();
  const caller = (req: Request) => authenticate(req, adminToken, (token) => swarm.authenticateAgent(token));
  const taskId = (req: Request) => parse(taskIdParamSchema, req.params, 'params').taskId;

  router.post('/', async (req, res) => {
    const who = caller(req);
    const body = parse(taskSubmissionSchema, req.body, 'body');
    requireSwarm(who, body.swarmId);
    const accepted = await tasks.submit(body);
    res.status(accepted.created ? 202 : 200).json(accepted);
  });

  router.post('/batch', async (req, res) => {
    const who = caller(req);
    const body = parse(taskBatchSchema, req.body, 'body');
    body.tasks.forEach((task) => requireSwarm(who, task.swarmId));
    // Up to 1,000 workflow starts: a bounded number in flight, answers in the order submitted.
    const accepted: Awaited<ReturnType<TaskService['submit']>>[] = new Array(body.tasks.length);
    let next = 0;
    const submitNext = async (): Promise<void> => {
      while (next < body.tasks.length) {
        const index = next++;
        accepted[index] = await tasks.submit(body.tasks[index]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, body.tasks.length) }, submitNext));
    res.status(202).json({ tasks: accepted });
  });

  router.get('/', async (req, res) => {
    const who = caller(req);
    const filter = parse(listTasksQuerySchema, req.query, 'query');
    // An agent lists its own swarm's tasks: its swarm is the default filter, another one is refused.
    if (who.kind === 'agent') {
      filter.swarmId ??= who.claims.swarm;
      requireSwarm(who, filter.swarmId);
    }
    res.json(await tasks.list(filter));
  });

  router.get('/:taskId', async (req, res) => {
    const who = caller(req);
    const state = await tasks.get(taskId(req));
    requireSwarm(who, state.swarmId);
    res.json(state);
  });

  router.post('/:taskId/cancel', async (req, res) => {
    const who = caller(req);
    const id = taskId(req);
    requireSwarm(who, (await tasks.get(id)).swarmId);
    const { reason } = parse(cancelTaskSchema, req.body, 'body');
    res.json(await tasks.cancel(id, reason));
  });

  return router;
}
