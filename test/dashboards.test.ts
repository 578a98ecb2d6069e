// Dashboards as code: the committed JSON is what infra/grafana/build.ts builds,
// every panel queries the provisioned datasource, and the provisioning files agree.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { buildDashboards, DASHBOARDS_DIR, DATASOURCE, dashboardJson } from '../infra/grafana/build';
import { dashboardExpressions } from './support/promql';

const PROVISIONING = join(__dirname, '..', 'infra/grafana/provisioning');

describe('Grafana dashboards (infra/grafana)', () => {
  const built = buildDashboards();

  it('builds the four dashboards: swarm overview, federated rounds, scheduling and energy, behaviours', () => {
    expect(Object.keys(built).sort()).toEqual(['behaviors.json', 'federated-rounds.json', 'scheduling-energy.json', 'swarm-overview.json']);
  });

  it.each(Object.keys(built))('%s as committed is what npm run build:dashboards builds (else: run it and commit)', (file) => {
    expect(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')).toBe(dashboardJson(built[file]));
  });

  it('no committed dashboard is left over from an older build', () => {
    expect(readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(built).sort());
  });

  it('every panel queries the provisioned Prometheus datasource, with unique dashboard uids', () => {
    const datasources = parseYaml(readFileSync(join(PROVISIONING, 'datasources/qp-manager.yml'), 'utf8')) as {
      datasources: { uid: string; type: string }[];
    };
    expect(datasources.datasources).toContainEqual(expect.objectContaining(DATASOURCE));
    const uids = Object.values(built).map((d) => (d as { uid: string }).uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const d of Object.values(built) as { panels: { type: string; datasource?: unknown; targets?: { datasource?: unknown }[] }[] }[]) {
      for (const panel of d.panels.filter((p) => p.type !== 'row')) {
        expect(panel.datasource).toEqual(DATASOURCE);
        for (const target of panel.targets ?? []) expect(target.datasource).toEqual(DATASOURCE);
      }
    }
    expect(dashboardExpressions().length).toBeGreaterThan(40);
  });

  it('the dashboards provider is a file provider', () => {
    const providers = parseYaml(readFileSync(join(PROVISIONING, 'dashboards/qp-manager.yml'), 'utf8')) as { providers: { type: string }[] };
    expect(providers.providers[0].type).toBe('file');
  });
});
