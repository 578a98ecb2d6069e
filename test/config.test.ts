import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, configSchema, parseConfig, taskQueues } from '../core/config';

describe('configuration', () => {
  it('defaults to the embedded stack on a local Temporal', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'qp-manager',
      QP_API_PORT: 8080,
      QP_MESSAGING: 'memory',
      QP_VECTORS: 'memory',
      QP_CLUSTER: 'local',
    });
  });

  it.each([
    ['QP_API_PORT', '70000'],
    ['QP_API_PORT', 'eighty'],
    ['TEMPORAL_ADDRESS', 'no-port'],
    ['QP_MESSAGING', 'kafka'],
    ['QP_ADMIN_TOKEN', 'short'],
    ['QP_HANDSHAKE_TIMEOUT_MS', '-5'],
    ['QP_PULSAR_TRANSPORT', 'grpc'],
    ['QP_SHUTDOWN_GRACE_MS', 'soon'],
    ['QP_METRICS_PORT', '-1'],
  ])('a bad %s (%s) stops start-up with a message naming it', (variable, value) => {
    expect(() => parseConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ [variable]: value })).toThrow(new RegExp(`${variable}:`));
  });

  it('names every bad variable at once', () => {
    try {
      parseConfig({ QP_API_PORT: 'x', QP_MESSAGING: 'y' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['QP_API_PORT', 'QP_MESSAGING']);
    }
  });

  it('pulsar messaging needs the service URL', () => {
    expect(() => parseConfig({ QP_MESSAGING: 'pulsar' })).toThrow(/PULSAR_SERVICE_URL: required/);
    expect(parseConfig({ QP_MESSAGING: 'pulsar', PULSAR_SERVICE_URL: 'pulsar://127.0.0.1:6650' }).QP_MESSAGING).toBe(
      'pulsar',
    );
  });

  it('the native Pulsar transport needs a pulsar:// service URL and the admin URL', () => {
    try {
      parseConfig({ QP_MESSAGING: 'pulsar', QP_PULSAR_TRANSPORT: 'native', PULSAR_SERVICE_URL: 'ws://127.0.0.1:8090' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['PULSAR_ADMIN_URL', 'PULSAR_SERVICE_URL']);
    }
  });

  it('an empty variable counts as unset', () => {
    expect(parseConfig({ QP_API_PORT: '' }).QP_API_PORT).toBe(8080);
  });

  it('registration and tuning get task queues of their own, derived from QP_TASK_QUEUE unless set; a worker polls all three unless told', () => {
    const derived = parseConfig({ QP_TASK_QUEUE: 'q1' });
    expect(taskQueues(derived)).toEqual({ general: 'q1', registration: 'q1-registration', tuning: 'q1-tuning' });
    expect(derived.QP_WORKER_ROLES).toEqual(['general', 'registration', 'tuning']);
    const explicit = parseConfig({ QP_TASK_QUEUE: 'q1', QP_REGISTRATION_TASK_QUEUE: 'sessions', QP_TUNING_TASK_QUEUE: 'jobs', QP_WORKER_ROLES: 'tuning,tuning' });
    expect(taskQueues(explicit)).toEqual({ general: 'q1', registration: 'sessions', tuning: 'jobs' });
    expect(explicit.QP_WORKER_ROLES).toEqual(['tuning']);
    expect(() => parseConfig({ QP_WORKER_ROLES: 'general,training' })).toThrow(/QP_WORKER_ROLES:/);
  });

  it("the README's configuration table documents every variable of the schema, and nothing else", () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
    const documented = new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])),
    );
    expect([...documented].sort()).toEqual(Object.keys(configSchema.shape).sort());
  });
});
