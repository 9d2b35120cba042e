import { Chart, Testing } from 'cdk8s';
import { cluster } from '../../config';
import {
  ArgoCdProject,
  ArgoCdProjectProps,
  SecurityMode,
  SophiaChart,
  SyncMode,
  SYNC_WAVE_ANNOTATION,
} from '../../lib';
import { K8sObject, findOne, quietStderr } from '../helpers';

quietStderr();

function variantCharts() {
  return [SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG].map((mode) => ({
    mode,
    chart: new SophiaChart(Testing.app(), 'sophia', { mode, cluster }),
  }));
}

function synthProject(overrides: Partial<ArgoCdProjectProps> = {}): K8sObject[] {
  const chart = new Chart(Testing.app(), 'argocd');
  new ArgoCdProject(chart, 'sophia', {
    name: 'sophia',
    repoURL: 'https://example.com/sophia-manifests.git',
    revision: 'main',
    applications: variantCharts().map(({ mode, chart: manifests }) => ({
      name: `sophia-${mode}`,
      path: `dist/${mode}`,
      sync: mode === SecurityMode.HARDENED ? SyncMode.AUTOMATED : SyncMode.MANUAL,
      manifests,
    })),
    ...overrides,
  });
  return Testing.synth(chart) as K8sObject[];
}

describe('ArgoCdProject', () => {
  test('hardened syncs automatically with prune and selfHeal; root-debug only by hand', () => {
    const objects = synthProject();
    const hardened = findOne(objects, 'Application', 'sophia-hardened');
    expect(hardened.spec.source).toEqual({
      repoURL: 'https://example.com/sophia-manifests.git',
      targetRevision: 'main',
      path: 'dist/hardened',
    });
    expect(hardened.spec.syncPolicy).toEqual({
      automated: { prune: true, selfHeal: true },
      syncOptions: ['ServerSideApply=true'],
    });
    const rootDebug = findOne(objects, 'Application', 'sophia-root-debug');
    expect(rootDebug.spec.source.path).toBe('dist/root-debug');
    expect(rootDebug.spec.syncPolicy.automated).toBeUndefined();
    expect(rootDebug.spec.syncPolicy.syncOptions).toEqual(['ServerSideApply=true']);
    for (const app of [hardened, rootDebug]) {
      expect(app.metadata.namespace).toBe('argocd');
      expect(app.spec.project).toBe('sophia');
    }
  });

  test('the AppProject allows exactly the namespaces and kinds the variants contain', () => {
    const project = findOne(synthProject(), 'AppProject', 'sophia');
    expect(project.spec.sourceRepos).toEqual(['https://example.com/sophia-manifests.git']);
    expect(project.spec.destinations).toEqual([
      { namespace: 'nvidia-device-plugin', server: 'https://kubernetes.default.svc' },
      { namespace: 'sophia-ai-prod', server: 'https://kubernetes.default.svc' },
    ]);
    const kinds = (list: { group: string; kind: string }[]) =>
      list.map((k) => `${k.group}/${k.kind}`);
    expect(kinds(project.spec.clusterResourceWhitelist)).toContain('/Namespace');
    expect(kinds(project.spec.namespaceResourceWhitelist)).toEqual(
      expect.arrayContaining([
        '/ConfigMap',
        '/Service',
        'apps/Deployment',
        'policy/PodDisruptionBudget',
      ]),
    );
    expect(kinds(project.spec.namespaceResourceWhitelist)).not.toContain('/Namespace');
  });

  test('Namespaces go in an earlier sync wave than workloads', () => {
    const objects = Testing.synth(variantCharts()[0].chart) as K8sObject[];
    expect(
      findOne(objects, 'Namespace', 'sophia-ai-prod').metadata.annotations[SYNC_WAVE_ANNOTATION],
    ).toBe('-2');
    expect(
      findOne(objects, 'Deployment', 'sophia-backend').metadata.annotations?.[SYNC_WAVE_ANNOTATION],
    ).toBeUndefined();
  });

  test.each([
    [{ repoURL: 'not a url' }, /argocd\/sophia: invalid repoURL "not a url": a git URL/],
    [{ revision: 'main; rm' }, /invalid revision "main; rm": a branch, tag or commit/],
    [{ applications: [] }, /invalid applications \[\]: at least one application/],
  ])('fails when %p', (overrides, message) => {
    expect(() => synthProject(overrides as Partial<ArgoCdProjectProps>)).toThrow(message);
  });

  test('rejects an application path outside the repository', () => {
    const manifests = new Chart(Testing.app(), 'x');
    expect(() =>
      synthProject({
        applications: [{ name: 'x', path: '../etc', sync: SyncMode.MANUAL, manifests }],
      }),
    ).toThrow(/invalid applications\[\].path "..\/etc"/);
  });
});
