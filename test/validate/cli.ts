// The command line on copies of the valid fixture output with one thing
// broken at a time: in-process through runValidate (what scripts/validate.ts
// runs), and end to end as `node scripts/run-ts.js scripts/validate.ts [dir]`
// where the process itself matters (its exit status, stdout and stderr).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runValidate } from '../../validation/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const VALID = path.join(__dirname, '..', 'fixtures', 'validate', 'valid');
const RUN_TS = path.join(ROOT, 'scripts', 'run-ts.js');
const CLI = path.join(ROOT, 'scripts', 'validate.ts');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-cli-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Copies the valid output to <tmp>/<dir>, then replaces `from` with `to` in one file. */
function output(dir: string, edit?: { file: string; from: string; to: string }): void {
  fs.cpSync(VALID, path.join(tmp, dir), { recursive: true });
  if (!edit) return;
  const file = path.join(tmp, dir, edit.file);
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes(edit.from))
    throw new Error(`${edit.file} has no ${JSON.stringify(edit.from)}`);
  fs.writeFileSync(file, text.replace(edit.from, edit.to));
}

interface CliRun {
  status: number | null;
  lines: string[];
  stderr: string;
  ms: number;
}

/** Runs the CLI as its own process in <tmp>, so that file names print relative to it. */
function validateProcess(...args: string[]): CliRun {
  const start = Date.now();
  const r = spawnSync(process.execPath, [RUN_TS, CLI, ...args], { cwd: tmp, encoding: 'utf8' });
  return {
    status: r.status,
    lines: r.stdout.split('\n').filter((l) => l !== ''),
    stderr: r.stderr,
    ms: Date.now() - start,
  };
}

/** The same command line in this process: a real CLI spawn costs about 0.5 s of CPU. */
function validate(...args: string[]): CliRun {
  const start = Date.now();
  let stdout = '';
  let stderr = '';
  const status = runValidate(args, {
    cwd: tmp,
    out: (text) => (stdout += text),
    err: (text) => (stderr += text),
  });
  return {
    status,
    lines: stdout.split('\n').filter((l) => l !== ''),
    stderr,
    ms: Date.now() - start,
  };
}

const IMAGE = '          image: ghcr.io/example/web:1.4.2\n';

test('the valid output passes', () => {
  output('out');
  const r = validateProcess('out');
  expect(r.stderr).toBe('');
  expect(r.lines).toEqual(['9 passed, 0 failed']);
  expect(r.status).toBe(0);
  process.stdout.write(`validate on 9 documents: ${r.ms} ms (bundling included)\n`);
  expect(r.ms).toBeLessThan(5000); // a sanity bound; the report measures the real figure
});

test('dist/ is the default folder, searched recursively', () => {
  output('dist', { file: 'shop/web.yaml', from: IMAGE, to: IMAGE.replace(':1.4.2', ':latest') });
  const r = validate();
  expect(r.lines).toEqual([
    'dist/shop/web.yaml#2 Deployment/web: container "app" image "ghcr.io/example/web:latest" uses the mutable tag "latest"; pin a version or a digest',
    '8 passed, 1 failed',
  ]);
  expect(r.status).toBe(1);
});

test('done when: an unknown field fails', () => {
  output('out', {
    file: 'shop/web.yaml',
    from: IMAGE,
    to: `${IMAGE}          imagePolicy: Always\n`,
  });
  const r = validate('out');
  expect(r.lines).toEqual([
    'out/shop/web.yaml#2 Deployment/web: unknown field "spec.template.spec.containers[0].imagePolicy"',
    '8 passed, 1 failed',
  ]);
  expect(r.status).toBe(1);
});

test('done when: a root container in a restricted namespace fails', () => {
  output('out', {
    file: 'shop/web.yaml',
    from: '            allowPrivilegeEscalation: false\n',
    to: '            allowPrivilegeEscalation: false\n            runAsUser: 0\n',
  });
  const r = validate('out');
  expect(r.lines).toEqual([
    'out/shop/web.yaml#2 Deployment/web: violates PodSecurity "restricted:latest": runAsUser=0 (container "app" must not set runAsUser=0)',
    '8 passed, 1 failed',
  ]);
  expect(r.status).toBe(1);
});

test('done when: a Service selecting nothing fails', () => {
  output('out', {
    file: 'shop/web.yaml',
    from: 'spec:\n  selector:\n    app.kubernetes.io/name: web\n',
    to: 'spec:\n  selector:\n    app.kubernetes.io/name: api\n',
  });
  const r = validate('out');
  expect(r.lines).toEqual([
    'out/shop/web.yaml#3 Service/web: selector app.kubernetes.io/name=api matches no pod template in namespace "shop"',
    '8 passed, 1 failed',
  ]);
  expect(r.status).toBe(1);
});

test('several findings: one line each, grouped by document, counted once per document', () => {
  output('out', {
    file: 'shop/web.yaml',
    from: '      serviceAccountName: web\n',
    to: '      serviceAccountName: worker\n      hostNetwork: true\n      dnsPolicyy: Default\n',
  });
  const r = validate('out');
  expect(r.lines).toEqual([
    'out/shop/web.yaml#2 Deployment/web: unknown field "spec.template.spec.dnsPolicyy"',
    'out/shop/web.yaml#2 Deployment/web: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true)',
    'out/shop/web.yaml#2 Deployment/web: serviceAccountName: ServiceAccount "worker" is not defined in namespace "shop"',
    '8 passed, 1 failed',
  ]);
});

test('a document that is not YAML', () => {
  output('out');
  fs.writeFileSync(path.join(tmp, 'out', 'broken.yaml'), 'apiVersion: v1\nkind: [ConfigMap\n');
  const r = validate('out');
  expect(r.lines[0]).toMatch(/^out\/broken\.yaml#0 \?\/\?: YAML: /);
  expect(r.lines.at(-1)).toBe('9 passed, 1 failed');
  expect(r.status).toBe(1);
});

test('no documents is a failure', () => {
  fs.mkdirSync(path.join(tmp, 'empty'));
  const r = validate('empty');
  expect(r.lines).toEqual(['validate: no YAML documents under empty', '0 passed, 0 failed']);
  expect(r.status).toBe(1);
});

test('--flows prints every declared connection and its verdict before the findings', () => {
  output('out', {
    file: 'shop/network-policy.yaml',
    from: '        - port: 53\n          protocol: UDP\n',
    to: '',
  });
  const r = validate('--flows', 'out');
  const web = 'out/shop/web.yaml#2 Deployment/web:';
  expect(r.lines).toEqual([
    `${web} flow kube-system/{app.kubernetes.io/name=traefik} -> shop/web TCP/8000 (http): allowed (egress: not in this folder; ingress: NetworkPolicy/web) [requests from the ingress controller]`,
    `${web} flow shop/web -> kube-system/{k8s-app=kube-dns} UDP/53: DENIED (egress: DENIED, isolated by NetworkPolicy/default-deny, NetworkPolicy/web and no rule allows it; ingress: not in this folder) [DNS]`,
    `${web} flow shop/web -> kube-system/{k8s-app=kube-dns} TCP/53: allowed (egress: NetworkPolicy/web; ingress: not in this folder) [DNS]`,
    `${web} needed connection shop/web -> kube-system/{k8s-app=kube-dns} UDP/53 (DNS) is denied: egress: DENIED, isolated by NetworkPolicy/default-deny, NetworkPolicy/web and no rule allows it`,
    '8 passed, 1 failed',
  ]);
  expect(r.status).toBe(1);
});

test('bad usage', () => {
  expect(validateProcess('missing')).toMatchObject({
    status: 2,
    stderr: 'validate: missing is not a directory\n',
  });
  expect(validate('--flow')).toMatchObject({
    status: 2,
    stderr: 'usage: validate [--flows] [dir]   (default: dist)\n',
  });
  expect(validate('a', 'b')).toMatchObject({
    status: 2,
    stderr: 'usage: validate [--flows] [dir]   (default: dist)\n',
  });
});
