// The smoke run of real pods in bubblewrap: both dist variants with their
// synthesized probes, and one pod per fault. Every pod has its own network
// namespace, so the runs are independent: they run concurrently.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { Testing, Yaml } from 'cdk8s';
import { FixedPythonApp, FixedPythonAppProps, SecurityMode } from '../lib/fixed-python-app';
import { hasBubblewrap } from '../smoke/host';
import { tempDirs } from './helpers';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'smoke');
const tmpDir = tempDirs();

// The real pods need bubblewrap and root (real uids for the containers). CI
// installs bubblewrap and sets REQUIRE_SMOKE=1 so that a missing tool fails
// instead of silently skipping the proof that the pods start.
const missing = !hasBubblewrap()
  ? 'bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap'
  : process.getuid?.() !== 0
    ? 'the smoke run needs root'
    : undefined;
const required = process.env.REQUIRE_SMOKE === '1';
const describeSmoke = missing === undefined ? describe : describe.skip;
if (missing !== undefined && !required) {
  console.warn(`SKIPPED the smoke runs of real pods: ${missing} (REQUIRE_SMOKE=1 makes this fail)`);
}

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `npm run smoke` (its node command) with a hard time bound. */
function smoke(
  args: readonly string[],
  options: {
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    onStdout?: (all: string, kill: (s: NodeJS.Signals) => void) => void;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['scripts/run-ts.js', 'scripts/smoke.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      options.onStdout?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/**
 * For pods that install nothing: no index for their pip, so the smoke run
 * skips reading the host pip's configuration (a pip start, about 0.3 CPU-s).
 * The pods that do install keep the default (`host`) or name an index.
 */
const NO_PIP = ['--pip-index', 'none'] as const;

/** A web app with the standard library only: no pip needed, starts in milliseconds. */
const STDLIB_APP = `import http.server, os
STATUS = int(os.environ.get("HEALTH_STATUS", "200"))
try:
    import smoke_probe_pkg  # only present when the test's index provided it
    print("imported", smoke_probe_pkg.VALUE, flush=True)
except ImportError:
    pass
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(STATUS)
        self.end_headers()
        self.wfile.write(b"{}")
print("listening", flush=True)
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`;

// Fault fixtures probe at once and every second; 30 failures allowed, so
// that a container's own end (a pip error, a crash) decides the verdict even
// when a loaded machine makes pip take longer than a few probe periods.
const FAST_PROBE = {
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  failureThreshold: 30,
};

/** Synthesizes a FixedPythonApp with FixedPythonApp itself, like dist/, into a fresh folder. */
function synthApp(
  files: Record<string, string>,
  props: Omit<FixedPythonAppProps, 'sourceDir'>,
): string {
  const source = tmpDir('smoke-src-');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(source, name)), { recursive: true });
    fs.writeFileSync(path.join(source, name), content);
  }
  const chart = Testing.chart();
  new FixedPythonApp(chart, 'fault', {
    sourceDir: source,
    namespace: 'smoke-test',
    startupProbe: FAST_PROBE,
    readinessProbe: FAST_PROBE,
    ...props,
  });
  const out = tmpDir('smoke-yaml-');
  fs.writeFileSync(path.join(out, 'app.k8s.yaml'), Yaml.stringify(...Testing.synth(chart)));
  return out;
}

if (missing !== undefined && required) {
  test('REQUIRE_SMOKE=1: the smoke runs of real pods can run here', () => {
    throw new Error(`cannot run the smoke tests: ${missing}`);
  });
}

describeSmoke('smoke: real pods in bubblewrap', () => {
  test.concurrent(
    'both dist variants become READY side by side (same port, own network namespaces), the nested package answering',
    async () => {
      // The backend's optional Secret: given to hardened, absent from root-debug.
      const secrets = path.join(tmpDir('smoke-secret-'), 'sophia-backend-secrets.env');
      fs.writeFileSync(secrets, 'openai-api-key=sk-smoke-never-printed\n');
      const [hardened, rootDebug] = await Promise.all([
        smoke(
          [
            '--variant',
            'hardened',
            '--secret',
            `sophia-backend-secrets=${secrets}`,
            '--get',
            '/v1/info',
          ],
          { timeoutMs: 100_000 },
        ),
        smoke(['--variant', 'root-debug', '--get', '/v1/info'], { timeoutMs: 100_000 }),
      ]);
      for (const [name, run] of [
        ['hardened', hardened],
        ['root-debug', rootDebug],
      ] as const) {
        expect({ name, code: run.code, stderr: run.stderr }).toEqual({ name, code: 0, stderr: '' });
        expect(run.stdout).toMatch(
          /startup probe #\d+ GET http:\/\/[\d.]+:8000\/health -> HTTP 200/,
        );
        const ready = /READY in (\d+\.\d) s\n/.exec(run.stdout);
        expect(ready).not.toBeNull();
        // The startup probe's initialDelaySeconds is 10: nothing can be ready before.
        expect(Number(ready![1])).toBeGreaterThanOrEqual(10);
        console.log(`${name}: READY in ${ready![1]} s`);
      }
      expect(hardened.stdout).toMatch(/init container install: completed \(exit code 0\)/);
      expect(hardened.stdout).toMatch(
        /container app: starting as uid 1000, gid 1000.*read-only root/,
      );
      expect(rootDebug.stdout).toMatch(/container app: starting as uid 0, gid 0, writable root/);
      // /v1/info is served by sophia/routers/info.py with sophia/settings.py's values.
      const info = (key: string) =>
        `GET http://10.42.0.10:8000/v1/info -> HTTP 200: {"service":"sophia-backend","module":"sophia.routers.info","environment":"production","openai_api_key":"${key}"}\n`;
      expect(hardened.stdout).toContain(
        'secret sophia-ai-prod/sophia-backend-secrets: 1 key(s) from',
      );
      expect(hardened.stdout.endsWith(info('set'))).toBe(true);
      expect(rootDebug.stdout.endsWith(info('missing'))).toBe(true);
      expect(hardened.stdout).not.toContain('sk-smoke-never-printed');
      // pip installed the pinned file, wheels only.
      expect(hardened.stdout).toContain('init container install: completed');
    },
    120_000,
  );

  // Concurrent (jest starts it at once): its pods run while the dist
  // variants wait out their startup probe's initialDelaySeconds.
  test.concurrent(
    'a source tree with a Secret, a missing Secret, wheels only: four fast pods side by side',
    async () => {
      // The entrypoint in a sub-folder imports a package from the code root and
      // reports whether API_KEY arrived from the Secret, never its value.
      const tree = {
        'service/main.py': `import http.server, json, os
from routers import health
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        key = os.environ.get("API_KEY")
        body = json.dumps(dict(health.answer(), api_key_length=len(key or ""))).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`,
        'routers/__init__.py': '',
        'routers/health.py': 'def answer():\n    return {"module": __name__, "file": __file__}\n',
      };
      const treeProps = {
        packages: [],
        entrypoint: 'service/main.py',
        secretEnv: { API_KEY: { secretName: 'api-keys', key: 'api-key' } },
      };
      const hardenedDir = synthApp(tree, { ...treeProps, mode: SecurityMode.HARDENED });
      const env = path.join(tmpDir('smoke-env-'), 'api-keys.env');
      fs.writeFileSync(env, '# for the smoke run\napi-key=0123456789\n');
      // A package the index serves as an sdist only: pip, wheels only, must refuse it.
      const server = http.createServer((req, res) => {
        if (req.url === '/simple/smoke-sdist-only/') {
          res.setHeader('Content-Type', 'text/html');
          res.end('<a href="/files/smoke_sdist_only-1.0.tar.gz">smoke_sdist_only-1.0.tar.gz</a>');
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      try {
        const [hardened, rootDebug, missing, sdist] = await Promise.all([
          smoke(['--dir', hardenedDir, '--secret', `api-keys=${env}`, '--get', '/', ...NO_PIP]),
          smoke([
            '--dir',
            synthApp(tree, { ...treeProps, mode: SecurityMode.ROOT_DEBUG }),
            '--secret',
            `api-keys=${env}`,
            '--get',
            '/',
            ...NO_PIP,
          ]),
          smoke(['--dir', hardenedDir, ...NO_PIP]),
          smoke([
            '--dir',
            synthApp(
              { 'app.py': STDLIB_APP, 'requirements.txt': 'smoke-sdist-only==1.0\n' },
              { mode: SecurityMode.HARDENED },
            ),
            '--pip-index',
            `http://127.0.0.1:${port}/simple`,
          ]),
        ]);

        // The tree arrived with its folders (copied, or on the mount), the code
        // root on PYTHONPATH, and the Secret's key in the environment.
        const answer = (file: string) =>
          `GET http://10.42.0.10:8000/ -> HTTP 200: {"module": "routers.health", "file": "${file}", "api_key_length": 10}\n`;
        expect(hardened.stdout).toContain('secret smoke-test/api-keys: 1 key(s) from');
        expect(hardened.stdout.endsWith(answer('/app/routers/health.py'))).toBe(true);
        expect(hardened.code).toBe(0);
        expect(rootDebug.stdout.endsWith(answer('/app-source/routers/health.py'))).toBe(true);
        expect(rootDebug.code).toBe(0);

        // No Secret: the kubelet's refusal, after the init container ran.
        expect(missing.code).toBe(1);
        expect(missing.stdout).toContain('init container install: completed');
        expect(missing.stdout).toContain('pod status: CreateContainerConfigError');
        expect(missing.stdout).toContain('reason: Error: secret "api-keys" not found');
        expect(missing.stdout).toContain('(container app never ran: no log)');

        expect(sdist.code).toBe(1);
        expect(sdist.stdout).toContain('pod status: Init:Error');
        expect(sdist.stdout).toContain(
          '| ERROR: No matching distribution found for smoke-sdist-only==1.0',
        );
        expect(sdist.stdout).toContain(
          '| [init] pip failed. It installs wheels only (--only-binary=:all:): the image has no compiler',
        );
        console.log(
          `four pods: ${[hardened, rootDebug, missing, sdist].map((r) => r.ms).join(', ')} ms`,
        );
      } finally {
        server.close();
      }
    },
    60_000,
  );

  test.concurrent(
    'an app.py that raises at import: CrashLoopBackOff with the traceback tail',
    async () => {
      const dir = synthApp(
        { 'app.py': 'import os\nraise RuntimeError("sophia config missing")\n' },
        { mode: SecurityMode.HARDENED, packages: [] },
      );
      const run = await smoke(['--dir', dir, ...NO_PIP]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/container app: exited with code 1 after/);
      expect(run.stdout).toContain('pod status: CrashLoopBackOff');
      expect(run.stdout).toMatch(/\| Traceback \(most recent call last\):/);
      expect(run.stdout).toMatch(/\| RuntimeError: sophia config missing\n/);
    },
    30_000,
  );

  test.concurrent(
    'a package that does not exist: the init container pip error (hardened)',
    async () => {
      const dir = synthApp(
        { 'app.py': STDLIB_APP },
        { mode: SecurityMode.HARDENED, packages: ['sophia-no-such-package'] },
      );
      const run = await smoke(['--dir', dir]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/NOT READY after .*: container install, exit code 1/);
      expect(run.stdout).toContain('pod status: Init:Error');
      expect(run.stdout).toContain(
        '| ERROR: No matching distribution found for sophia-no-such-package',
      );
      expect(run.stdout).not.toMatch(/container app: starting/);
    },
    60_000,
  );

  test.concurrent(
    "a package that does not exist: the container's pip error (root-debug)",
    async () => {
      const dir = synthApp(
        { 'app.py': STDLIB_APP },
        { mode: SecurityMode.ROOT_DEBUG, packages: ['sophia-no-such-package'] },
      );
      const run = await smoke(['--dir', dir]);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('pod status: CrashLoopBackOff');
      expect(run.stdout).toMatch(/container app, exit code 1/);
      expect(run.stdout).toContain(
        '| ERROR: No matching distribution found for sophia-no-such-package',
      );
    },
    60_000,
  );

  test.concurrent(
    "no index reachable: pip fails like the incident's offline pip",
    async () => {
      const dir = synthApp(
        { 'app.py': STDLIB_APP },
        { mode: SecurityMode.HARDENED, packages: ['fastapi'] },
      );
      const run = await smoke(['--dir', dir, '--pip-index', 'none']);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('pod status: Init:Error');
      expect(run.stdout).toMatch(/\| WARNING: Retrying .*(name resolution|NewConnectionError)/);
      expect(run.stdout).toContain('| ERROR: No matching distribution found for fastapi');
    },
    60_000,
  );

  test.concurrent(
    "the incident's cp as uid 1000 into a root-owned read-only volume",
    async () => {
      const run = await smoke(['--dir', path.join(FIXTURES, 'incident'), ...NO_PIP]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        /container backend: starting as uid 1000, gid 1000, writable root/,
      );
      expect(run.stdout).toContain('pod status: CrashLoopBackOff');
      expect(run.stdout).toContain(
        "| cp: cannot create regular file '/app-writable/app.py': Read-only file system",
      );
    },
    30_000,
  );

  test.concurrent(
    'a health path that answers 500: the startup probe fails after failureThreshold',
    async () => {
      const dir = synthApp(
        { 'app.py': STDLIB_APP },
        {
          mode: SecurityMode.HARDENED,
          packages: [],
          env: { HEALTH_STATUS: '500' },
          startupProbe: { ...FAST_PROBE, failureThreshold: 3 },
        },
      );
      const run = await smoke(['--dir', dir, ...NO_PIP]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        /startup probe #3 .* failed \(3\/3\): HTTP probe failed with statuscode: 500/,
      );
      expect(run.stdout).toContain('pod status: CrashLoopBackOff');
      expect(run.stdout).toMatch(
        /Startup probe failed: HTTP probe failed with statuscode: 500 \(3 failures in a row.*will be restarted/,
      );
    },
    30_000,
  );

  test.concurrent(
    'runAsNonRoot with no user: CreateContainerConfigError before anything runs',
    async () => {
      const run = await smoke(['--dir', path.join(FIXTURES, 'run-as-non-root'), ...NO_PIP]);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('pod status: CreateContainerConfigError');
      expect(run.stdout).toMatch(
        /Error: container has runAsNonRoot and image will run as root \(pod: "non-root-without-user_smoke-test\([0-9a-f-]+\)", container: app\)/,
      );
      expect(run.stdout).not.toMatch(/container app: starting/);
    },
    30_000,
  );

  test.concurrent(
    "a remote index is reached through the host's proxy",
    async () => {
      // A one-package index served by this test process on the host's loopback:
      // the pod's own loopback is another namespace, only the proxy gets there.
      const wheelDir = tmpDir('smoke-wheel-');
      const wheel = 'smoke_probe_pkg-1.0-py3-none-any.whl';
      const build = spawnSync('/usr/bin/python3', [
        '-c',
        `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("smoke_probe_pkg/__init__.py", "VALUE = 'from the test index'\\n")
    z.writestr("smoke_probe_pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: smoke-probe-pkg\\nVersion: 1.0\\n")
    z.writestr("smoke_probe_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: smoke-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    z.writestr("smoke_probe_pkg-1.0.dist-info/RECORD", "")
`,
        path.join(wheelDir, wheel),
      ]);
      expect(build.status).toBe(0);
      const server = http.createServer((req, res) => {
        if (req.url === '/simple/smoke-probe-pkg/') {
          res.setHeader('Content-Type', 'text/html');
          res.end(`<html><body><a href="/files/${wheel}">${wheel}</a></body></html>`);
        } else if (req.url === `/files/${wheel}`) {
          res.end(fs.readFileSync(path.join(wheelDir, wheel)));
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      try {
        const dir = synthApp(
          { 'app.py': STDLIB_APP },
          { mode: SecurityMode.HARDENED, packages: ['smoke-probe-pkg'] },
        );
        const run = await smoke([
          '--dir',
          dir,
          '--pip-index',
          `http://127.0.0.1:${port}/simple`,
          '--logs',
        ]);
        expect(run.stdout).toMatch(/pip proxy on 127\.0\.0\.1:\d+/);
        expect(run.stdout).toContain('Successfully installed smoke-probe-pkg-1.0');
        expect(run.stdout).toContain('app | imported from the test index');
        expect(run.code).toBe(0);
      } finally {
        server.close();
      }
    },
    60_000,
  );

  test.concurrent(
    'Ctrl-C: everything it started is killed and its folders removed',
    async () => {
      // A hardened pod without packages: its app container starts at once
      // (no pip install to wait for), and the startup probe's delay keeps it
      // from becoming READY before the SIGINT lands.
      const dir = synthApp(
        { 'app.py': STDLIB_APP },
        {
          mode: SecurityMode.HARDENED,
          packages: [],
          startupProbe: { ...FAST_PROBE, initialDelaySeconds: 60 },
        },
      );
      // Its own TMPDIR: the runs beside it make and remove folders in /tmp meanwhile.
      const tmp = tmpDir('smoke-ctrl-c-');
      let signalled = false;
      const run = await smoke(['--dir', dir, ...NO_PIP], {
        env: { TMPDIR: tmp },
        onStdout: (all, kill) => {
          if (!signalled && /container app: starting/.test(all)) {
            signalled = true;
            kill('SIGINT');
          }
        },
      });
      expect(signalled).toBe(true);
      expect(run.code).toBe(130);
      expect(run.stdout).toContain('SIGINT: stopping the pod and removing its folders');
      const pod = /as pod (\S+)/.exec(run.stdout)![1];
      expect(fs.readdirSync(tmp)).toEqual([]);
      // No process is left whose command line names the pod (bwrap --hostname <pod>).
      const leftovers = fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(pod);
          } catch {
            return false;
          }
        });
      expect(leftovers).toEqual([]);
    },
    60_000,
  );
});
