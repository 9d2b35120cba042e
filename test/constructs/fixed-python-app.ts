import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { cluster } from '../../config';
import {
  FixedPythonApp,
  FixedPythonAppProps,
  GpuNodePool,
  PodSecurityLevel,
  PodSecurityNamespace,
  SecurityMode,
  SOURCE_HASH_KEY,
  SophiaChart,
} from '../../lib';
import { K8sObject, findAll, findOne, podSpecOf, quietStderr } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');

function tempSourceDir(
  files: Record<string, string | Buffer> = { 'app.py': 'print("hi")\n' },
): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpa-src-'));
  for (const [name, content] of Object.entries(files))
    fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

/** Synthesizes one FixedPythonApp in a fresh chart; returns its manifests. */
function synthApp(props: Partial<FixedPythonAppProps> = {}, id = 'backend'): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
  new FixedPythonApp(chart, id, {
    sourceDir: path.join(ROOT, 'app'),
    mode: SecurityMode.HARDENED,
    ...props,
  });
  return Testing.synth(chart) as K8sObject[];
}

function synthVariant(mode: SecurityMode): K8sObject[] {
  return Testing.synth(new SophiaChart(Testing.app(), 'sophia', { mode, cluster })) as K8sObject[];
}

const stderr = quietStderr();

describe('the synthesized variants', () => {
  test.each([SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG])('%s matches its snapshot', (mode) => {
    expect(synthVariant(mode)).toMatchSnapshot();
  });

  test('hardened: every container, init included, is locked down', () => {
    const deployment = findOne(synthVariant(SecurityMode.HARDENED), 'Deployment', 'sophia-backend');
    const pod = podSpecOf(deployment);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    const containers = [...(pod.initContainers ?? []), ...pod.containers];
    expect(containers.map((c) => c.name)).toEqual(['install', 'app']);
    for (const container of containers) {
      expect(container.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
  });

  test('root-debug: runs as root, says so, and its namespace enforces baseline', () => {
    const objects = synthVariant(SecurityMode.ROOT_DEBUG);
    const deployment = findOne(objects, 'Deployment', 'sophia-backend');
    const pod = podSpecOf(deployment);
    expect(pod.securityContext).toMatchObject({ runAsUser: 0, runAsGroup: 0, runAsNonRoot: false });
    expect(pod.initContainers).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0].securityContext).toMatchObject({
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
    });
    expect(deployment.metadata.annotations).toMatchObject({
      'manifests.sophia.ai/security-mode': 'root-debug',
    });
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'manifests.sophia.ai/security-mode': 'root-debug',
    });
    const ns = findOne(objects, 'Namespace', 'sophia-ai-prod');
    expect(ns.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
    });
    expect(stderr()).toHaveBeenCalledWith(
      expect.stringMatching(/sophia\/backend: SecurityMode.ROOT_DEBUG runs the app as root/),
    );
  });

  test('hardened: sophia-ai-prod enforces restricted', () => {
    const ns = findOne(synthVariant(SecurityMode.HARDENED), 'Namespace', 'sophia-ai-prod');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(stderr()).not.toHaveBeenCalled();
  });

  test.each([SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG])(
    '%s: the probes keep the incident numbers',
    (mode) => {
      const app = podSpecOf(findOne(synthVariant(mode), 'Deployment', 'sophia-backend'))
        .containers[0];
      expect(app.startupProbe).toEqual({
        httpGet: { path: '/health', port: 'http' },
        initialDelaySeconds: 10,
        periodSeconds: 5,
        timeoutSeconds: 3,
        failureThreshold: 12,
      });
      expect(app.readinessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(app.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(app.ports).toEqual([{ name: 'http', containerPort: 8000, protocol: 'TCP' }]);
      expect(app.resources).toEqual({
        requests: { cpu: '250m', memory: '256Mi' },
        limits: { cpu: '500m', memory: '1Gi' },
      });
      expect(app.env).toEqual(
        expect.arrayContaining([
          { name: 'PYTHONUNBUFFERED', value: '1' },
          { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
          { name: 'PORT', value: '8000' },
        ]),
      );
      expect(app.imagePullPolicy).toBe('IfNotPresent');
    },
  );
});

describe('FixedPythonApp', () => {
  test('exposes what DebugMonitor needs', () => {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
    const app = new FixedPythonApp(chart, 'api', {
      sourceDir: path.join(ROOT, 'app'),
      mode: SecurityMode.HARDENED,
      port: 9000,
    });
    expect(app.serviceName).toBe('api');
    expect(app.namespace).toBe('apps');
    expect(app.port).toBe(9000);
    expect(app.healthPath).toBe('/health');
    expect(app.selectorLabels).toEqual({
      'app.kubernetes.io/name': 'api',
      'app.kubernetes.io/instance': 'api',
    });
  });

  test('the ConfigMap holds every file of sourceDir, and the Service targets the named port', () => {
    const dir = tempSourceDir({
      'app.py': 'import util\n',
      'util.py': 'X = 1\n',
      'logo.bin': Buffer.from([0xff, 0x00, 0xfe]),
    });
    const objects = synthApp({ sourceDir: dir });
    const cm = findOne(objects, 'ConfigMap', 'backend-source');
    expect(cm.data).toEqual({ 'app.py': 'import util\n', 'util.py': 'X = 1\n' });
    expect(cm.binaryData).toEqual({
      'logo.bin': Buffer.from([0xff, 0x00, 0xfe]).toString('base64'),
    });
    const init = podSpecOf(findOne(objects, 'Deployment', 'backend')).initContainers![0];
    expect(init.command[2]).toContain(
      `cp -RL '/app-source/app.py' '/app-source/logo.bin' '/app-source/util.py' /app/`,
    );
    const svc = findOne(objects, 'Service', 'backend');
    expect(svc.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 8000, targetPort: 'http' }],
    });
  });

  test('a change of any source file rolls the Deployment; names stay stable', () => {
    const dir = tempSourceDir({ 'app.py': 'print(1)\n', 'util.py': 'A = 1\n' });
    const before = findOne(synthApp({ sourceDir: dir }), 'Deployment', 'backend');
    fs.writeFileSync(path.join(dir, 'util.py'), 'A = 2\n');
    const after = findOne(synthApp({ sourceDir: dir }), 'Deployment', 'backend');
    const hash = (d: K8sObject) => d.spec.template.metadata.annotations[SOURCE_HASH_KEY];
    expect(hash(before)).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(after)).not.toBe(hash(before));
    expect(after.metadata.name).toBe(before.metadata.name);
  });

  test('__pycache__ left by a local run is not shipped', () => {
    const dir = tempSourceDir();
    fs.mkdirSync(path.join(dir, '__pycache__'));
    fs.writeFileSync(path.join(dir, '__pycache__', 'app.cpython-311.pyc'), 'x');
    expect(
      Object.keys(findOne(synthApp({ sourceDir: dir }), 'ConfigMap', 'backend-source').data),
    ).toEqual(['app.py']);
  });

  test('every shell command starts with set -eu and announces its steps', () => {
    for (const mode of [SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG]) {
      const pod = podSpecOf(findOne(synthApp({ mode }), 'Deployment', 'backend'));
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(container.command.slice(0, 2)).toEqual(['sh', '-c']);
        const script: string = container.command[2];
        expect(script.startsWith('set -eu\n')).toBe(true);
        const lines = script.trim().split('\n').slice(1);
        // Every command line follows an echo that names it.
        lines.forEach((line, i) =>
          expect(i % 2 === 0 ? line : lines[i - 1]).toMatch(/^echo '\[(init|app)\] /),
        );
      }
    }
  });

  test('hardened: the init container installs into an emptyDir; the app never runs pip', () => {
    const pod = podSpecOf(
      findOne(
        synthApp({
          sourceDir: tempSourceDir(),
          packages: ['fastapi==0.115.0', 'uvicorn[standard]'],
        }),
        'Deployment',
        'backend',
      ),
    );
    const init = pod.initContainers![0].command[2];
    expect(init).toContain(
      "python -m pip install --no-cache-dir --disable-pip-version-check --no-input --progress-bar off --only-binary=:all: --target /app-packages fastapi==0.115.0 'uvicorn[standard]' || { status=$?; echo '[init] pip failed.",
    );
    expect(pod.containers[0].command[2]).not.toContain('pip');
    expect(pod.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: 'PYTHONPATH', value: '/app:/app-packages' },
        { name: 'HOME', value: '/tmp' },
      ]),
    );
    const tmp = pod.containers[0].volumeMounts.find(
      (m: { mountPath: string }) => m.mountPath === '/tmp',
    );
    expect(tmp).toEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual([
      'app-source',
      'app-code',
      'app-packages',
      'tmp',
    ]);
  });

  test('root-debug runs python straight from the read-only mount, no copy', () => {
    const app = podSpecOf(
      findOne(synthApp({ mode: SecurityMode.ROOT_DEBUG }), 'Deployment', 'backend'),
    ).containers[0];
    expect(app.command[2]).toContain('python -m pip install --no-cache-dir');
    expect(app.command[2]).toContain("exec python '/app-source/app.py'");
    expect(app.command[2]).not.toContain('cp ');
    expect(app.volumeMounts).toEqual([
      { name: 'app-source', mountPath: '/app-source', readOnly: true },
    ]);
  });

  test('pipIndexUrl reaches pip', () => {
    const pod = podSpecOf(
      findOne(
        synthApp({
          pipIndexUrl: 'http://pypi-mirror.infra.svc:8080/simple',
          // An in-cluster index: its pods must be allowed by name.
          egressTo: [{ peer: { namespace: 'infra' }, ports: [{ port: 8080 }] }],
        }),
        'Deployment',
        'backend',
      ),
    );
    expect(pod.initContainers![0].command[2]).toContain(
      '--index-url http://pypi-mirror.infra.svc:8080/simple',
    );
  });

  test('extra env is added after the managed variables, sorted', () => {
    const app = podSpecOf(
      findOne(
        synthApp({ env: { B_FLAG: 'x y', A_URL: '$(not expanded by sh)' } }),
        'Deployment',
        'backend',
      ),
    ).containers[0];
    expect(app.env.slice(-2)).toEqual([
      { name: 'A_URL', value: '$(not expanded by sh)' },
      { name: 'B_FLAG', value: 'x y' },
    ]);
  });

  test('replicas >= 2 spread over nodes with a disruption budget', () => {
    const objects = synthApp({ replicas: 2 });
    const pod = podSpecOf(findOne(objects, 'Deployment', 'backend'));
    expect(pod.topologySpreadConstraints).toEqual([
      expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', maxSkew: 1 }),
    ]);
    expect(findOne(objects, 'PodDisruptionBudget', 'backend').spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect(findAll(synthApp({ replicas: 1 }), 'PodDisruptionBudget')).toHaveLength(0);
  });

  test('warns when the ConfigMap is too large for client-side kubectl apply', () => {
    synthApp({
      sourceDir: tempSourceDir({ 'app.py': 'x = 1\n', 'big.txt': 'a'.repeat(300 * 1024) }),
    });
    expect(stderr()).toHaveBeenCalledWith(expect.stringMatching(/kubectl apply --server-side/));
  });
});

describe('fails when', () => {
  const fails = (props: Partial<FixedPythonAppProps>, message: RegExp) =>
    expect(() => synthApp(props)).toThrow(message);

  test('sourceDir is missing', () =>
    fails(
      { sourceDir: '/no/such/dir' },
      /test\/backend: invalid sourceDir "\/no\/such\/dir": an existing folder/,
    ));
  test('sourceDir is empty', () =>
    fails({ sourceDir: tempSourceDir({}) }, /invalid sourceDir .*at least one regular file/));
  test('sourceDir is a file', () =>
    fails(
      { sourceDir: path.join(ROOT, 'app', 'app.py') },
      /invalid sourceDir .*a folder, not a file/,
    ));
  test('sourceDir has a symlink', () => {
    const dir = tempSourceDir();
    fs.symlinkSync(path.join(dir, 'app.py'), path.join(dir, 'link.py'));
    fails({ sourceDir: dir }, /invalid sourceDir .*"link.py" is a symlink/);
  });
  test('a file name is not a ConfigMap key', () =>
    fails(
      { sourceDir: tempSourceDir({ 'app.py': '', 'my file.py': '' }) },
      /invalid sourceDir .*names of letters, digits, "-", "_" and "." \(what a ConfigMap key can carry\): "my file.py" is not/,
    ));
  test('the sources exceed the ConfigMap limit', () =>
    fails(
      { sourceDir: tempSourceDir({ 'app.py': '', 'big.bin': Buffer.alloc(1024 * 1024 + 1) }) },
      /at most 1048576 bytes.*1048577 bytes/,
    ));
  test('the entrypoint is not in sourceDir', () =>
    fails(
      { entrypoint: 'main.py' },
      /invalid entrypoint "main.py": a file in sourceDir .*one of app.py/,
    ));
  test.each([0, 65536, 80.5, -1])('port is %p', (port) =>
    fails({ port }, /invalid port .*an integer from 1 to 65535/),
  );
  test.each([0, 1.5, -2])('replicas is %p', (replicas) =>
    fails({ replicas }, /invalid replicas .*an integer of at least 1/),
  );
  test.each(['health', '', '/he alth'])('healthPath is %p', (healthPath) =>
    fails({ healthPath }, /invalid healthPath .*starting with "\/"/),
  );
  test.each(['fastapi; rm -rf /', '--index-url=http://evil', 'uvicorn $(id)', 'a b', "x'y", ''])(
    'a package spec is %p',
    (spec) =>
      fails({ packages: ['fastapi', spec] }, /invalid packages .*pip requirement specifiers/),
  );
  test.each(['1BAD', 'BAD-NAME', 'A B', 'X;Y'])('an env name is %p', (name) =>
    fails({ env: { [name]: 'v' } }, /invalid env .*variable names of letters/),
  );
  test('env overrides a managed variable', () =>
    fails(
      { env: { PYTHONPATH: '/x' } },
      /invalid env "PYTHONPATH": a name other than those FixedPythonApp sets itself/,
    ));
  test('the mode is unknown', () =>
    fails(
      { mode: 'yolo' as SecurityMode },
      /invalid mode "yolo": one of "hardened", "root-debug"/,
    ));
  test('pipIndexUrl is not an http URL', () =>
    fails({ pipIndexUrl: 'file:///x; rm' }, /invalid pipIndexUrl/));
  test('a resource is not a quantity', () =>
    fails(
      { resources: { limits: { memory: '1 GB' } } },
      /invalid resources.limits.memory "1 GB": a Kubernetes quantity/,
    ));
  test('a request exceeds its limit', () =>
    fails(
      { resources: { requests: { cpu: '2' } } },
      /invalid resources.requests.cpu "2": at most the limit \(500m\)/,
    ));
  test('a probe timing is not a positive integer', () =>
    fails({ startupProbe: { periodSeconds: 0 } }, /invalid startupProbe.periodSeconds 0/));
  test('the name is not a DNS label', () =>
    expect(() => synthApp({}, 'Backend_1')).toThrow(/invalid name "Backend_1": a DNS-1035 label/));
  test('the image is not an image reference', () =>
    fails({ image: 'python 3.11' }, /invalid image "python 3.11"/));
  test('root-debug is put into a restricted namespace', () => {
    const chart = new Chart(Testing.app(), 'test');
    const namespace = new PodSecurityNamespace(chart, 'ns', {
      name: 'locked',
      enforce: PodSecurityLevel.RESTRICTED,
    });
    expect(
      () =>
        new FixedPythonApp(chart, 'backend', {
          sourceDir: path.join(ROOT, 'app'),
          mode: SecurityMode.ROOT_DEBUG,
          namespace,
        }),
    ).toThrow(/test\/backend: invalid namespace "locked": a namespace that admits root pods/);
  });
  test('there is no namespace at all', () => {
    const chart = new Chart(Testing.app(), 'test');
    expect(
      () =>
        new FixedPythonApp(chart, 'backend', {
          sourceDir: path.join(ROOT, 'app'),
          mode: SecurityMode.HARDENED,
        }),
    ).toThrow(
      /test\/backend: invalid namespace \(undefined\): a PodSecurityNamespace or a DNS-1123 label, or a Chart with a namespace/,
    );
  });
});

describe('FixedPythonApp on a GPU pool', () => {
  function gpuChart() {
    const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
    const a100 = new GpuNodePool(chart, 'a100', {
      gpuProduct: 'A100',
      gpusPerNode: 2,
      nodes: [{ name: 'data-pipeline', address: '104.171.202.134' }],
    });
    return { chart, a100 };
  }

  test('is scheduled onto the pool with the nvidia runtime and its GPUs as request = limit', () => {
    const { chart, a100 } = gpuChart();
    new FixedPythonApp(chart, 'trainer', {
      sourceDir: path.join(ROOT, 'app'),
      mode: SecurityMode.HARDENED,
      gpuPool: a100,
      gpuCount: 2,
    });
    const pod = podSpecOf(findOne(Testing.synth(chart) as K8sObject[], 'Deployment', 'trainer'));
    expect(pod.runtimeClassName).toBe('nvidia');
    expect(pod.nodeSelector).toEqual({
      'manifests.sophia.ai/gpu-pool': 'a100',
      'kubernetes.io/arch': 'amd64',
    });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe(2);
    expect(pod.containers[0].resources.requests['nvidia.com/gpu']).toBe(2);
    expect(pod.initContainers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
  });

  test('fails when gpuCount comes without gpuPool', () => {
    expect(() => synthApp({ gpuCount: 1 })).toThrow(
      /test\/backend: invalid gpuCount 1: only together with gpuPool/,
    );
  });

  test("fails when gpuCount exceeds the pool's GPUs per node", () => {
    const { chart, a100 } = gpuChart();
    expect(
      () =>
        new FixedPythonApp(chart, 'trainer', {
          sourceDir: path.join(ROOT, 'app'),
          mode: SecurityMode.HARDENED,
          gpuPool: a100,
          gpuCount: 3,
        }),
    ).toThrow(/test\/trainer: invalid gpuCount 3: an integer from 1 to 2/);
  });
});
