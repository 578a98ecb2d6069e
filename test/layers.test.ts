// The layer check must fail on the violations it exists for, not just pass.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');

function cruise(files: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qp-layers-'));
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16' } }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const roots = [...new Set(Object.keys(files).map((path) => path.split('/')[0]))];
  const run = spawnSync(DEPCRUISE, ['--config', '.dependency-cruiser.cjs', ...roots], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('layer rules', () => {
  it('the project itself has no violations', () => {
    expect(() =>
      execFileSync(DEPCRUISE, ['--config', '.dependency-cruiser.cjs', 'workflows', 'activities', 'core', 'adapters', 'api', 'workers', 'agents', 'bench'], {
        cwd: ROOT,
        stdio: 'pipe',
      }),
    ).not.toThrow();
  });

  it('a workflow that imports a Node built-in fails the check', () => {
    const result = cruise({ 'workflows/bad.ts': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n" });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('workflow-imports-node-builtin');
  });

  it('a workflow that imports an adapter fails the check', () => {
    const result = cruise({
      'adapters/memory/thing.ts': 'export const thing = 1;\n',
      'workflows/bad.ts': "import { thing } from '../adapters/memory/thing';\nexport const x = thing;\n",
    });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('workflow-imports-outside-its-layer');
  });

  it('an adapter that imports an activity (to reach a port declared there) fails the check', () => {
    const result = cruise({
      'activities/tuning.ts': 'export interface AgentDirectory { listActive(): string[] }\n',
      'adapters/temporal/directory.ts':
        "import type { AgentDirectory } from '../../activities/tuning';\nexport const d: AgentDirectory = { listActive: () => [] };\n",
    });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('adapter-imports-activities');
  });

  it('an adapter may import workflow definitions but not workflow code', () => {
    const files = {
      'workflows/definitions.ts': "export const REGISTRATION_WORKFLOW = 'registerAgent';\n",
      'workflows/liveness.ts': 'export interface LivenessMonitorInput { swarmId: string }\n',
    };
    const allowed = cruise({
      ...files,
      'adapters/temporal/ok.ts': "import { REGISTRATION_WORKFLOW } from '../../workflows/definitions';\nexport const x = REGISTRATION_WORKFLOW;\n",
    });
    expect(allowed.output).not.toContain('adapter-imports-workflow-code');
    expect(allowed.status).toBe(0);
    const forbidden = cruise({
      ...files,
      'adapters/temporal/bad.ts':
        "import type { LivenessMonitorInput } from '../../workflows/liveness';\nexport const x: LivenessMonitorInput = { swarmId: 's' };\n",
    });
    expect(forbidden.status).not.toBe(0);
    expect(forbidden.output).toContain('adapter-imports-workflow-code');
  });

  it('a port that imports an adapter fails the check', () => {
    const result = cruise({
      'adapters/memory/blobs.ts': 'export class MemoryBlobStore {}\n',
      'adapters/ports/blobs.ts': "import { MemoryBlobStore } from '../memory/blobs';\nexport type B = MemoryBlobStore;\n",
    });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('port-imports-implementation');
  });

  it('core/ that does I/O fails the check', () => {
    const result = cruise({ 'core/bad.ts': "import { createServer } from 'node:http';\nexport const x = createServer;\n" });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('core-does-io');
  });
});
