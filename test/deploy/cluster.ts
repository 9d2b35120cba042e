/**
 * `npm run deploy` and its surroundings: the kubeconfig as kubectl finds it,
 * an unreachable or silent server, Argo CD automation, release history and
 * rollbacks, Jobs replaced, a failed health check, bad arguments and folders.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments, stringify } from 'yaml';
import { Kube, loadKubeConfig } from '../../deploy/kube';
import { ReleaseStore } from '../../deploy/release';
import {
  FAST_TIMING,
  ROOT,
  deploy,
  releaseStatus,
  requestsMade,
  undocumented,
  withCluster,
  writes,
} from '../deploy-helpers';
import { freePort } from '../helpers';
import type { Obj } from '../fake-kube-api';

const NS = 'sophia-ai-prod';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-test-'));
}

function kubeconfigFor(server: string): { kubeconfig: () => string } {
  const file = path.join(tempDir(), 'config');
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  return { kubeconfig: () => file };
}

/** A copy of dist/<variant> with its documents passed through `edit` (return undefined to drop one). */
function editedCopy(variant: string, edit: (doc: Obj) => Obj | undefined): string {
  const dir = tempDir();
  const source = fs.readFileSync(path.join(ROOT, 'dist', variant, 'sophia.k8s.yaml'), 'utf8');
  const docs = parseAllDocuments(source)
    .map((d) => edit(d.toJS() as Obj))
    .filter((d): d is Obj => d !== undefined);
  fs.writeFileSync(path.join(dir, 'sophia.k8s.yaml'), docs.map((d) => stringify(d)).join('---\n'));
  return dir;
}

describe('npm run deploy: cluster access', () => {
  test.concurrent('an unreachable server: exit 2 at once, naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const start = Date.now();
    const run = await deploy(kubeconfigFor(url), ['--variant', 'hardened']);
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      new RegExp(
        `^FAILED \\(nothing was changed\\): cannot reach the API server at ${url}: .*ECONNREFUSED`,
      ),
    );
    expect(Date.now() - start).toBeLessThan(5000);
  });

  test.concurrent('no kubeconfig at all: exit 2, saying so (not localhost:8080)', async () => {
    const run = await deploy(kubeconfigFor('http://127.0.0.1:1'), ['--variant', 'hardened'], {
      env: { HOME: '/nonexistent' },
    });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /^FAILED \(nothing was changed\): .*no kubeconfig: KUBECONFIG is not set and ~\/\.kube\/config does not exist/,
    );
  });

  test.concurrent(
    'a TLS error and a server that never answers: exit 2, naming the URL',
    async () => {
      // An https:// URL on a plain-http port: the TLS handshake fails.
      await withCluster({}, async (cluster) => {
        const url = cluster.url.replace('http://', 'https://');
        const run = await deploy(kubeconfigFor(url), ['--history']);
        expect(run.code).toBe(2);
        expect(run.last).toContain(`cannot reach the API server at ${url}: `);
      });
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
        const { main } = await import('../../deploy/main');
        const lines: string[] = [];
        const start = Date.now();
        const code = await main({
          argv: ['--history'],
          env: { KUBECONFIG: kubeconfigFor(url).kubeconfig() },
          cwd: ROOT,
          root: ROOT,
          out: (l) => lines.push(l),
          timing: { ...FAST_TIMING, requestTimeoutMs: 300 },
        });
        expect(code).toBe(2);
        expect(lines[lines.length - 1]).toBe(
          `FAILED (nothing was changed): cannot reach the API server at ${url}: no answer (request timed out)`,
        );
        expect(Date.now() - start).toBeLessThan(3000);
      } finally {
        silent.close();
      }
    },
  );

  test.concurrent(
    'the kubeconfig as kubectl finds it: KUBECONFIG lists, --context, exec credentials, ~/.kube/config',
    () =>
      withCluster({ tokens: ['from-exec', 'static'] }, async (cluster) => {
        const dir = tempDir();
        const first = path.join(dir, 'first.yaml');
        const second = path.join(dir, 'second.yaml');
        const dead = `http://127.0.0.1:${await freePort()}`;
        const credential = JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          kind: 'ExecCredential',
          status: { token: 'from-exec' },
        });
        fs.writeFileSync(
          first,
          stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'dead', cluster: { server: dead } }],
            users: [{ name: 'nobody', user: { token: 'wrong' } }],
            contexts: [{ name: 'dead', context: { cluster: 'dead', user: 'nobody' } }],
            'current-context': 'dead',
          }),
        );
        fs.writeFileSync(
          second,
          stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'fake', cluster: { server: cluster.url } }],
            users: [
              {
                name: 'exec-user',
                user: {
                  exec: {
                    apiVersion: 'client.authentication.k8s.io/v1beta1',
                    command: 'sh',
                    args: ['-c', `printf '%s' '${credential}'`],
                    interactiveMode: 'Never',
                  },
                },
              },
            ],
            contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'exec-user' } }],
          }),
        );
        const env = { KUBECONFIG: [first, second].join(path.delimiter), HOME: '/nonexistent' };
        // The first file's current context wins, as with kubectl.
        const current = await deploy(cluster, ['--history'], { env });
        expect(current.code).toBe(2);
        expect(current.last).toContain(`cannot reach the API server at ${dead}`);
        // --context picks the second file's context; its exec plugin supplies the token.
        const picked = await deploy(cluster, ['--history', '--context', 'fake'], { env });
        expect(picked.code).toBe(0);
        expect(picked.output).toContain(`cluster: v1.28.5+k3s1 at ${cluster.url} (context fake)`);
        expect(picked.last).toBe('no release recorded in namespace sophia-ai-prod');
        const unknown = await deploy(cluster, ['--history', '--context', 'nope'], { env });
        expect(unknown.code).toBe(2);
        expect(unknown.last).toContain('context "nope" is not in KUBECONFIG=');
        // Without KUBECONFIG: ~/.kube/config, here with a static token.
        const home = tempDir();
        fs.mkdirSync(path.join(home, '.kube'));
        const config = fs.readFileSync(cluster.kubeconfig({ token: 'static' }), 'utf8');
        fs.writeFileSync(path.join(home, '.kube', 'config'), config);
        const fromHome = await deploy(cluster, ['--history'], { env: { HOME: home } });
        expect(fromHome.code).toBe(0);
        // A wrong token: the server's 401 stops it before anything happens.
        const denied = await deploy(cluster, ['--variant', 'hardened'], {
          env: { KUBECONFIG: cluster.kubeconfig({ token: 'bad' }) },
        });
        expect(denied.code).toBe(2);
        expect(denied.last).toContain('answered GET /version with 401 Unauthorized');
        expect(writes(cluster)).toEqual([]);
      }),
  );
});

describe('npm run deploy: Argo CD', () => {
  const application = (name: string, automated: boolean, namespace?: string): Obj => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: {
      project: 'sophia',
      destination: {
        server: 'https://kubernetes.default.svc',
        ...(namespace ? { namespace } : {}),
      },
      source: {
        repoURL: 'https://github.com/sophia-ai/sophia-manifests.git',
        path: `dist/${name}`,
        targetRevision: 'main',
      },
      syncPolicy: automated ? { automated: { prune: true, selfHeal: true } } : {},
    },
    status: {
      resources: [{ kind: 'Deployment', name: 'sophia-backend', namespace: namespace ?? NS }],
    },
  });

  test.concurrent(
    'an automated Application over the namespace refuses the deploy unless --ignore-argocd',
    () =>
      withCluster({ argoCd: true }, async (cluster) => {
        const apps = cluster.resource('Application');
        cluster.store.put(apps, application('sophia-hardened', true));
        cluster.store.put(apps, application('sophia-root-debug', false));
        cluster.store.put(apps, application('elsewhere', true, 'monitoring'));
        const run = await deploy(cluster, ['--variant', 'root-debug']);
        expect(run.code).toBe(2);
        expect(run.lines).toContain('           argocd app set sophia-hardened --sync-policy none');
        expect(run.lines).toContain(
          '           argocd app set sophia-hardened --sync-policy automated --auto-prune --self-heal   # afterwards',
        );
        expect(run.output).not.toContain('elsewhere');
        expect(run.last).toBe(
          'FAILED (nothing was changed): Argo CD Application sophia-hardened syncs nvidia-device-plugin, sophia-ai-prod automatically and would revert this deploy: pause it (argocd app set sophia-hardened --sync-policy none) or pass --ignore-argocd',
        );
        expect(writes(cluster)).toEqual([]);
        const dry = await deploy(cluster, ['--variant', 'root-debug', '--dry-run']);
        expect(dry.code).toBe(0);
        expect(dry.output).toContain(
          'note: a real deploy would be refused: Argo CD Application sophia-hardened',
        );
        const forced = await deploy(cluster, ['--variant', 'root-debug', '--ignore-argocd']);
        expect(forced.code).toBe(0);
        expect(forced.output).toContain('--ignore-argocd: deploying anyway');
      }),
  );
});

describe('npm run deploy: history and rollback', () => {
  test.concurrent(
    '--history lists revisions newest first; --rollback [--to N] re-applies a recorded release',
    () =>
      withCluster({}, async (cluster) => {
        const empty = await deploy(cluster, ['--rollback']);
        expect(empty.code).toBe(2);
        expect(empty.last).toBe(
          'FAILED (nothing was changed): no release to roll back to in namespace sophia-ai-prod',
        );
        expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
        expect((await deploy(cluster, ['--variant', 'root-debug'])).code).toBe(0);
        const history = await deploy(cluster, ['--history']);
        expect(history.code).toBe(0);
        const rows = history.lines.filter((l) => l.startsWith('revision '));
        expect(rows).toHaveLength(2);
        expect(rows[0]).toMatch(
          /^revision 2 {4}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}deployed {5}root-debug {2}[0-9a-f]{12}(\+dirty)? +deploy dist\/root-debug$/,
        );
        expect(rows[1]).toMatch(/^revision 1 .* superseded +hardened /);

        const back = await deploy(cluster, ['--rollback']);
        expect(back.code).toBe(0);
        expect(back.output).toContain(
          'rollback: to revision 1 (hardened, superseded, from dist/hardened',
        );
        expect(back.output).toContain('this switches it from root-debug to hardened');
        expect(back.last).toMatch(/^DEPLOYED hardened as revision 3 in /);
        expect(cluster.get('PodDisruptionBudget', NS, 'sophia-backend')).toBeDefined();
        const to2 = await deploy(cluster, ['--rollback', '--to', '2']);
        expect(to2.last).toMatch(/^DEPLOYED root-debug as revision 4 in /);
        expect(cluster.get('PodDisruptionBudget', NS, 'sophia-backend')).toBeUndefined();
        const missing = await deploy(cluster, ['--rollback', '--to', '9']);
        expect(missing.code).toBe(2);
        expect(missing.last).toBe(
          'FAILED (nothing was changed): revision 9 is not recorded in namespace sophia-ai-prod (recorded: 4, 3, 2, 1)',
        );
        const after = (await deploy(cluster, ['--history'])).lines.filter((l) =>
          l.startsWith('revision '),
        );
        expect(after.map((l) => l.split(/\s{2,}/)[2])).toEqual([
          'deployed',
          'superseded',
          'superseded',
          'superseded',
        ]);
        expect(after[0]).toMatch(/rollback to revision 2$/);

        // Only the newest 10 revisions are kept: six more recorded, then one more deploy.
        const releases = new ReleaseStore(
          new Kube(loadKubeConfig({ KUBECONFIG: cluster.kubeconfig() }), 3000),
          NS,
        );
        const [latest] = await releases.list();
        for (let revision = 5; revision <= 10; revision++) {
          await releases.create({ ...latest, revision, status: 'superseded', objects: [] });
        }
        expect((await deploy(cluster, ['--variant', 'root-debug'])).last).toMatch(
          /^DEPLOYED root-debug as revision 11 /,
        );
        const kept = cluster
          .list('Secret', NS)
          .map((s) => Number(s.metadata.name.replace(/.*\.v/, '')));
        expect(kept.sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      }),
  );

  test.concurrent(
    'Ctrl-C while waiting records the release as failed; a deploy still pending blocks another',
    () =>
      withCluster(
        {
          behaviour: (w) =>
            w.metadata.name === 'sophia-backend' ? { kind: 'unschedulable' } : { kind: 'ready' },
        },
        async (cluster) => {
          const controller = new AbortController();
          const run = await deploy(cluster, ['--variant', 'hardened', '--timeout', '60'], {
            signal: controller.signal,
            onLine: (line) => {
              if (line.includes('wait: 3 workloads')) setTimeout(() => controller.abort(), 50);
            },
          });
          expect(run.code).toBe(1);
          expect(run.last).toBe('FAILED revision 1 (hardened): interrupted; not rolled back');
          expect(releaseStatus(cluster, 'sophia-manifests.release.v1')).toBe('failed');
          // A release recorded as pending, its deadline ahead: another deploy runs.
          const releases = new ReleaseStore(
            new Kube(loadKubeConfig({ KUBECONFIG: cluster.kubeconfig() }), 3000),
            NS,
          );
          const [failed] = await releases.list();
          const future = new Date(Date.now() + 60_000).toISOString();
          await releases.create({ ...failed, revision: 2, status: 'pending', deadline: future });
          const blocked = await deploy(cluster, ['--variant', 'hardened']);
          expect(blocked.code).toBe(2);
          expect(blocked.last).toMatch(
            /^FAILED \(nothing was changed\): revision 2 \(hardened\) is being deployed since .* \(another npm run deploy\?\); it times out at /,
          );
          // Once past its deadline it was interrupted: marked failed, and the deploy goes on.
          await releases.create({
            ...failed,
            revision: 3,
            status: 'pending',
            deadline: new Date(Date.now() - 1000).toISOString(),
          });
          const next = await deploy(cluster, ['--variant', 'hardened', '--dry-run']);
          expect(next.code).toBe(0);
          expect(releaseStatus(cluster, 'sophia-manifests.release.v3')).toBe('failed');
        },
      ),
  );

  test.concurrent('a failed health check is explained and rolled back', () =>
    withCluster(
      {
        health: (pod, p) =>
          pod.metadata.annotations?.['manifests.sophia.ai/security-mode'] === 'root-debug'
            ? { status: 500, body: 'Internal Server Error' }
            : { status: p === '/health' ? 200 : 404, body: '{"status":"ok"}' },
      },
      async (cluster) => {
        expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
        const run = await deploy(cluster, ['--variant', 'root-debug']);
        expect(run.code).toBe(1);
        expect(run.output).toMatch(
          /verify: GET \/api\/v1\/namespaces\/sophia-ai-prod\/services\/sophia-backend:http\/proxy\/health -> HTTP 500: Internal Server Error/,
        );
        expect(run.output).toMatch(
          /explain: Deployment sophia-ai-prod\/sophia-backend, 1 pod of the new revision/,
        );
        expect(run.output).toMatch(/current log of pod sophia-backend-\w+-\w+, container app/);
        expect(run.last).toMatch(
          /^FAILED revision 2 \(root-debug\): health check failed: HTTP 500.*; rolled back to revision 1 \(hardened\)$/,
        );
      },
    ),
  );

  test.concurrent('a Job whose pod template changed is replaced, not failed on', () =>
    withCluster({}, async (cluster) => {
      expect((await deploy(cluster, ['--variant', 'hardened'])).code).toBe(0);
      const before = cluster.get('Job', NS, 'gpu-check-development') as Obj;
      const dir = editedCopy('hardened', (doc) => {
        if (doc.kind === 'Job' && doc.metadata.name === 'gpu-check-development') {
          doc.spec.template.spec.containers[0].env = [{ name: 'CHANGED', value: '1' }];
        }
        return doc;
      });
      const dry = await deploy(cluster, ['--variant', 'hardened', '--dir', dir, '--dry-run']);
      expect(dry.output).toMatch(/ {9}replaced {2}Job sophia-ai-prod\/gpu-check-development/);
      expect(cluster.requests).toContainEqual(
        expect.stringMatching(
          /^DELETE \/apis\/batch\/v1\/namespaces\/sophia-ai-prod\/jobs\/gpu-check-development\?dryRun=All/,
        ),
      );
      const run = await deploy(cluster, ['--variant', 'hardened', '--dir', dir, '--wait-jobs']);
      expect(run.code).toBe(0);
      expect(run.output).toContain('wait: 8 workloads to roll out');
      expect(run.output).toContain('wait: Job sophia-ai-prod/gpu-check-development: complete');
      expect(run.output).toMatch(/ {9}replaced {2}Job sophia-ai-prod\/gpu-check-development/);
      const after = cluster.get('Job', NS, 'gpu-check-development') as Obj;
      expect(after.metadata.uid).not.toBe(before.metadata.uid);
      expect(after.spec.template.spec.containers[0].env).toEqual([{ name: 'CHANGED', value: '1' }]);
      // A folder without the device plugin: its DaemonSet is pruned, its Namespace kept.
      const without = editedCopy('hardened', (doc) =>
        doc.metadata.namespace === 'nvidia-device-plugin' ||
        doc.metadata.name === 'nvidia-device-plugin'
          ? undefined
          : doc,
      );
      const pruned = await deploy(cluster, ['--variant', 'hardened', '--dir', without]);
      expect(pruned.code).toBe(0);
      expect(pruned.output).toContain(
        'deleted   DaemonSet nvidia-device-plugin/nvidia-device-plugin',
      );
      expect(pruned.output).toContain(
        'kept      Namespace nvidia-device-plugin (a Namespace is never pruned)',
      );
      expect(cluster.get('Namespace', undefined, 'nvidia-device-plugin')).toBeDefined();
      expect(
        cluster.get('DaemonSet', 'nvidia-device-plugin', 'nvidia-device-plugin'),
      ).toBeUndefined();
    }),
  );
});

describe('npm run deploy: arguments and folders', () => {
  const unreachable = kubeconfigFor('http://127.0.0.1:9');

  test.concurrent.each([
    [[], 'give exactly one of --variant, --history and --rollback'],
    [['--variant', 'debug'], '--variant must be one of hardened, root-debug, not "debug"'],
    [
      ['--history', '--variant', 'hardened'],
      'give exactly one of --variant, --history and --rollback',
    ],
    [['--variant', 'hardened', '--to', '3'], '--to does not go with --variant'],
    [
      ['--variant', 'hardened', '--timeout', 'soon'],
      '--timeout must be a number of seconds above 0, not "soon"',
    ],
    [['--rollback', '--to', '0'], '--to must be a revision number (1, 2, ...), not "0"'],
    [
      ['--variant', 'hardened', '--dir', '/nonexistent/folder'],
      '/nonexistent/folder is not a folder',
    ],
  ])('%j: exit 2, %s', async (argv, message) => {
    const run = await deploy(unreachable, argv as string[]);
    expect(run.code).toBe(2);
    expect(run.last).toContain(`FAILED (nothing was changed): ${message}`);
  });

  test.concurrent('a folder with validation findings or of the other variant changes nothing', () =>
    withCluster({}, async (cluster) => {
      const broken = editedCopy('hardened', (doc) => {
        if (doc.kind === 'Deployment' && doc.metadata.name === 'sophia-backend')
          doc.spec.template.spec.containers[0].image = 'python:latest';
        return doc;
      });
      const run = await deploy(cluster, ['--variant', 'hardened', '--dir', broken]);
      expect(run.code).toBe(2);
      expect(run.output).toMatch(/validate: \d+ findings? in /);
      expect(run.output).toMatch(/Deployment\/sophia-backend: .*latest/);
      expect(run.last).toMatch(
        /^FAILED \(nothing was changed\): .* does not pass npm run validate's checks$/,
      );
      const other = await deploy(cluster, [
        '--variant',
        'hardened',
        '--dir',
        path.join(ROOT, 'dist', 'root-debug'),
      ]);
      expect(other.code).toBe(2);
      expect(other.last).toBe(
        'FAILED (nothing was changed): dist/root-debug holds the root-debug variant, not hardened',
      );
      expect(cluster.requests).toEqual([]);
    }),
  );
});

// Every request the command made is in docs/deploy.md's list of API calls.
afterAll(() => {
  expect(requestsMade.length).toBeGreaterThan(0);
  expect(undocumented(requestsMade)).toEqual([]);
});
