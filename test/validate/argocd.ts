// Folders as apply sets, and Argo CD Applications that sync them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatFinding, validateDir } from '../../validation';
import { checkApplications } from '../../validation/argocd';
import type { LoadedDoc } from '../../validation/util';

const VALID = path.join(__dirname, '..', 'fixtures', 'validate', 'valid');

const app = (
  name: string,
  source: Record<string, unknown>,
  server = 'https://kubernetes.default.svc',
  syncPolicy: Record<string, unknown> = { automated: { prune: true, selfHeal: true } },
): LoadedDoc => ({
  file: 'out/argocd/apps.yaml',
  index: 0,
  doc: {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: { project: 'default', source, destination: { server }, syncPolicy },
  },
});

const cm = (file: string, name: string, namespace = 'shop'): LoadedDoc => ({
  file,
  index: 0,
  doc: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace } },
});

const messages = (docs: LoadedDoc[], root = 'out'): string[] =>
  checkApplications(docs, root).map((f) => `${f.name}: ${f.message}`);

describe('checkApplications', () => {
  test('two Applications syncing the same object to one cluster', () => {
    expect(
      messages([
        app('a', { path: 'out/a' }),
        app('b', { path: 'out/b/' }),
        cm('out/a/x.yaml', 'shared'),
        cm('out/a/x.yaml', 'only-a'),
        cm('out/b/x.yaml', 'shared'),
      ]),
    ).toEqual([
      'b: syncs 1 of the objects Application "a" syncs to the same cluster (ConfigMap shop/shared); both sync automatically and would fight over them',
    ]);
  });

  test('a manually synced standby may share objects with an automated Application', () => {
    expect(
      messages([
        app('a', { path: 'out/a' }),
        app('b', { path: 'out/b' }, 'https://kubernetes.default.svc', {}),
        cm('out/a/x.yaml', 'shared'),
        cm('out/b/x.yaml', 'shared'),
      ]),
    ).toEqual([]);
  });

  test('disjoint folders, another cluster, or another namespace are fine', () => {
    expect(
      messages([
        app('a', { path: 'out/a' }),
        app('b', { path: 'out/b' }),
        cm('out/a/x.yaml', 'x'),
        cm('out/b/x.yaml', 'y'),
      ]),
    ).toEqual([]);
    expect(
      messages([
        app('a', { path: 'out/a' }),
        app('b', { path: 'out/b' }, 'https://staging.example'),
        cm('out/a/x.yaml', 'x'),
        cm('out/b/x.yaml', 'x'),
      ]),
    ).toEqual([]);
    expect(
      messages([
        app('a', { path: 'out/a' }),
        app('b', { path: 'out/b' }),
        cm('out/a/x.yaml', 'x'),
        cm('out/b/x.yaml', 'x', 'other'),
      ]),
    ).toEqual([]);
  });

  test('subfolders count only with directory.recurse', () => {
    const docs = [app('a', { path: 'out' }), app('b', { path: 'out/b' }), cm('out/b/x.yaml', 'x')];
    expect(messages(docs)).toEqual(['a: source.path "out" holds no manifests of the output']);
    docs[0] = app('a', { path: 'out', directory: { recurse: true } });
    expect(messages(docs)).toHaveLength(1);
    expect(messages(docs)[0]).toMatch(/^b: syncs 1 of the objects Application "a" syncs/);
  });

  test('a source.path inside the output without manifests; paths elsewhere are not judged', () => {
    expect(messages([app('a', { path: 'out/hardend' })])).toEqual([
      'a: source.path "out/hardend" holds no manifests of the output',
    ]);
    expect(messages([app('a', { path: 'charts/other' })])).toEqual([]);
  });
});

describe('folders are applied on their own', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-sets-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('two complete variants side by side are no duplicates', () => {
    for (const variant of ['a', 'b']) {
      fs.cpSync(path.join(VALID, 'shop'), path.join(tmp, 'out', variant), { recursive: true });
    }
    const r = validateDir(path.join(tmp, 'out'), tmp);
    expect(r.findings.map(formatFinding)).toEqual([]);
    expect([r.passed, r.failed]).toEqual([14, 0]);
  });

  test('a workload whose Namespace is in another folder', () => {
    fs.cpSync(VALID, path.join(tmp, 'out'), { recursive: true });
    fs.renameSync(
      path.join(tmp, 'out', 'shop', 'namespace.yaml'),
      path.join(tmp, 'out', 'namespace.yaml'),
    );
    const r = validateDir(path.join(tmp, 'out'), tmp);
    expect(r.findings.map(formatFinding)).toEqual([
      'out/shop/web.yaml#2 Deployment/web: namespace "shop" is not defined in out/shop/, so its Pod Security level is unknown',
    ]);
  });
});
