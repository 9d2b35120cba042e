// cdk8s.yaml's import list: every entry resolves on any machine that has the
// reference data (../shared, or SHARED_DIR), and `npm run import` regenerates
// imports/ from it byte for byte. The regeneration runs the real cdk8s-cli
// (about 1.5 s) into a temporary folder, so the repo's imports/ stays as is.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse, parseAllDocuments } from 'yaml';
// The preload's own lookups, so that the test checks the paths `cdk8s import`
// will read. Loaded here, it patches only this suite's copy of cdk8s-cli.
import { k8sSchemaFile, localSource } from '../../scripts/offline-schemas';
import { tempDirs } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.SHARED_DIR ?? path.join(ROOT, '..', 'shared');
const present = fs.existsSync(SHARED);
const tmpDir = tempDirs();

const config = parse(fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'), 'utf8')) as {
  imports?: unknown;
};
const imports = config.imports as string[];

const K8S = /^k8s@(\d+\.\d+\.\d+)$/;

describe('cdk8s.yaml imports', () => {
  test('are the k8s version and CRD files under ../shared, nothing machine-specific', () => {
    expect(Array.isArray(imports)).toBe(true);
    expect(imports.filter((i) => K8S.test(i))).toEqual(['k8s@1.28.0']);
    for (const source of imports.filter((i) => !K8S.test(i))) {
      // A path in a temporary folder, or any absolute one, exists on one machine only.
      expect({ source, portable: /^\.\.\/shared\/crds\/[\w./-]+\.yaml$/.test(source) }).toEqual({
        source,
        portable: true,
      });
    }
    expect(new Set(imports).size).toBe(imports.length);
  });

  (present ? test : test.skip)(
    `each resolves: the schema the preload reads, CRD files (${present ? SHARED : 'skipped: ../shared is absent'})`,
    () => {
      for (const source of imports) {
        const k8s = K8S.exec(source);
        const file = k8s
          ? k8sSchemaFile(k8s[1])
          : process.env.SHARED_DIR === undefined
            ? path.resolve(ROOT, source)
            : localSource(source);
        expect({ source, file, exists: fs.existsSync(file) }).toEqual({
          source,
          file,
          exists: true,
        });
        if (k8s) continue;
        const kinds = parseAllDocuments(fs.readFileSync(file, 'utf8')).map(
          (doc) => (doc.toJS() as { kind?: string } | null)?.kind,
        );
        expect({ source, kinds: [...new Set(kinds.filter(Boolean))] }).toEqual({
          source,
          kinds: ['CustomResourceDefinition'],
        });
      }
    },
  );

  (present ? test : test.skip)(
    'npm run import reproduces imports/ byte for byte, and leaves cdk8s.yaml alone',
    async () => {
      const out = path.join(tmpDir('imports-'), 'imports');
      const before = fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'), 'utf8');
      const run = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn('sh', ['scripts/import.sh', out], {
          cwd: ROOT,
          env: { ...process.env, SHARED_DIR: SHARED },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, output }));
      });
      expect({ code: run.code, output: run.output }).toEqual({
        code: 0,
        output: expect.any(String),
      });
      const produced = fs.readdirSync(out).sort();
      const committed = fs
        .readdirSync(path.join(ROOT, 'imports'))
        .filter((f) => f.endsWith('.ts'))
        .sort();
      expect(produced).toEqual(committed);
      for (const file of produced) {
        const same = fs
          .readFileSync(path.join(out, file))
          .equals(fs.readFileSync(path.join(ROOT, 'imports', file)));
        expect({ file, same }).toEqual({ file, same: true });
      }
      expect(fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'), 'utf8')).toBe(before);
    },
    30_000,
  );
});
