// Every PromQL expression the project ships: alert rules and dashboard panels.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

const ROOT = join(__dirname, '..', '..');

export interface ShippedExpression {
  /** Where it comes from: `rule QpAgentsLost` or `dashboard qp-swarm-overview: Agents by status`. */
  source: string;
  kind: 'alert' | 'dashboard';
  expr: string;
}

export function alertExpressions(): ShippedExpression[] {
  const dir = join(ROOT, 'infra/prometheus/rules');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) =>
      (parseYaml(readFileSync(join(dir, f), 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] }).groups.flatMap(
        (g) => g.rules.map((r) => ({ source: `rule ${r.alert ?? r.record}`, kind: 'alert' as const, expr: r.expr.trim() })),
      ),
    );
}

export function dashboardExpressions(): ShippedExpression[] {
  const dir = join(ROOT, 'infra/grafana/dashboards');
  if (!existsSync(dir)) return [];
  const found: ShippedExpression[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { uid: string; panels?: Panel[] };
    const visit = (panels: Panel[] = []) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (target.expr) {
            found.push({ source: `dashboard ${dashboard.uid}: ${panel.title} [${target.refId}]`, kind: 'dashboard', expr: target.expr });
          }
        }
        visit(panel.panels);
      }
    };
    visit(dashboard.panels);
  }
  return found;
}

interface Panel {
  title?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}

/** Grafana's macros as Prometheus would see them from a dashboard: a range of a few scrapes. */
export function withoutGrafanaMacros(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '1m');
}

/** The metric names an expression selects (qp_manager_*, temporal_*, up). */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  return [...new Set(withoutStrings.match(/\b(qp_manager_[a-z0-9_]+|temporal_[a-z0-9_]+|up)\b(?=\s*[{[)]|\s*$|\s)/g) ?? [])];
}
