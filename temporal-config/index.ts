/**
 * Temporal configuration as code: the namespace, custom search attributes and
 * dynamic config that QP-Manager expects, loaded from the JSON/YAML files next
 * to this module. One source of truth for the code, the tests and
 * infra/local/stack.sh (which runs this file with tsx; see `main` below).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

export type SearchAttributeType =
  | 'Text'
  | 'Keyword'
  | 'Int'
  | 'Double'
  | 'Bool'
  | 'Datetime'
  | 'KeywordList';

export interface NamespaceConfig {
  name: string;
  retentionDays: number;
  description: string;
}

const SEARCH_ATTRIBUTE_TYPES: readonly SearchAttributeType[] = [
  'Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList',
];
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function readConfigFile(name: string): string {
  return fs.readFileSync(path.join(__dirname, name), 'utf8');
}

function loadNamespace(): NamespaceConfig {
  const raw = JSON.parse(readConfigFile('namespace.json')) as Partial<NamespaceConfig>;
  if (typeof raw.name !== 'string' || raw.name === '') throw new Error('namespace.json: "name" must be a non-empty string');
  if (typeof raw.retentionDays !== 'number' || !Number.isInteger(raw.retentionDays) || raw.retentionDays < 1) {
    throw new Error('namespace.json: "retentionDays" must be an integer >= 1');
  }
  return { name: raw.name, retentionDays: raw.retentionDays, description: raw.description ?? '' };
}

function loadSearchAttributes(): Record<string, SearchAttributeType> {
  const raw = JSON.parse(readConfigFile('search-attributes.json')) as Record<string, unknown>;
  for (const [key, type] of Object.entries(raw)) {
    if (!IDENTIFIER.test(key)) throw new Error(`search-attributes.json: invalid name ${JSON.stringify(key)}`);
    if (!SEARCH_ATTRIBUTE_TYPES.includes(type as SearchAttributeType)) {
      throw new Error(`search-attributes.json: ${key} has unknown type ${JSON.stringify(type)}`);
    }
  }
  return raw as Record<string, SearchAttributeType>;
}

/** Global dynamic config values (key -> value). Constrained entries are rejected: start-dev can't express them. */
function loadDynamicConfig(): Record<string, unknown> {
  const doc = (parseYaml(readConfigFile('dynamic-config.yaml')) ?? {}) as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  for (const [key, entries] of Object.entries(doc)) {
    if (!Array.isArray(entries) || entries.length !== 1) {
      throw new Error(`dynamic-config.yaml: ${key} must have exactly one { value, constraints: {} } entry`);
    }
    const entry = entries[0] as { value?: unknown; constraints?: Record<string, unknown> };
    if (entry.value === undefined) throw new Error(`dynamic-config.yaml: ${key} has no value`);
    if (entry.constraints && Object.keys(entry.constraints).length > 0) {
      throw new Error(`dynamic-config.yaml: ${key} has constraints; only global values are supported`);
    }
    values[key] = entry.value;
  }
  return values;
}

export const namespaceConfig: NamespaceConfig = loadNamespace();
export const namespace: string = namespaceConfig.name;
export const searchAttributes: Record<string, SearchAttributeType> = loadSearchAttributes();
export const dynamicConfig: Record<string, unknown> = loadDynamicConfig();

/** Extra args for `temporal server start-dev` (CLI 1.x) that apply this config. */
export function devServerArgs(): string[] {
  return [
    '--namespace', namespace,
    ...Object.entries(searchAttributes).flatMap(([key, type]) => ['--search-attribute', `${key}=${type}`]),
    ...Object.entries(dynamicConfig).flatMap(([key, value]) => [
      '--dynamic-config-value', `${key}=${JSON.stringify(value)}`,
    ]),
  ];
}

/** `tsx temporal-config/index.ts` prints everything as one JSON object (used by infra/local/stack.sh). */
if (require.main === module) {
  process.stdout.write(
    JSON.stringify({ namespace: namespaceConfig, searchAttributes, dynamicConfig, devServerArgs: devServerArgs() }) + '\n',
  );
}
