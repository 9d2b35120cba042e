import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { AtomicOutput } from '../../lib';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every file below `dir`, by relative path, with its bytes. */
function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else files.set(rel, fs.readFileSync(path.join(dir, rel)));
    }
  };
  walk('');
  return files;
}

function synthInto(outdir: string): void {
  execFileSync(process.execPath, ['scripts/run-ts.js', 'main.ts'], {
    cwd: ROOT,
    env: { ...process.env, CDK8S_OUTDIR: outdir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

describe('npm run synth', () => {
  // Two synths, each into <work>/<n>/dist (k3s/ lands beside it), shared by the
  // tests below: a synth is a process start and the whole app, about half a second.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-'));
  const dist = (n: string) => path.join(work, n, 'dist');
  beforeAll(() => {
    synthInto(dist('one'));
    synthInto(dist('two'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('two synths give byte-identical output, and the committed dist/ and k3s/ are what synth produces', () => {
    for (const folder of ['dist', 'k3s']) {
      const a = readTree(path.join(work, 'one', folder));
      const b = readTree(path.join(work, 'two', folder));
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [file, bytes] of a) expect(bytes.equals(b.get(file)!)).toBe(true);

      const committed = readTree(path.join(ROOT, folder));
      expect([...committed.keys()].sort()).toEqual([...a.keys()].sort());
      for (const [file, bytes] of a) {
        if (!bytes.equals(committed.get(file)!))
          throw new Error(`${folder}/${file} is stale: run \`npm run synth\` and commit it`);
      }
    }
  });

  test('dist/ holds both variants, monitoring, argocd and only Kubernetes manifests', () => {
    const files = [...readTree(dist('one')).keys()];
    expect(files.every((f) => f.endsWith('.yaml'))).toBe(true);
    expect(files.some((f) => f.startsWith('hardened/'))).toBe(true);
    expect(files.some((f) => f.startsWith('root-debug/'))).toBe(true);
    expect(files.some((f) => f.startsWith('argocd/'))).toBe(true);
    expect(files.some((f) => f.startsWith('monitoring/'))).toBe(true);
  });

  test('k3s/ holds one YAML file per node and no token value', () => {
    const files = readTree(path.join(work, 'one', 'k3s'));
    expect([...files.keys()].sort()).toEqual(
      [
        'data-pipeline',
        'development',
        'mcp-orchestrator',
        'production-services',
        'sophia-primary',
      ].map((node) => `${node}.yaml`),
    );
    for (const [file, bytes] of files) {
      const config = YAML.parse(bytes.toString('utf8'));
      expect(config['node-name']).toBe(file.replace(/\.yaml$/, ''));
      expect(Object.keys(config)).not.toContain('token');
    }
  });
});

describe('AtomicOutput', () => {
  test('a failed build leaves the previous output untouched and no staging folder behind', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
    const target = path.join(parent, 'dist');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'old.yaml'), 'kind: Old\n');

    const output = new AtomicOutput(target);
    expect(() =>
      output.run(() => {
        fs.mkdirSync(output.path('hardened'), { recursive: true });
        fs.writeFileSync(output.path('hardened', 'half.yaml'), 'kind: Half\n');
        throw new Error('bad prop');
      }),
    ).toThrow('bad prop');
    expect(fs.readdirSync(parent)).toEqual(['dist']);
    expect(fs.readdirSync(target)).toEqual(['old.yaml']);

    output.run(() => {
      fs.mkdirSync(output.path('hardened'), { recursive: true });
      fs.writeFileSync(output.path('hardened', 'new.yaml'), 'kind: New\n');
    });
    expect(fs.readdirSync(parent)).toEqual(['dist']);
    expect(fs.readdirSync(target)).toEqual(['hardened']);
  });
});
