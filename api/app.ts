// The express application: routes, limits, metrics and error mapping.
import express from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { credentialStanding } from './credential-standing';
import { errorBody, errorHandler } from './errors';
import type { ApiMetrics } from './metrics';
import { swarmRoutes } from './routes/swarm';
import { tuningRoutes } from './routes/tuning';
import type { SwarmService } from './swarm-service';
import type { TuningService } from './tuning-service';
import type { BehaviorService } from './behavior-service';
import type { PoolService } from './pool-service';
import { poolRoutes } from './routes/pools';
import { behaviorRoutes, skillRoutes } from './routes/behaviors';
import { decisionRoutes } from './routes/decisions';
import type { DecisionService } from './decision-service';
import { analyticsRoutes } from './routes/analytics';
import type { AnalyticsService } from './analytics-service';
import { readinessResponse, type Readiness, type TemporalConnectionLike } from './health';
import { statusHandlers } from './routes/status';
import type { StatusService } from './status-service';
import { taskRoutes } from './routes/tasks';
import { governanceRoutes } from './routes/governance';
import type { GovernanceService } from './governance-service';
import type { TaskService } from './task-service';

export interface AppDeps {
  swarm: SwarmService;
  tuning: TuningService;
  behaviors: BehaviorService;
  decisions: DecisionService;
  /** A swarm's governance settings (its proposal threshold). */
  governance: GovernanceService;
  analytics: AnalyticsService;
  /** Task delegation routes; absent, /api/v1/tasks is not served. */
  tasks?: TaskService;
  pools: PoolService;
  metrics: ApiMetrics;
  /** The live status page (GET /) and its data (GET /api/v1/status). */
  status: StatusService;
  adminToken?: string;
  bodyLimit: string;
  /** What /readyz reports; without it the API is ready whenever it runs. */
  readiness?: () => Promise<Readiness>;
  /** Bounds the Temporal calls of each request: together they get deadlineMs, then fail (503). */
  temporal?: { connection: Pick<TemporalConnectionLike, 'withDeadline'>; deadlineMs: number };
}

export const OPENAPI_PATH = join(__dirname, 'openapi.yaml');

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Each path of the OpenAPI document, as a pattern, with the methods it declares. */
function declaredMethods(): Array<[RegExp, string[]]> {
  const paths = (parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, unknown>> }).paths;
  return Object.entries(paths).map(([path, item]) => {
    const methods = HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
    return [new RegExp(`^${pattern}/?$`), methods];
  });
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      deps.metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      deps.metrics.httpSeconds.observe({ route, method: req.method }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  });
  // Every body is read as JSON, whatever its Content-Type: `curl -d '{...}'` labels JSON
  // application/x-www-form-urlencoded, and a body the API then ignored would be blamed
  // for fields it does carry. No route takes another format, and auth is by bearer
  // token, never a cookie, so a browser's cross-site "simple" POST gains nothing.
  app.use(express.json({ limit: deps.bodyLimit, strict: true, type: () => true }));

  // A declared path asked with a method it does not declare is 405 with the
  // methods it does (HEAD wherever GET is: express answers it), not a 404.
  const declared = declaredMethods();
  app.use((req, res, next) => {
    // A path can match more than one template (/tuning/start and /tuning/{jobId}).
    const matching = declared.filter(([pattern]) => pattern.test(req.path));
    const allowed = [...new Set(matching.flatMap(([, methods]) => methods))];
    if (matching.length === 0 || allowed.includes(req.method)) {
      next();
      return;
    }
    res.setHeader('Allow', allowed.join(', '));
    res.status(405).json(errorBody('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; allowed: ${allowed.join(', ')}`));
  });

  if (deps.temporal) {
    const { connection, deadlineMs } = deps.temporal;
    // Every Temporal call made while handling the request (its continuations
    // included) runs under one deadline: an unreachable Temporal is a 503 within
    // deadlineMs, not a 500 after the client's 10 retries (20-30 s). A check that
    // sets its own deadline (/readyz) overrides it.
    app.use((_req, _res, next) => {
      void connection.withDeadline(Date.now() + deadlineMs, async () => next());
    });
  }

  app.use(credentialStanding((token) => deps.swarm.credentialRefusal(token)));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const { status, body } = readinessResponse((await deps.readiness?.()) ?? { status: 'ready', checks: {}, down: [] });
    res.status(status).json(body);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get('/api/v1/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(readFileSync(OPENAPI_PATH, 'utf8'));
  });
  const status = statusHandlers(deps.status);
  app.get('/', status.page);
  app.get('/api/v1/status', status.summary);
  app.use('/api/v1/swarm', swarmRoutes(deps.swarm, deps.adminToken));
  app.use('/api/v1/tuning', tuningRoutes(deps.tuning, deps.swarm, deps.adminToken));
  app.use('/api/v1/behaviors', behaviorRoutes(deps.behaviors, deps.swarm, deps.adminToken));
  app.use('/api/v1/skills', skillRoutes(deps.behaviors, deps.swarm, deps.adminToken));
  app.use('/api/v1', decisionRoutes(deps.decisions, deps.swarm, deps.adminToken));
  app.use('/api/v1/governance', governanceRoutes(deps.governance, deps.swarm, deps.adminToken));
  app.use('/api/v1/analytics', analyticsRoutes(deps.analytics, deps.swarm, deps.adminToken));
  if (deps.tasks) app.use('/api/v1/tasks', taskRoutes(deps.tasks, deps.swarm, deps.adminToken));
  app.use('/api/v1', poolRoutes(deps.pools, deps.swarm, deps.adminToken));

  app.use((req, res) => {
    res.status(404).json(errorBody('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler);
  return app;
}
