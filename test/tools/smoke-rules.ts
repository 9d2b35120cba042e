// The smoke run's rules, checked without starting anything: the kubelet's
// identity and expansion rules, volume layout, bwrap arguments, pip access,
// probe judging and timing (against an injected clock), the command line.
// The real pods are in smoke-pods.test.ts.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { formatResult, parseArgs, UsageError } from '../../smoke/cli';
import { pythonImage } from '../../smoke/image';
import { capabilities, ContainerConfigError, expand, processIdentity } from '../../smoke/kubelet';
import { killProcessesNaming } from '../../smoke/live';
import { loadManifests, selectWorkload } from '../../smoke/manifest';
import { PodSpec, ProbeSpec } from '../../smoke/pod-spec';
import { hostConfigFrom, parsePipConfigList, resolvePipAccess } from '../../smoke/pip-access';
import { judge, pollProbe, ProbeClock, ProbeReply, ProbeTarget } from '../../smoke/probes';
import { bwrapArgs } from '../../smoke/sandbox';
import { writeAtomicLayout } from '../../smoke/volumes';
import { tempDirs } from '../helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'smoke');
const tmpDir = tempDirs();

function podSpec(overrides: Partial<PodSpec['securityContext']> = {}): PodSpec {
  return {
    initContainers: [],
    containers: [],
    volumes: [],
    securityContext: { supplementalGroups: [], ...overrides },
  };
}

const IDENTITY = { name: 'p', namespace: 'ns', uid: 'u', ip: '10.42.0.10' };
const IMAGE = pythonImage('python:3.11-slim', '3.11.2');

describe('smoke: the kubelet rules', () => {
  const container = {
    name: 'app',
    image: 'python:3.11-slim',
    env: [],
    envFrom: [],
    ports: [],
    volumeMounts: [],
  };

  test('runAsNonRoot with no user is refused: python:3.11-slim runs as root', () => {
    expect(() =>
      processIdentity(podSpec({ runAsNonRoot: true }), container, IMAGE, IDENTITY),
    ).toThrow(
      new ContainerConfigError(
        'container has runAsNonRoot and image will run as root (pod: "p_ns(u)", container: app)',
      ),
    );
    expect(() =>
      processIdentity(podSpec({ runAsNonRoot: true, runAsUser: 0 }), container, IMAGE, IDENTITY),
    ).toThrow(/container's runAsUser breaks non-root policy/);
  });

  test('container fields win over the pod, fsGroup joins the groups, ALL drops every capability', () => {
    const id = processIdentity(
      podSpec({ runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, runAsNonRoot: true }),
      {
        ...container,
        securityContext: {
          runAsUser: 1001,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { add: [], drop: ['ALL'] },
        },
      },
      IMAGE,
      IDENTITY,
    );
    expect(id).toEqual({
      uid: 1001,
      gid: 1000,
      groups: [2000],
      capabilities: [],
      noNewPrivs: true,
      readOnlyRootFilesystem: true,
    });
    expect(capabilities(false, { add: ['NET_ADMIN'], drop: ['ALL'] })).toEqual(['net_admin']);
    expect(capabilities(false, undefined)).toContain('dac_override');
  });

  test('$(VAR) expansion follows Kubernetes: $$ escapes, unknown names stay', () => {
    const env = new Map([['PORT', '8000']]);
    expect(expand('--port=$(PORT) $(NOPE) $$(PORT)', (n) => env.get(n))).toBe(
      '--port=8000 $(NOPE) $(PORT)',
    );
  });
});

describe('smoke: volumes and sandbox', () => {
  test('a ConfigMap is laid out like the kubelet does: timestamped folder, ..data, links', () => {
    const dir = tmpDir('smoke-cm-');
    writeAtomicLayout(
      dir,
      [{ path: 'app.py', content: Buffer.from('print(1)\n'), mode: 0o444 }],
      new Date('2024-05-14T08:03:30.123Z'),
    );
    const entries = fs.readdirSync(dir).sort();
    expect(entries).toEqual([
      expect.stringMatching(/^\.\.2024_05_14_08_03_30\.\d{9}$/),
      '..data',
      'app.py',
    ]);
    expect(fs.readlinkSync(path.join(dir, '..data'))).toBe(entries[0]);
    expect(fs.readlinkSync(path.join(dir, 'app.py'))).toBe('..data/app.py');
    expect(fs.statSync(path.join(dir, 'app.py')).mode & 0o777).toBe(0o444);
    expect(fs.readFileSync(path.join(dir, 'app.py'), 'utf8')).toBe('print(1)\n');
  });

  test('bwrap: host pip config hidden, mounts in order, read-only root last, setpriv drops to the uid', () => {
    const args = bwrapArgs({
      hostname: 'pod',
      identity: {
        uid: 1000,
        gid: 1000,
        groups: [1000],
        capabilities: [],
        noNewPrivs: true,
        readOnlyRootFilesystem: true,
      },
      usrLocal: '/w/usr-local',
      etcFiles: {},
      emptyFile: '/w/empty',
      mounts: [
        { hostPath: '/w/v/code', mountPath: '/app', readOnly: true },
        { hostPath: '/w/v/tmp', mountPath: '/tmp', readOnly: false },
      ],
      env: new Map([['PATH', '/usr/local/bin:/usr/bin']]),
      workingDir: '/app',
      argv: ['python', 'app.py'],
    });
    const line = args.join(' ');
    expect(line).toContain('--ro-bind /w/usr-local /usr/local');
    expect(line).toContain('--ro-bind /w/v/code /app');
    expect(line).toContain('--bind /w/v/tmp /tmp');
    expect(args.indexOf('--remount-ro')).toBeGreaterThan(args.indexOf('/w/v/tmp'));
    expect(args).not.toContain('--unshare-net'); // the pod's namespace is joined with nsenter
    expect(line).toContain(
      '-- /usr/bin/setpriv --reuid=1000 --regid=1000 --groups=1000 --bounding-set=-all --inh-caps=-all --no-new-privs -- python app.py',
    );
    if (fs.existsSync('/etc/xdg/pip')) expect(line).toContain('--tmpfs /etc/xdg/pip');
  });
});

describe('smoke: pip access', () => {
  const hostConfig = hostConfigFrom(
    parsePipConfigList(
      [
        "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
        "global.find-links='/opt/wheels'",
        "install.index-url='https://pypi.org/simple'",
        ":env:.find-links='/opt/wheels'",
      ].join('\n'),
    ),
  );

  test("the host's settings are read with pip's precedence", () => {
    expect(hostConfig).toMatchObject({
      indexUrl: 'https://pypi.org/simple',
      extraIndexUrls: ['file:///opt/pypi/simple', 'file:///opt/pypi-more/simple'],
      findLinks: ['/opt/wheels'],
      noIndex: false,
    });
  });

  test('an unreachable index is left out and the first mirror becomes the index', async () => {
    const access = await resolvePipAccess(
      { type: 'host' },
      () => hostConfig,
      async () => 'getaddrinfo ENOTFOUND pypi.org',
    );
    expect(access.env.get('PIP_INDEX_URL')).toBe('file:///opt/pypi/simple');
    expect(access.env.get('PIP_EXTRA_INDEX_URL')).toBe('file:///opt/pypi-more/simple');
    expect(access.proxy).toBe(false);
    expect(access.notes.join('\n')).toMatch(/pypi.org\/simple is unreachable .*ENOTFOUND/);
  });

  test('a reachable remote index goes through the proxy; none means no index at all', async () => {
    const remote = await resolvePipAccess(
      { type: 'url', url: 'https://mirror.example/simple' },
      () => hostConfig,
    );
    expect(remote).toMatchObject({ proxy: true, binds: [] });
    expect(remote.env.get('PIP_INDEX_URL')).toBe('https://mirror.example/simple');
    const none = await resolvePipAccess({ type: 'none' }, () => hostConfig);
    expect([...none.env]).toEqual([]);
    expect(none.proxy).toBe(false);
  });
});

describe('smoke: probes', () => {
  const target: ProbeTarget = {
    type: 'http',
    scheme: 'HTTP',
    host: '10.42.0.10',
    port: 8000,
    path: '/health',
    headers: {},
  };

  test("replies are judged and worded like the kubelet's", () => {
    expect(judge(target, { status: 200 })).toEqual({ ok: true, message: 'HTTP 200' });
    expect(judge(target, { status: 302 }).ok).toBe(true);
    expect(judge(target, { status: 500 })).toEqual({
      ok: false,
      message: 'HTTP probe failed with statuscode: 500',
    });
    expect(judge(target, { error: 'ECONNREFUSED' }).message).toBe(
      'Get "http://10.42.0.10:8000/health": dial tcp 10.42.0.10:8000: connect: connection refused',
    );
    expect(judge(target, { timeout: true }).message).toMatch(/context deadline exceeded/);
  });

  test('timing: initialDelaySeconds, then periodSeconds, until failureThreshold in a row', async () => {
    let now = 0;
    const clock: ProbeClock = { now: () => now, sleep: async (ms) => void (now += ms) };
    const at: number[] = [];
    const replies: ProbeReply[] = [{ error: 'ECONNREFUSED' }, { status: 500 }, { status: 500 }];
    const spec: ProbeSpec = {
      action: { type: 'none' },
      initialDelaySeconds: 10,
      periodSeconds: 5,
      timeoutSeconds: 3,
      successThreshold: 1,
      failureThreshold: 3,
    };
    const verdict = await pollProbe(
      spec,
      target,
      { send: async () => (at.push(now), replies.shift() ?? { status: 200 }) },
      { startedAt: 0, clock, signal: new AbortController().signal },
    );
    expect(at).toEqual([10_000, 15_000, 20_000]);
    expect(verdict).toEqual({
      ok: false,
      attempts: 3,
      failures: 3,
      last: { ok: false, message: 'HTTP probe failed with statuscode: 500' },
    });
  });
});

describe('smoke: command line and manifests', () => {
  test('arguments: a variant is a folder of dist/, --dir overrides, bad values are usage errors', () => {
    expect(parseArgs(['--variant', 'hardened'], ROOT)).toMatchObject({
      dir: path.join(ROOT, 'dist', 'hardened'),
      pipIndex: { type: 'host' },
    });
    expect(parseArgs(['--dir', FIXTURES, '--pip-index=none', '--app', 'x'], ROOT)).toMatchObject({
      dir: FIXTURES,
      app: 'x',
      pipIndex: { type: 'none' },
    });
    expect(() => parseArgs(['--variant', 'nope'], ROOT)).toThrow(UsageError);
    expect(() => parseArgs(['--pip-index', 'pypi'], ROOT)).toThrow(UsageError);
    expect(() => parseArgs([], ROOT)).toThrow(/--variant or --dir/);
  });

  test('both dist variants are read from their YAML, with the backend picked by default', () => {
    for (const variant of ['hardened', 'root-debug']) {
      const set = loadManifests(path.join(ROOT, 'dist', variant));
      const workload = selectWorkload(set, undefined);
      expect(workload.name).toBe('sophia-backend');
      expect(workload.pod.containers[0].startupProbe?.action).toMatchObject({
        type: 'httpGet',
        port: 'http',
      });
    }
  });

  test('a failure report names the container, the status and the log tail', () => {
    expect(
      formatResult({
        ready: false,
        seconds: 1.25,
        podStatus: 'Init:Error',
        reason: 'init container install exited with code 1',
        container: 'install',
        exitCode: 1,
        logTail: ['ERROR: boom'],
      }),
    ).toEqual([
      'NOT READY after 1.3 s: container install, exit code 1',
      'pod status: Init:Error',
      'reason: init container install exited with code 1',
      'last 1 log line(s) of install:',
      '  | ERROR: boom',
    ]);
  });
});

describe('smoke: cleanup', () => {
  test('every process naming the run folder is killed, even outside its process group', async () => {
    const marker = tmpDir('smoke-sweep-');
    // Its own session, like bwrap's --new-session child: a group kill misses it.
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], {
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(await killProcessesNaming(marker)).toEqual([]);
      expect(await exited).toBe('SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
