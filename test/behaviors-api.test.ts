// The behavior and skill routes, end to end on the embedded test stack: real
// Temporal dev server, real worker running behaviorSweep, real HTTP API,
// reference SDK agents. Every route, with good and bad input.
import { TestAgentKeys } from './support/agent-keys';
import { randomUUID } from 'node:crypto';
import { QpAgent } from '../agents/sdk';
import { SweepIdKey } from '../core/search-attributes';
import { swarmTopics } from '../core/topics';
import type { SweepReport } from '../core/behaviors/types';
import type { SkillSearchResult, SweepStarted, ReportPage } from '../api/behavior-service';
import { BEHAVIOR_SWEEP_WORKFLOW, behaviorSweepWorkflowId } from '../workflows/definitions';
import type { Embedded } from '../workers/embedded';
import { ADMIN_TOKEN, startTestEmbedded, uniqueId, waitFor } from './support/stack';

const DIMENSION = 4;

describe('behavior discovery REST API', () => {
  let stack: Embedded;
  const swarmId = uniqueId('bswarm');
  const otherSwarm = uniqueId('bother');
  const agents: QpAgent[] = [];
  let stranger: QpAgent;

  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const as = (agent: QpAgent) => ({ authorization: `Bearer ${agent.token}` });

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
    const res = await fetch(`${stack.api.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    return { status: res.status, body: json };
  }

  function agent(swarm: string): QpAgent {
    return new QpAgent({
      apiUrl: stack.api.url,
      messaging: stack.ports.messaging,
      agentId: uniqueId('ba'),
      swarmId: swarm,
      capabilities: ['explore'],
      resources: { cpu: 1, memoryMb: 512 },
      handshakeTimeoutMs: 10_000,
    });
  }

  async function sweep(swarm: string, parameters?: object): Promise<SweepReport> {
    const started = await call('POST', '/api/v1/behaviors/sweep', admin, { swarmId: swarm, ...(parameters ? { parameters } : {}) });
    expect(started.status).toBe(202);
    const { reportId } = started.body as SweepStarted;
    return waitFor(`report ${reportId}`, async () => {
      const res = await call('GET', `/api/v1/behaviors/reports/${reportId}`, admin);
      return res.status === 200 ? (res.body as SweepReport) : undefined;
    });
  }

  beforeAll(async () => {
    stack = await startTestEmbedded({
      QP_BEHAVIOR_DIMENSION: String(DIMENSION),
      QP_BEHAVIOR_DRAIN_IDLE_MS: '200',
      QP_BEHAVIOR_SWEEP_CRON: 'off',
    });
    for (let i = 0; i < 3; i++) agents.push(agent(swarmId));
    stranger = agent(otherSwarm);
    await Promise.all([...agents, stranger].map((a) => a.register()));
  });

  afterAll(async () => {
    await Promise.all([...agents, stranger].map((a) => a.close()));
    await stack?.stop();
  });

  describe('POST /api/v1/behaviors/reports', () => {
    it('an agent posts a report with its credential: 202, and the report is on its swarm topic under the manager\'s relay proof, without the credential', async () => {
      const listener = await stack.ports.messaging.subscribe(swarmTopics(otherSwarm).behaviors, 'api-test', {
        initialPosition: 'latest',
      });
      const res = await call('POST', '/api/v1/behaviors/reports', as(stranger), {
        episodeId: 'e1',
        descriptor: [0.1, 0.2, 0.3, 0.4],
        fitness: 0.7,
        context: { task: 'forage' },
      });

      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: true, behaviorId: `${stranger.agentId}:e1`, topic: swarmTopics(otherSwarm).behaviors });
      const message = await listener.receive(5000);
      const published = JSON.parse(Buffer.from(message!.payload).toString());
      expect(published).toMatchObject({
        type: 'behavior',
        agentId: stranger.agentId,
        swarmId: otherSwarm,
        episodeId: 'e1',
        fitness: 0.7,
        context: { task: 'forage' },
      });
      expect(typeof published.timestamp).toBe('number');
      expect(message!.properties).toMatchObject({ agentId: stranger.agentId, relay: 'manager' });
      expect(Buffer.from(message!.payload).toString() + JSON.stringify(message!.properties)).not.toContain(stranger.token!);
      await listener.close();
    });

    it.each([
      ['a descriptor of the wrong dimension', { episodeId: 'e', descriptor: [1, 2, 3], fitness: 1 }, 'descriptor'],
      ['a descriptor that overflows to infinity', '{"episodeId":"e","descriptor":[1,1e999,0,0],"fitness":1}', 'descriptor'],
      ['a string in the descriptor', { episodeId: 'e', descriptor: [1, '2', 3, 4], fitness: 1 }, 'descriptor.1'],
      ['no fitness', { episodeId: 'e', descriptor: [1, 2, 3, 4] }, 'fitness'],
      ['a bad episode id', { episodeId: 'bad id', descriptor: [1, 2, 3, 4], fitness: 1 }, 'episodeId'],
      ['an unknown field', { episodeId: 'e', descriptor: [1, 2, 3, 4], fitness: 1, agentId: 'someone-else' }, 'body'],
      ['a body that is not JSON', '{nope', 'body'],
    ])('refuses %s with 400 naming the field', async (_what, body, field) => {
      const res = await call('POST', '/api/v1/behaviors/reports', as(agents[0]), body);

      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_ARGUMENT', field });
    });

    it('needs an agent credential: none is 401, a forged one 401, the admin token 403', async () => {
      const body = { episodeId: 'e', descriptor: [1, 2, 3, 4], fitness: 1 };

      expect((await call('POST', '/api/v1/behaviors/reports', {}, body)).status).toBe(401);
      expect((await call('POST', '/api/v1/behaviors/reports', { authorization: 'Bearer qpc1.x.y' }, body)).status).toBe(401);
      expect((await call('POST', '/api/v1/behaviors/reports', admin, body)).status).toBe(403);
    });
  });

  describe('a sweep and its report', () => {
    let report: SweepReport;

    beforeAll(async () => {
      // Two agents discover the same thing (far from the rest), the third does the usual.
      for (let e = 0; e < 6; e++) {
        await agents[0].reportBehavior({ episodeId: `e${e}`, descriptor: [5 + 0.01 * e, 5, 5, 5], fitness: 0.9 });
        await agents[1].reportBehavior({ episodeId: `e${e}`, descriptor: [5, 5 + 0.01 * e, 5, 5], fitness: 0.9 }, { via: 'api' });
        for (let j = 0; j < 4; j++) {
          await agents[2].reportBehavior({ episodeId: `e${e}-${j}`, descriptor: [0.01 * j, 0.01 * e, 0, 0], fitness: 0.4 });
        }
      }
      // Refused by the sweep: another swarm's agent writing to this swarm's topic, and garbage.
      const topic = swarmTopics(swarmId).behaviors;
      const foreign = Buffer.from(JSON.stringify({ agentId: stranger.agentId, episodeId: 'x', descriptor: [0, 0, 0, 0], fitness: 1, timestamp: 1 }));
      await stack.ports.messaging.publish(topic, foreign, { properties: new TestAgentKeys([stranger.agentId]).sign(stranger.agentId, topic, foreign) });
      await stack.ports.messaging.publish(swarmTopics(swarmId).behaviors, Buffer.from('not json'));
      // k 15 (the default) > the 11 others of the discovered cluster: its members stay novel.
      report = await sweep(swarmId, { k: 15, minPts: 3 });
    });

    it('the sweep reports what it drained, refused, scored and found', () => {
      expect(report.swarmId).toBe(swarmId);
      expect(report.counts).toMatchObject({ received: 38, accepted: 36, rejected: 2, archive: 36 });
      expect(report.rejections).toEqual({ unknown_agent: 1, malformed: 1 });
      expect(report.parameters).toMatchObject({ metric: 'L2', dimension: DIMENSION, k: 15, minPts: 3 });
      expect(report.strategies).toHaveLength(1);
      expect(report.strategies[0]).toMatchObject({
        rank: 1,
        size: 12,
        agentCount: 2,
        agents: [agents[0].agentId, agents[1].agentId].sort(),
        disseminated: true,
      });
    });

    it('GET /behaviors/reports/:id is the same report for the admin and for agents of the swarm, 403 for others', async () => {
      expect((await call('GET', `/api/v1/behaviors/reports/${report.reportId}`, as(agents[2]))).body).toEqual(report);
      expect((await call('GET', `/api/v1/behaviors/reports/${report.reportId}`, as(stranger))).status).toBe(403);
    });

    it('GET /behaviors/reports/:id answers 404 for an unknown report and 400 for a malformed id', async () => {
      const unknown = await call('GET', '/api/v1/behaviors/reports/sweep-00000000-0000-4000-8000-000000000000', admin);
      const malformed = await call('GET', '/api/v1/behaviors/reports/not-a-report', admin);

      expect(unknown.status).toBe(404);
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.field).toBe('id');
    });

    it('GET /behaviors/latest is the newest report of the swarm; 404 for a swarm never swept', async () => {
      expect((await call('GET', `/api/v1/behaviors/latest?swarmId=${swarmId}`, admin)).body.reportId).toBe(report.reportId);
      expect((await call('GET', '/api/v1/behaviors/latest', as(agents[0]))).body.reportId).toBe(report.reportId);
      expect((await call('GET', `/api/v1/behaviors/latest?swarmId=${uniqueId('never')}`, admin)).status).toBe(404);
      expect((await call('GET', `/api/v1/behaviors/latest?swarmId=${swarmId}`, as(stranger))).status).toBe(403);
      expect((await call('GET', '/api/v1/behaviors/latest?swarm=x', admin)).status).toBe(400);
    });

    it('GET /behaviors/reports pages through summaries, newest first', async () => {
      const second = await sweep(swarmId); // nothing new to drain: an empty report
      expect(second.counts).toMatchObject({ received: 0, archive: 36 });

      const first = await call('GET', `/api/v1/behaviors/reports?swarmId=${swarmId}&limit=1`, admin);
      expect(first.status).toBe(200);
      const page = first.body as ReportPage;
      expect(page.reports.map((r) => r.reportId)).toEqual([second.reportId]);
      expect(page.nextCursor).toEqual(expect.any(String));
      const next = (await call('GET', `/api/v1/behaviors/reports?swarmId=${swarmId}&limit=1&cursor=${page.nextCursor}`, admin))
        .body as ReportPage;
      expect(next.reports.map((r) => r.reportId)).toEqual([report.reportId]);
      expect(next.reports[0].strategies[0]).toMatchObject({ rank: 1, size: 12, agentCount: 2, disseminated: true });

      const mine = (await call('GET', '/api/v1/behaviors/reports', as(agents[1]))).body as ReportPage;
      expect(mine.reports.map((r) => r.reportId)).toEqual([second.reportId, report.reportId]);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=many', 'limit'],
      ['swarmId=has%20space', 'swarmId'],
      ['sort=asc', 'query'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ])('GET /behaviors/reports?%s is answered 400 naming %s', async (query, field) => {
      const res = await call('GET', `/api/v1/behaviors/reports?${query}`, admin);

      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    });

    it('GET /behaviors/reports needs a token and keeps agents to their swarm', async () => {
      expect((await call('GET', '/api/v1/behaviors/reports')).status).toBe(401);
      expect((await call('GET', `/api/v1/behaviors/reports?swarmId=${swarmId}`, as(stranger))).status).toBe(403);
    });

    it('the disseminated strategy reached the agents of the swarm as a skill', async () => {
      const skills: string[] = [];
      const listener = agent(swarmId);
      await listener.register();
      await listener.onSkill((skill) => {
        skills.push(skill.skillId);
      });

      await waitFor('the skill', () => (skills.length > 0 ? skills : undefined));
      expect(skills).toEqual([report.strategies[0].strategyId]);
      await listener.close();
    });

    it('GET /skills/search finds the strategy from a behavior of it, or from a vector', async () => {
      const byBehavior = await call('GET', `/api/v1/skills/search?similarTo=${agents[0].agentId}:e3`, as(agents[0]));
      const byVector = await call('GET', `/api/v1/skills/search?swarmId=${swarmId}&vector=5,5,5,5&k=3`, admin);

      for (const res of [byBehavior, byVector]) {
        expect(res.status).toBe(200);
        const result = res.body as SkillSearchResult;
        expect(result.swarmId).toBe(swarmId);
        expect(result.skills).toHaveLength(1);
        expect(result.skills[0]).toMatchObject({
          skillId: report.strategies[0].strategyId,
          reportId: report.reportId,
          rank: 1,
          size: 12,
          agentCount: 2,
        });
        expect(result.skills[0].distance).toBeLessThan(0.01);
        expect(result.skills[0].descriptor).toHaveLength(DIMENSION);
      }
    });

    it('GET /skills/search: an unknown behavior is 404, a swarm without skills answers an empty list', async () => {
      expect((await call('GET', `/api/v1/skills/search?similarTo=${agents[0].agentId}:nope`, as(agents[0]))).status).toBe(404);
      const empty = await call('GET', '/api/v1/skills/search?vector=1,2,3,4', as(stranger));
      expect(empty.status).toBe(200);
      expect(empty.body).toEqual({ swarmId: otherSwarm, skills: [] });
    });

    it.each([
      ['both similarTo and vector', `similarTo=a:b&vector=1,2,3,4`, 'vector'],
      ['neither', 'k=3', 'similarTo'],
      ['a vector of the wrong dimension', 'vector=1,2', 'vector'],
      ['a vector that is not numbers', 'vector=1,two,3,4', 'vector'],
      ['k=0', 'vector=1,2,3,4&k=0', 'k'],
      ['an unknown parameter', 'vector=1,2,3,4&near=1', 'query'],
    ])('GET /skills/search with %s is answered 400 naming the field', async (_what, query, field) => {
      const res = await call('GET', `/api/v1/skills/search?${query}`, as(agents[0]));

      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    });

    it('GET /skills/search: the admin must name the swarm; agents only their own', async () => {
      expect((await call('GET', '/api/v1/skills/search?vector=1,2,3,4', admin)).body.error.field).toBe('swarmId');
      expect((await call('GET', `/api/v1/skills/search?swarmId=${swarmId}&vector=1,2,3,4`, as(stranger))).status).toBe(403);
      expect((await call('GET', '/api/v1/skills/search?vector=1,2,3,4')).status).toBe(401);
    });
  });

  describe('POST /api/v1/behaviors/sweep', () => {
    it('is for the admin only', async () => {
      expect((await call('POST', '/api/v1/behaviors/sweep', as(agents[0]), { swarmId })).status).toBe(403);
      expect((await call('POST', '/api/v1/behaviors/sweep', {}, { swarmId })).status).toBe(401);
    });

    it.each([
      [{}, 'swarmId'],
      [{ swarmId: 'has space' }, 'swarmId'],
      [{ swarmId: 'ok', parameters: { k: 0 } }, 'parameters.k'],
      [{ swarmId: 'ok', parameters: { eps: 'wide' } }, 'parameters.eps'],
      [{ swarmId: 'ok', parameters: { colour: 'red' } }, 'parameters'],
    ])('refuses %j with 400 naming %s', async (body, field) => {
      const res = await call('POST', '/api/v1/behaviors/sweep', admin, body);

      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    });

    it('a second sweep of a swarm while one runs is answered 409, and the running one has no report yet', async () => {
      const busy = uniqueId('busy');
      const reportId = `sweep-${randomUUID()}`;
      // A sweep on a task queue no worker polls stays running.
      const handle = await stack.client.workflow.start(BEHAVIOR_SWEEP_WORKFLOW, {
        workflowId: behaviorSweepWorkflowId(busy),
        taskQueue: uniqueId('nobody'),
        args: [{ swarmId: busy, reportId }],
        typedSearchAttributes: [{ key: SweepIdKey, value: reportId }],
      });

      const res = await call('POST', '/api/v1/behaviors/sweep', admin, { swarmId: busy });
      const report = await waitFor('the running sweep to be visible', async () => {
        const r = await call('GET', `/api/v1/behaviors/reports/${reportId}`, admin);
        return /still running/.test(String(r.body.error?.message)) ? r : undefined;
      });

      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
      expect(report.status).toBe(404);
      await handle.terminate();
    });
  });
});
