/**
 * `npm run deploy` against a fake Kubernetes API server (test/fake-kube-api):
 * healthy deploys, a crash loop that fails fast, is explained from the
 * previous log and rolled back, an image that cannot be pulled, a variant
 * switch that prunes, and a dry run that changes nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import {
  deploy,
  releaseStatus,
  requestsMade,
  undocumented,
  withCluster,
  writes,
} from '../deploy-helpers';
import type { FakeCluster, Obj, PodBehaviour } from '../fake-kube-api';

/** How many objects dist/<variant>/ holds: what the command dry-runs and applies. */
function objectCount(variant: string): number {
  const dir = path.join(__dirname, '..', '..', 'dist', variant);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')))
    .filter((d) => d.contents !== null).length;
}

const NS = 'sophia-ai-prod';

const TRACEBACK = [
  '[app] starting python /app-source/app.py as root from the read-only ConfigMap mount',
  'Traceback (most recent call last):',
  '  File "/app-source/app.py", line 14, in <module>',
  '    from fastapi import FastAPI  # noqa: E402',
  "ModuleNotFoundError: No module named 'fastapi'",
];

const variantOf = (w: Obj): string | undefined =>
  w.spec?.template?.metadata?.annotations?.['manifests.sophia.ai/security-mode'];

/** The root-debug backend crashes at start; everything else becomes ready. */
const rootDebugCrashes = (w: Obj): PodBehaviour =>
  variantOf(w) === 'root-debug'
    ? { kind: 'crashLoop', log: TRACEBACK, afterMs: 40 }
    : { kind: 'ready', afterMs: 30 };

/** Waits until the fake's controllers stopped writing (50 ms without a change). */
async function settled(cluster: FakeCluster): Promise<void> {
  for (let last = -1; last !== cluster.store.resourceVersion();) {
    last = cluster.store.resourceVersion();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('npm run deploy', () => {
  test.concurrent('a healthy deploy applies, waits, verifies and records revision 1', () =>
    withCluster({}, async (cluster) => {
      const run = await deploy(cluster, ['--variant', 'hardened']);
      expect(run.code).toBe(0);
      expect(run.last).toMatch(/^DEPLOYED hardened as revision 1 in \d/);
      // Every line is a timed step, a detail under one, or the last line.
      for (const line of run.lines.slice(0, -1))
        expect(line).toMatch(/^(\[ {0,4}\d+\.\ds\] | {9})/);
      expect(run.output).toContain(
        'live: Deployment sophia-ai-prod/sophia-backend does not exist yet',
      );
      expect(run.output).toContain('argo cd: the argoproj.io API is not served');
      expect(run.output).toContain(
        `dry run: all accepted: ${objectCount('hardened')} to be created`,
      );
      expect(run.output).toMatch(
        /wait: Deployment sophia-ai-prod\/sophia-backend: rolled out, 2 of 2 available/,
      );
      expect(run.output).toMatch(
        /wait: DaemonSet nvidia-device-plugin\/nvidia-device-plugin: no node matches/,
      );
      expect(run.output).toMatch(
        /verify: GET \/api\/v1\/namespaces\/sophia-ai-prod\/services\/sophia-backend:http\/proxy\/health -> 200 in \d+ ms: \{"status":"ok"\}/,
      );

      // Server-side apply with our field manager, every object dry-run first.
      const backend = cluster.get('Deployment', NS, 'sophia-backend') as Obj;
      expect(
        (backend.metadata.managedFields ?? []).map((m: { manager: string }) => m.manager),
      ).toContain('sophia-manifests');
      expect(backend.metadata.annotations?.['manifests.sophia.ai/security-mode']).toBe('hardened');
      const firstWrite = cluster.requests.findIndex((r) => writes(cluster).includes(r));
      const dryRuns = cluster.requests.filter(
        (r) => r.startsWith('PATCH ') && r.includes('dryRun=All'),
      );
      expect(dryRuns).toHaveLength(objectCount('hardened'));
      expect(cluster.requests.slice(firstWrite).some((r) => r.includes('dryRun=All'))).toBe(false);
      for (const r of writes(cluster).filter((w) => w.startsWith('PATCH '))) {
        expect(r).toMatch(/fieldManager=sophia-manifests&force=true/);
      }
      // Namespaces and the RuntimeClass before anything in them, workloads last.
      const applied = writes(cluster)
        .filter((r) => r.startsWith('PATCH '))
        .map((r) => r.split('?')[0]);
      const index = (s: string) => applied.findIndex((r) => r.includes(s));
      expect(index('/namespaces/sophia-ai-prod')).toBeLessThan(index('/configmaps/'));
      expect(index('/runtimeclasses/nvidia')).toBeLessThan(index('/roles/'));
      expect(index('/roles/')).toBeLessThan(index('/services/'));
      expect(index('/services/')).toBeLessThan(index('/deployments/'));

      // The release record: a Secret in the app's namespace.
      const records = cluster.list('Secret', NS);
      expect(records.map((s) => s.metadata.name)).toEqual(['sophia-manifests.release.v1']);
      expect(records[0].type).toBe('manifests.sophia.ai/release.v1');
      expect(records[0].metadata.labels?.['manifests.sophia.ai/release-status']).toBe('deployed');

      // Deploying the same again changes nothing but the record.
      const again = await deploy(cluster, ['--variant', 'hardened']);
      expect(again.code).toBe(0);
      expect(again.output).toContain(
        'live: Deployment sophia-ai-prod/sophia-backend runs hardened; it stays hardened',
      );
      expect(again.output).toMatch(
        new RegExp(
          `dry run: all accepted: 0 unchanged|dry run: all accepted: ${objectCount('hardened')} unchanged`,
        ),
      );
      expect(again.last).toMatch(/^DEPLOYED hardened as revision 2/);
    }),
  );

  test.concurrent(
    'a crash loop fails fast, shows the traceback from the previous log and rolls back',
    () =>
      withCluster({ behaviour: rootDebugCrashes }, async (cluster) => {
        expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
        let diagnosedAt = 0;
        const run = await deploy(cluster, ['--variant', 'root-debug', '--timeout', '60'], {
          onLine: (line) => {
            if (line.includes('ModuleNotFoundError') && !diagnosedAt) diagnosedAt = Date.now();
          },
        });
        expect(run.code).toBe(1);
        expect(run.output).toContain('this switches it from hardened to root-debug');
        expect(run.output).toMatch(
          /rollout failed: pod sophia-backend-\w+-\w+: container app: CrashLoopBackOff$/m,
        );
        // The explanation: pod, containers, events, the previous instance's log.
        expect(run.output).toMatch(
          /pod sophia-backend-\w+-\w+: Running \(CrashLoopBackOff\), ready 0\/1, restarts 1/,
        );
        expect(run.output).toMatch(
          /container app: waiting CrashLoopBackOff .*; last terminated Error \(exit code 1\); 1 restarts/,
        );
        expect(run.output).toMatch(
          /BackOff pod\/sophia-backend-\w+-\w+: Back-off restarting failed container app/,
        );
        expect(run.output).toMatch(
          /previous log of pod sophia-backend-\w+-\w+, container app \(last 20 lines\):/,
        );
        for (const line of TRACEBACK) expect(run.lines).toContain(`           | ${line}`);
        expect(
          cluster.requests.some((r) =>
            /\/pods\/sophia-backend-[^/]+\/log\?.*previous=true/.test(r),
          ),
        ).toBe(true);
        // Fail fast: seconds, not the 60 s timeout; diagnosis right after the API showed it.
        const shown = cluster.timeline.find((t) => t.what === 'CrashLoopBackOff');
        expect(shown).toBeDefined();
        expect(diagnosedAt - (shown?.at ?? 0)).toBeLessThan(2000);
        // Rolled back: hardened runs again, the PDB root-debug pruned is back.
        expect(run.output).toContain('rollback: re-applying revision 1 (hardened)');
        expect(run.output).toContain(
          'rolled back to revision 1 (hardened), recorded as revision 3',
        );
        expect(run.last).toMatch(
          /^FAILED revision 2 \(root-debug\): pod .*CrashLoopBackOff.*; rolled back to revision 1 \(hardened\)$/,
        );
        const backend = cluster.get('Deployment', NS, 'sophia-backend') as Obj;
        expect(backend.metadata.annotations?.['manifests.sophia.ai/security-mode']).toBe(
          'hardened',
        );
        expect(cluster.get('PodDisruptionBudget', NS, 'sophia-backend')).toBeDefined();
        const statuses = Object.fromEntries(
          cluster
            .list('Secret', NS)
            .map((s) => [
              s.metadata.name,
              s.metadata.labels?.['manifests.sophia.ai/release-status'],
            ]),
        );
        expect(statuses).toEqual({
          'sophia-manifests.release.v1': 'superseded',
          'sophia-manifests.release.v2': 'rolled-back',
          'sophia-manifests.release.v3': 'deployed',
        });
      }),
  );

  test.concurrent(
    'an image that cannot be pulled fails fast; a first release has nothing to roll back to',
    () =>
      withCluster(
        {
          behaviour: (w) =>
            w.metadata.name === 'sophia-backend'
              ? { kind: 'imagePullError', afterMs: 20 }
              : { kind: 'ready' },
        },
        async (cluster) => {
          const run = await deploy(cluster, ['--variant', 'hardened', '--timeout', '60']);
          expect(run.code).toBe(1);
          expect(run.output).toMatch(
            /rollout failed: pod sophia-backend-\w+-\w+: init container install: (ErrImagePull|ImagePullBackOff)/,
          );
          expect(run.output).toMatch(
            /init container install: waiting (ErrImagePull|ImagePullBackOff)/,
          );
          expect(run.output).toMatch(
            /Failed pod\/sophia-backend-\w+-\w+: Failed to pull image "python:3.11-slim"/,
          );
          expect(run.output).toContain('no container of the new revision ran: no log');
          expect(run.last).toMatch(
            /^FAILED revision 1 \(hardened\): .*; nothing to roll back to \(no earlier successful release\)$/,
          );
          expect(releaseStatus(cluster, 'sophia-manifests.release.v1')).toBe('failed');
        },
      ),
  );

  test.concurrent('pods that never get scheduled: ProgressDeadlineExceeded stops the wait', () =>
    withCluster(
      {
        behaviour: (w) =>
          w.metadata.name === 'sophia-backend' ? { kind: 'unschedulable' } : { kind: 'ready' },
        progressDeadlineMs: () => 300,
      },
      async (cluster) => {
        const run = await deploy(cluster, ['--variant', 'hardened', '--timeout', '60']);
        expect(run.code).toBe(1);
        expect(run.output).toMatch(
          /rollout failed: ProgressDeadlineExceeded: ReplicaSet "sophia-backend-\w+" has timed out progressing\./,
        );
        expect(run.output).toMatch(
          /pod sophia-backend-\w+-\w+: Pending \(Pending\), ready 0\/1, restarts 0/,
        );
        expect(run.output).toContain(
          'not scheduled: Unschedulable 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.',
        );
        expect(run.output).toMatch(
          /FailedScheduling pod\/sophia-backend-\w+-\w+: 0\/1 nodes are available/,
        );
      },
    ),
  );

  test.concurrent(
    'a variant switch prunes the PDB only hardened has and keeps the Namespaces',
    () =>
      withCluster({}, async (cluster) => {
        expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
        expect(cluster.get('PodDisruptionBudget', NS, 'sophia-backend')).toBeDefined();
        const run = await deploy(cluster, ['--variant', 'root-debug']);
        expect(run.code).toBe(0);
        expect(run.output).toContain('this switches it from hardened to root-debug');
        expect(run.output).toMatch(
          /prune: 1 object deleted, 0 kept\n\s+deleted\s+PodDisruptionBudget sophia-ai-prod\/sophia-backend/,
        );
        expect(cluster.get('PodDisruptionBudget', NS, 'sophia-backend')).toBeUndefined();
        const namespace = cluster.get('Namespace', undefined, NS) as Obj;
        expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('baseline');
        const backend = cluster.get('Deployment', NS, 'sophia-backend') as Obj;
        expect(backend.spec.replicas).toBe(1);
        expect(run.last).toMatch(/^DEPLOYED root-debug as revision 2/);
      }),
  );

  test.concurrent(
    'a dry run reports created, changed, unchanged and pruned objects and changes nothing',
    () =>
      withCluster({}, async (cluster) => {
        expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
        await settled(cluster); // the controllers' last status writes
        const before = cluster.store.resourceVersion();
        const requestsBefore = cluster.requests.length;
        const run = await deploy(cluster, ['--variant', 'root-debug', '--dry-run']);
        expect(run.code).toBe(0);
        expect(run.output).toMatch(/ {9}changed {3}Deployment sophia-ai-prod\/sophia-backend/);
        expect(run.output).toMatch(/ {9}changed {3}Namespace sophia-ai-prod/);
        expect(run.output).toMatch(/ {9}unchanged ConfigMap sophia-ai-prod\/sophia-backend-source/);
        expect(run.output).toMatch(
          / {9}would be pruned PodDisruptionBudget sophia-ai-prod\/sophia-backend/,
        );
        expect(run.last).toBe(
          `DRY RUN root-debug: 2 to be changed, ${objectCount('root-debug') - 2} unchanged, 1 would be pruned; nothing was changed`,
        );
        expect(writes({ ...cluster, requests: cluster.requests.slice(requestsBefore) })).toEqual(
          [],
        );
        expect(cluster.store.resourceVersion()).toBe(before);
        // And on an empty cluster: everything is to be created, in namespaces that do not exist yet.
        await withCluster({}, async (empty) => {
          const fresh = await deploy(empty, ['--variant', 'root-debug', '--dry-run']);
          expect(fresh.code).toBe(0);
          expect(fresh.last).toBe(
            `DRY RUN root-debug: ${objectCount('root-debug')} to be created, 0 unchanged; nothing was changed`,
          );
          expect(empty.list('Namespace')).toEqual([]);
        });
      }),
  );

  test.concurrent('a 403 on one object in the dry run stops the deploy with nothing applied', () =>
    withCluster(
      { forbidden: [{ verb: 'patch', resource: 'poddisruptionbudgets' }] },
      async (cluster) => {
        const run = await deploy(cluster, ['--variant', 'hardened']);
        expect(run.code).toBe(2);
        expect(run.output).toContain(
          'PATCH (server-side apply) dryRun=All PodDisruptionBudget sophia-ai-prod/sophia-backend: 403 Forbidden: poddisruptionbudgets.policy "sophia-backend" is forbidden: User "deployer" cannot patch resource "poddisruptionbudgets" in API group "policy" in the namespace "sophia-ai-prod"',
        );
        expect(run.last).toBe(
          'FAILED (nothing was changed): the API server rejected 1 request in the dry run',
        );
        expect(writes(cluster)).toEqual([]);
        expect(cluster.list('Namespace')).toEqual([]);
      },
    ),
  );
});

// Every request the command made is in docs/deploy.md's list of API calls.
afterAll(() => {
  expect(requestsMade.length).toBeGreaterThan(0);
  expect(undocumented(requestsMade)).toEqual([]);
});
