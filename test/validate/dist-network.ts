// Planted faults in a copy of the committed dist/: the reachability check
// must name the connection a broken NetworkPolicy cuts, and fail.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as YAML from 'yaml';
import { formatFinding, parseYaml, yamlFiles } from '../../validation';
import { runValidate } from '../../validation/cli';
import { checkNetwork } from '../../validation/flows';

const ROOT = path.resolve(__dirname, '..', '..');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-net-'));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(tmp, 'dist'), { recursive: true });
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Edits the parsed documents of one dist file in place (real YAML in, real YAML out). */
function edit(file: string, change: (docs: YAML.Document[]) => YAML.Document[]): void {
  const full = path.join(tmp, 'dist', file);
  const docs = YAML.parseAllDocuments(fs.readFileSync(full, 'utf8')) as YAML.Document[];
  fs.writeFileSync(
    full,
    change(docs)
      .map((d) => d.toString({ lineWidth: 0 }))
      .join(''),
  );
}

const named = (kind: string, namespace: string, name: string) => (d: YAML.Document) =>
  d.get('kind') === kind &&
  d.getIn(['metadata', 'namespace']) === namespace &&
  d.getIn(['metadata', 'name']) === name;

/** `<file>#<doc> <Kind>/<name>:` of an object of the (edited) copy, as findings print it. */
function at(file: string, kind: string, name: string): string {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(tmp, 'dist', file), 'utf8'));
  const index = docs.findIndex(named(kind, 'sophia-ai-prod', name));
  expect(index).toBeGreaterThanOrEqual(0);
  return `dist/${file}#${index} ${kind}/${name}:`;
}

/** The network check of each variant folder (the CLI runs it with the other checks). */
function network(): { lines: string[]; flows: number } {
  const result = { lines: [] as string[], flows: 0 };
  for (const variant of ['hardened', 'root-debug']) {
    const docs = yamlFiles(path.join(tmp, 'dist', variant)).flatMap(
      (file) => parseYaml(path.relative(tmp, file), fs.readFileSync(file, 'utf8')).docs,
    );
    const { findings, flows } = checkNetwork(docs);
    result.lines.push(...findings.map(formatFinding));
    result.flows += flows.length;
  }
  return result;
}

test('the copy of dist/ passes as committed', () => {
  expect(network()).toEqual({ lines: [], flows: 22 });
});

test('planted: the backend loses its DNS egress; validate names both flows and fails', () => {
  edit('hardened/sophia.k8s.yaml', (docs) => {
    const policy = docs.find(named('NetworkPolicy', 'sophia-ai-prod', 'sophia-backend'))!;
    const egress = policy.getIn(['spec', 'egress']) as YAML.YAMLSeq;
    const dns = egress.items.findIndex((rule) => JSON.stringify(rule).includes('kube-dns'));
    expect(dns).toBeGreaterThanOrEqual(0);
    egress.delete(dns);
    return docs;
  });
  // The whole command (in this process; test/validate/cli.ts runs it as a process).
  let stdout = '';
  const status = runValidate([], {
    cwd: tmp,
    out: (t) => (stdout += t),
    err: (t) => (stdout += t),
  });
  const out = stdout.trim().split('\n');
  const denied = out.filter((l) => l.includes('needed connection'));
  expect(denied).toEqual(
    ['UDP', 'TCP'].map(
      (protocol) =>
        `${at('hardened/sophia.k8s.yaml', 'Deployment', 'sophia-backend')} needed connection sophia-ai-prod/sophia-backend -> kube-system/{k8s-app=kube-dns} ${protocol}/53 (DNS lookups) is denied: egress: DENIED, isolated by NetworkPolicy/default-deny, NetworkPolicy/sophia-backend and no rule allows it`,
    ),
  );
  expect(out.at(-1)).toMatch(/^\d+ passed, 1 failed$/);
  expect(status).toBe(1);
});

test('planted: the backend no longer admits its monitor; the monitor flow is denied on ingress', () => {
  edit('root-debug/sophia.k8s.yaml', (docs) => {
    const policy = docs.find(named('NetworkPolicy', 'sophia-ai-prod', 'sophia-backend'))!;
    const ingress = policy.getIn(['spec', 'ingress']) as YAML.YAMLSeq;
    ingress.delete(ingress.items.findIndex((rule) => JSON.stringify(rule).includes('monitor')));
    return docs;
  });
  expect(network().lines).toEqual([
    `${at('root-debug/sophia.k8s.yaml', 'Deployment', 'sophia-backend-monitor')} needed connection sophia-ai-prod/sophia-backend-monitor -> sophia-ai-prod/sophia-backend TCP/8000 (health checks) is denied: ingress: DENIED, isolated by NetworkPolicy/default-deny, NetworkPolicy/sophia-backend and no rule allows it`,
  ]);
});

test('planted: the device plugin namespace without its default deny', () => {
  edit('hardened/sophia.k8s.yaml', (docs) =>
    docs.filter((d) => !named('NetworkPolicy', 'nvidia-device-plugin', 'default-deny')(d)),
  );
  expect(network().lines).toEqual([
    expect.stringMatching(
      /^dist\/hardened\/sophia\.k8s\.yaml#\d+ Namespace\/nvidia-device-plugin: namespace "nvidia-device-plugin" runs pods but has no default-deny NetworkPolicy for Ingress and Egress /,
    ),
  ]);
});
