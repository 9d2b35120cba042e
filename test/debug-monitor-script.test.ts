// Runs the real monitor/debug_monitor.py with the machine's python3 against real
// local servers (HTTP, raw TCP, a fake Kubernetes API serving recorded JSON) and
// checks the JSON lines it writes, its /metrics and /healthz, and its signal
// handling. Every test has its own servers, ports and monitor process, so the
// tests run concurrently (they mostly wait on intervals and timeouts); every
// child process and server is torn down after the file.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './helpers';

const SCRIPT = path.join(__dirname, '..', 'monitor', 'debug_monitor.py');
const FIXTURES = path.join(__dirname, 'fixtures', 'k8s-api');
const NAMESPACE = 'sophia-ai-prod';
const SELECTOR = 'app.kubernetes.io/name=sophia-backend,app.kubernetes.io/instance=sophia-backend';
const TOKEN = 'test-token-9f8e7d6c5b4a';
// The fixture's pods: one crash-looping backend, one stuck in a failing init container.
const CRASHING_POD = 'sophia-backend-7d9f8b6c5d-x2x7k';
const INIT_FAILING_POD = 'sophia-backend-5c8d7f9b44-q9m4z';
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

jest.setTimeout(15000);

interface LogLine {
  ts: string;
  event: string;
  [key: string]: unknown;
}

interface CheckLine extends LogLine {
  check: number;
  url: string;
  ok: boolean;
  status: number | null;
  latency_ms: number;
  consecutive_failures: number;
  reason?: string;
  detail?: string;
  body?: string;
}

interface ContainerSummary {
  name: string;
  init: boolean;
  ready: boolean;
  restart_count: number;
  state: string;
  waiting_reason: string | null;
  waiting_message: string | null;
  last_termination_reason: string | null;
  last_termination_exit_code: number | null;
  last_termination_message: string | null;
  exit_code_meaning: string | null;
}

interface PodLine extends LogLine {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  conditions: Array<{ type: string; status: string; reason: string | null }>;
  containers: ContainerSummary[];
}

interface PreviousLogLine extends LogLine {
  pod: string;
  container: string;
  restart_count: number;
  exit_code: number;
  lines: string[];
  truncated: boolean;
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const cleanups: Array<() => void> = [];

// The machine's python3, resolved once: on PATH it may be a pyenv shim, a
// shell script that costs more than the interpreter's own start, per spawn.
const PYTHON = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
}).stdout.trim();

// afterAll, not afterEach: Jest runs no *Each hooks around concurrent tests.
afterAll(() => {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop();
    try {
      cleanup?.();
    } catch {
      // best effort: one failed cleanup must not hide the others
    }
  }
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A running monitor: its parsed stdout lines, stderr and exit. */
class Monitor {
  readonly lines: LogLine[] = [];
  readonly unparsable: string[] = [];
  stderr = '';
  exit: ExitInfo | undefined;
  private readonly closed: Promise<ExitInfo>;
  private buffer = '';

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.buffer += chunk;
      const parts = this.buffer.split('\n');
      this.buffer = parts.pop() ?? '';
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as LogLine);
        } catch {
          this.unparsable.push(part);
        }
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (this.stderr += chunk));
    this.closed = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  of<T extends LogLine = LogLine>(event: string): T[] {
    return this.lines.filter((line) => line.event === event) as T[];
  }

  describe(): string {
    return `stdout:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr}`;
  }

  async waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(predicate);
      if (hit) return hit;
      if (this.exit)
        throw new Error(`monitor exited early (${JSON.stringify(this.exit)})\n${this.describe()}`);
      if (Date.now() > deadline)
        throw new Error(`expected line not seen in ${timeoutMs} ms\n${this.describe()}`);
      await sleep(20);
    }
  }

  async waitForChecks(count: number, timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.of('check').length >= count, timeoutMs);
  }

  async waitExit(timeoutMs = 5000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`monitor still running after ${timeoutMs} ms\n${this.describe()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  metricsPort(): number {
    const start = this.of('start')[0];
    const port = start?.metrics_port;
    if (typeof port !== 'number')
      throw new Error(`no metrics port in the start line\n${this.describe()}`);
    return port;
  }
}

function startMonitor(env: Record<string, string>): Monitor {
  const child = spawn(PYTHON || 'python3', [SCRIPT], {
    cwd: os.tmpdir(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PYTHONDONTWRITEBYTECODE: '1',
      METRICS_PORT: '0',
      INTERVAL_SECONDS: '0.1',
      TIMEOUT_SECONDS: '2',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Monitor(child);
}

/** Run until MAX_CHECKS is reached; check the things every run must get right. */
async function runChecks(env: Record<string, string>, maxChecks = 1): Promise<Monitor> {
  const monitor = startMonitor({ MAX_CHECKS: String(maxChecks), ...env });
  const exit = await monitor.waitExit(8000);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(monitor.unparsable).toEqual([]);
  expect(monitor.stderr).toBe('');
  expect(monitor.lines[0]?.event).toBe('start');
  expect(monitor.lines[monitor.lines.length - 1]).toMatchObject({
    event: 'stop',
    reason: 'max_checks',
  });
  for (const line of monitor.lines) expect(line.ts).toMatch(ISO_UTC);
  expect(monitor.of('check')).toHaveLength(maxChecks);
  return monitor;
}

/** Listen on 127.0.0.1:0 and register the server (and its open sockets) for teardown. */
async function listen(server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

interface SeenRequest {
  url: string;
  authorization: string | undefined;
  userAgent: string | undefined;
}

async function httpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, index: number) => void,
): Promise<{ port: number; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      url: req.url ?? '',
      authorization: req.headers.authorization,
      userAgent: req.headers['user-agent'],
    });
    handler(req, res, seen.length - 1);
  });
  return { port: await listen(server), seen };
}

async function tcpServer(onData: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => socket.once('data', () => onData(socket)));
  return listen(server);
}

function get(url: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type']),
          body,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Prometheus text to {'name{labels}': value}, rejecting malformed sample lines. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`malformed metrics line: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

function tokenFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'debug-monitor-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, `${TOKEN}\n`);
  return file;
}

function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(body);
}

function k8sStatus(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message,
    reason,
    code,
  });
}

interface LogAnswer {
  status: number;
  body: string;
  /** Send the whole body, as an API that ignored tailLines would. */
  ignoreTail?: boolean;
}

/**
 * Previous container logs as the API serves them: `<pod>/<container>` → the
 * answer, or the answers to successive requests (the last one repeats).
 */
type PreviousLogs = Record<string, LogAnswer | LogAnswer[]>;

/** The kubelet's answer when a container has no previous run to show. */
function noPreviousRun(pod: string, container: string): { status: number; body: string } {
  const message = `previous terminated container "${container}" in pod "${pod}" not found`;
  return { status: 400, body: k8sStatus(400, 'BadRequest', message) };
}

/** The last `tailLines` lines of a log, as the kubelet cuts them. */
function tail(log: string, tailLines: string | null): string {
  if (tailLines === null) return log;
  const lines = log.split(/(?<=\n)/);
  return lines.slice(Math.max(lines.length - Number(tailLines), 0)).join('');
}

/**
 * A Kubernetes API that only answers the requests the monitor should make:
 * the pods, their Warning events and, from `logs`, previous container logs.
 * `pods` may change from one request to the next.
 */
async function fakeApi(
  pods: string | ((index: number) => string),
  events: string,
  logs: PreviousLogs = {},
): Promise<{ port: number; seen: SeenRequest[] }> {
  let podRequests = 0;
  const logRequests: Record<string, number> = {};
  const logPath = new RegExp(`^/api/v1/namespaces/${NAMESPACE}/pods/([^/]+)/log$`);
  return httpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const logOf = logPath.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      sendJson(res, 401, k8sStatus(401, 'Unauthorized', 'Unauthorized'));
    } else if (logOf && url.searchParams.get('previous') === 'true') {
      const pod = decodeURIComponent(logOf[1]);
      const container = url.searchParams.get('container') ?? '';
      const key = `${pod}/${container}`;
      const answers = [logs[key] ?? noPreviousRun(pod, container)].flat();
      const answer = answers[Math.min(logRequests[key] ?? 0, answers.length - 1)];
      logRequests[key] = (logRequests[key] ?? 0) + 1;
      if (answer.status !== 200) {
        sendJson(res, answer.status, answer.body);
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(
          answer.ignoreTail ? answer.body : tail(answer.body, url.searchParams.get('tailLines')),
        );
      }
    } else if (url.pathname === `/api/v1/namespaces/${NAMESPACE}/pods`) {
      // A wrong selector gets an empty list, which the assertions would notice.
      const matches = url.searchParams.get('labelSelector') === SELECTOR;
      const list = typeof pods === 'string' ? pods : pods(podRequests++);
      sendJson(res, 200, matches ? list : '{"kind":"PodList","apiVersion":"v1","items":[]}');
    } else if (
      url.pathname === `/api/v1/namespaces/${NAMESPACE}/events` &&
      url.searchParams.get('fieldSelector') === 'type=Warning'
    ) {
      sendJson(res, 200, events);
    } else {
      sendJson(res, 404, k8sStatus(404, 'NotFound', `the server could not find ${url.pathname}`));
    }
  });
}

function diagnosisEnv(apiPort: number, token = tokenFile()): Record<string, string> {
  return {
    TARGET_NAMESPACE: NAMESPACE,
    TARGET_SELECTOR: SELECTOR,
    KUBE_API_URL: `http://127.0.0.1:${apiPort}`,
    KUBE_TOKEN_FILE: token,
  };
}

function onlyFailure(monitor: Monitor): CheckLine {
  const [check] = monitor.of<CheckLine>('check');
  expect(check).toMatchObject({ ok: false, consecutive_failures: 1, check: 1 });
  expect(typeof check.latency_ms).toBe('number');
  expect(typeof check.detail).toBe('string');
  expect(monitor.of('state')).toEqual([
    expect.objectContaining({
      from: 'UNKNOWN',
      to: 'DOWN',
      message: 'UNKNOWN -> DOWN on first check',
      reason: check.reason,
    }),
  ]);
  return check;
}

describe('debug_monitor.py checks', () => {
  test.concurrent(
    'a healthy target gives ok check lines and a single UNKNOWN -> UP state line',
    async () => {
      const target = await httpServer((_req, res) => sendJson(res, 200, '{"status":"ok"}'));
      const url = `http://127.0.0.1:${target.port}/health`;
      const token = tokenFile();
      const monitor = await runChecks({ TARGET_URL: url, KUBE_TOKEN_FILE: token }, 3);

      expect(monitor.lines[0]).toMatchObject({
        event: 'start',
        url,
        interval_s: 0.1,
        timeout_s: 2,
        kube_api_url: 'https://kubernetes.default.svc',
        kube_token_file: token,
        kube_token_present: true,
        diagnose_interval_s: 30,
      });
      expect(JSON.stringify(monitor.lines)).not.toContain(TOKEN);
      const checks = monitor.of<CheckLine>('check');
      expect(checks.map((c) => [c.check, c.ok, c.status, c.consecutive_failures])).toEqual([
        [1, true, 200, 0],
        [2, true, 200, 0],
        [3, true, 200, 0],
      ]);
      for (const check of checks) {
        expect(check.url).toBe(url);
        expect(check.latency_ms).toBeGreaterThanOrEqual(0);
        expect(check.latency_ms).toBeLessThan(1000);
        expect(check).not.toHaveProperty('reason');
      }
      expect(monitor.of('state').map((s) => s.message)).toEqual(['UNKNOWN -> UP on first check']);
      expect(monitor.of('diagnosis_error')).toEqual([]);
      expect(target.seen.map((r) => r.url)).toEqual(['/health', '/health', '/health']);
      expect(target.seen[0].userAgent).toMatch(/^sophia-debug-monitor\//);
    },
  );

  test.concurrent(
    'http: a 500 answer is reported with its status and the first 200 bytes of its body',
    async () => {
      const body = `{"detail":"database \\"sophia\\" does not exist"} ${'x'.repeat(300)}`;
      const target = await httpServer((_req, res) => sendJson(res, 500, body));
      const monitor = await runChecks({ TARGET_URL: `http://127.0.0.1:${target.port}/health` });

      const check = onlyFailure(monitor);
      expect(check).toMatchObject({
        reason: 'http',
        status: 500,
        detail: 'HTTP 500 Internal Server Error',
        body: body.slice(0, 200),
      });
    },
  );

  test.concurrent(
    'timeout: a server that never answers is cut off after TIMEOUT_SECONDS',
    async () => {
      const target = await httpServer(() => undefined);
      const monitor = await runChecks({
        TARGET_URL: `http://127.0.0.1:${target.port}/health`,
        TIMEOUT_SECONDS: '0.5',
      });

      const check = onlyFailure(monitor);
      expect(check).toMatchObject({ reason: 'timeout', status: null });
      expect(check.detail).toContain('no complete answer within 0.5 s');
      expect(check.latency_ms).toBeGreaterThanOrEqual(450);
      expect(check.latency_ms).toBeLessThan(1500);
    },
  );

  test.concurrent(
    'timeout: the limit covers the whole answer, even one dripped a byte at a time',
    async () => {
      const answer = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{"status":"ok"}');
      const port = await tcpServer((socket) => {
        let sent = 0;
        const timer = setInterval(() => {
          if (sent >= answer.length || socket.destroyed) return clearInterval(timer);
          socket.write(answer.subarray(sent, ++sent));
        }, 50);
        socket.on('close', () => clearInterval(timer));
        cleanups.push(() => clearInterval(timer));
      });
      const monitor = await runChecks({
        TARGET_URL: `http://127.0.0.1:${port}/health`,
        TIMEOUT_SECONDS: '0.5',
      });

      const check = onlyFailure(monitor);
      expect(check.reason).toBe('timeout');
      expect(check.latency_ms).toBeLessThan(1500);
    },
  );

  test.concurrent(
    'user:password in TARGET_URL is never logged nor used as a metrics label',
    async () => {
      const target = await httpServer((_req, res) => sendJson(res, 200, '{"status":"ok"}'));
      const monitor = await runChecks({
        TARGET_URL: `http://probe:s3cr3t-pw@127.0.0.1:${target.port}/health`,
      });
      expect(JSON.stringify(monitor.lines)).not.toContain('s3cr3t-pw');
      expect(monitor.of<CheckLine>('check')[0]).toMatchObject({
        ok: true,
        url: `http://127.0.0.1:${target.port}/health`,
      });
    },
  );

  test.concurrent('connect: a closed port is a refused connection', async () => {
    const port = await freePort();
    const monitor = await runChecks({ TARGET_URL: `http://127.0.0.1:${port}/health` });

    const check = onlyFailure(monitor);
    expect(check).toMatchObject({ reason: 'connect', status: null });
    expect(check.detail).toContain(`connection refused by 127.0.0.1:${port}`);
  });

  test.concurrent('dns: a name that does not resolve', async () => {
    const monitor = await runChecks({ TARGET_URL: 'http://no-such-host.invalid:80/health' });

    const check = onlyFailure(monitor);
    expect(check).toMatchObject({ reason: 'dns', status: null });
    expect(check.detail).toContain("'no-such-host.invalid'");
  });

  test.concurrent('invalid: a TCP server that answers garbage instead of HTTP', async () => {
    const port = await tcpServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    const monitor = await runChecks({ TARGET_URL: `http://127.0.0.1:${port}/health` });

    const check = onlyFailure(monitor);
    expect(check).toMatchObject({ reason: 'invalid', status: null });
    expect(check.detail).toContain('did not answer HTTP');
    expect(check.detail).toContain('SSH-2.0-OpenSSH_9.6');
  });

  test.concurrent('invalid: a server that closes the connection without answering', async () => {
    const port = await tcpServer((socket) => socket.end());
    const monitor = await runChecks({ TARGET_URL: `http://127.0.0.1:${port}/health` });

    const check = onlyFailure(monitor);
    expect(check).toMatchObject({ reason: 'invalid', status: null });
    expect(check.detail).toContain('closed the connection without answering');
  });

  test.concurrent(
    'state lines follow DOWN -> UP -> DOWN, and the diagnosis is rate-limited',
    async () => {
      const statuses = [500, 500, 200, 200, 503];
      const target = await httpServer((_req, res, index) =>
        sendJson(res, statuses[index] ?? 200, '{"status":"?"}'),
      );
      const monitor = await runChecks(
        { TARGET_URL: `http://127.0.0.1:${target.port}/health`, INTERVAL_SECONDS: '0.15' },
        5,
      );

      const checks = monitor.of<CheckLine>('check');
      expect(checks.map((c) => [c.ok, c.status, c.consecutive_failures, c.reason ?? null])).toEqual(
        [
          [false, 500, 1, 'http'],
          [false, 500, 2, 'http'],
          [true, 200, 0, null],
          [true, 200, 0, null],
          [false, 503, 1, 'http'],
        ],
      );
      const states = monitor.of('state');
      expect(states.map((s) => [s.from, s.to])).toEqual([
        ['UNKNOWN', 'DOWN'],
        ['DOWN', 'UP'],
        ['UP', 'DOWN'],
      ]);
      expect(states[0].message).toBe('UNKNOWN -> DOWN on first check');
      expect(states[1].message).toMatch(/^DOWN -> UP after \d+\.\d s down$/);
      expect(states[2].message).toMatch(/^UP -> DOWN after \d+\.\d s up$/);
      // Checks start every 0.15 s and a state's time is taken when its check
      // ends, so DOWN -> UP spans two intervals less what check 1 took longer
      // than check 3 (a CPU-starved first check takes tens of ms more); 0.05 s
      // of slack for the moments between a check's end and its state line.
      const slower = (checks[0].latency_ms - checks[2].latency_ms) / 1000;
      expect(states[1].duration_s).toBeGreaterThanOrEqual(0.3 - slower - 0.05);
      expect(states[1].duration_s).toBeLessThan(2);
      // Each state line comes right after the check that caused it.
      const order = monitor.lines.map((l) =>
        l.event === 'check' ? `check${String(l.check)}` : l.event,
      );
      expect(order.indexOf('state')).toBe(order.indexOf('check1') + 1);
      // Diagnosed on each change to DOWN, not on the second failure in a row
      // (DIAGNOSE_INTERVAL_SECONDS defaults to 30); not configured here.
      expect(monitor.of('diagnosis_error')).toEqual([
        expect.objectContaining({ reason: 'not_configured' }),
        expect.objectContaining({ reason: 'not_configured' }),
      ]);
    },
  );
});

describe('debug_monitor.py Kubernetes diagnosis', () => {
  test.concurrent(
    'logs pods, containers and Warning events from the API when the target is down',
    async () => {
      const api = await fakeApi(
        fixture('pods-sophia-backend.json'),
        fixture('events-warning.json'),
        {
          [`${CRASHING_POD}/backend`]: { status: 200, body: fixture('log-backend-previous.txt') },
        },
      );
      const monitor = await runChecks({
        TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
        ...diagnosisEnv(api.port),
      });

      // The requests: right paths, selector, field selector and token; then the
      // previous logs of the two containers whose last run failed.
      expect(api.seen).toHaveLength(4);
      for (const request of api.seen) expect(request.authorization).toBe(`Bearer ${TOKEN}`);
      const [podsUrl, eventsUrl, ...logUrls] = api.seen.map((r) => new URL(r.url, 'http://api'));
      expect(podsUrl.pathname).toBe(`/api/v1/namespaces/${NAMESPACE}/pods`);
      expect(podsUrl.searchParams.get('labelSelector')).toBe(SELECTOR);
      expect(eventsUrl.pathname).toBe(`/api/v1/namespaces/${NAMESPACE}/events`);
      expect(eventsUrl.search).toBe('?fieldSelector=type%3DWarning');
      expect(logUrls.map((u) => `${u.pathname}${u.search}`)).toEqual([
        `/api/v1/namespaces/${NAMESPACE}/pods/${CRASHING_POD}/log?container=backend&previous=true&tailLines=20`,
        `/api/v1/namespaces/${NAMESPACE}/pods/${INIT_FAILING_POD}/log?container=migrate&previous=true&tailLines=20`,
      ]);

      // The crashed backend's traceback, as one line; the init container's
      // previous run is gone (the API says 400), which is a diagnosis_error.
      expect(monitor.of('previous_log')).toEqual([
        expect.objectContaining({
          namespace: NAMESPACE,
          pod: CRASHING_POD,
          container: 'backend',
          init: false,
          restart_count: 9,
          exit_code: 3,
          reason: 'Error',
          finished_at: '2024-05-14T08:31:09Z',
          lines: fixture('log-backend-previous.txt').replace(/\n$/, '').split('\n'),
          truncated: false,
        }),
      ]);
      const [traceback] = monitor.of<PreviousLogLine>('previous_log');
      expect(traceback.lines).toHaveLength(19);
      expect(traceback.lines).toContain(
        "FileNotFoundError: [Errno 2] No such file or directory: '/app/models/config.json'",
      );
      expect(traceback.lines[traceback.lines.length - 1]).toBe(
        'ERROR:    Application startup failed. Exiting.',
      );
      expect(monitor.of('diagnosis_error')).toEqual([
        expect.objectContaining({
          step: 'previous_log',
          reason: 'http',
          status: 400,
          pod: INIT_FAILING_POD,
          container: 'migrate',
          detail: expect.stringContaining('previous terminated container "migrate"'),
        }),
      ]);
      expect(monitor.of('diagnosis')).toEqual([
        expect.objectContaining({
          trigger: 'state_change',
          namespace: NAMESPACE,
          selector: SELECTOR,
          pods: 2,
          warning_events: 3,
        }),
      ]);

      const pods = monitor.of<PodLine>('pod');
      expect(pods.map((p) => [p.name, p.phase, p.ready, p.restarts])).toEqual([
        ['sophia-backend-7d9f8b6c5d-x2x7k', 'Running', false, 9],
        ['sophia-backend-5c8d7f9b44-q9m4z', 'Pending', false, 2],
      ]);

      const [crashing, initFailing] = pods;
      expect(crashing.containers).toEqual([
        expect.objectContaining({
          name: 'wait-for-models',
          init: true,
          state: 'terminated',
          last_termination_reason: 'Completed',
          last_termination_exit_code: 0,
        }),
        expect.objectContaining({
          name: 'backend',
          init: false,
          ready: false,
          restart_count: 9,
          state: 'waiting',
          waiting_reason: 'CrashLoopBackOff',
          last_termination_reason: 'Error',
          last_termination_exit_code: 3,
          last_termination_message: 'ERROR:    Application startup failed. Exiting.\n',
        }),
      ]);
      expect(crashing.containers[1].waiting_message).toContain('back-off 5m0s restarting failed');
      expect(crashing.containers[1].exit_code_meaning).toContain('uvicorn');
      expect(crashing.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'False', 'ContainersNotReady'],
        ['ContainersReady', 'False', 'ContainersNotReady'],
      ]);

      expect(initFailing.containers).toEqual([
        expect.objectContaining({
          name: 'migrate',
          init: true,
          restart_count: 2,
          state: 'terminated',
          last_termination_reason: 'Error',
          last_termination_exit_code: 1,
        }),
        expect.objectContaining({
          name: 'backend',
          init: false,
          waiting_reason: 'PodInitializing',
        }),
      ]);
      expect(initFailing.containers[0].last_termination_message).toContain(
        'could not translate host name "postgres"',
      );
      expect(initFailing.conditions[0]).toMatchObject({
        type: 'Initialized',
        status: 'False',
        reason: 'ContainersNotInitialized',
      });

      // Only the target pods' events, most recent first; the other pod's newer
      // FailedMount and the ReplicaSet's FailedCreate are left out.
      expect(monitor.of('k8s_event')).toEqual([
        expect.objectContaining({
          object: 'Pod/sophia-backend-5c8d7f9b44-q9m4z',
          scope: 'pod',
          type: 'Warning',
          reason: 'BackOff',
          count: 3,
          last_timestamp: '2024-05-14T08:31:51.907522Z',
        }),
        expect.objectContaining({
          object: 'Pod/sophia-backend-7d9f8b6c5d-x2x7k',
          reason: 'BackOff',
          message: expect.stringContaining('Back-off restarting failed container backend'),
          count: 37,
          last_timestamp: '2024-05-14T08:31:40Z',
        }),
        expect.objectContaining({
          object: 'Pod/sophia-backend-7d9f8b6c5d-x2x7k',
          reason: 'Unhealthy',
          message: expect.stringContaining('connection refused'),
          count: 14,
          last_timestamp: '2024-05-14T08:25:02Z',
        }),
      ]);

      // Order: check, state, then the diagnosis; the token never shows.
      expect(monitor.lines.map((l) => l.event)).toEqual([
        'start',
        'check',
        'state',
        'diagnosis',
        'pod',
        'pod',
        'k8s_event',
        'k8s_event',
        'k8s_event',
        'previous_log',
        'diagnosis_error',
        'stop',
      ]);
      expect(JSON.stringify(monitor.lines)).not.toContain(TOKEN);
    },
  );

  test.concurrent(
    'a previous log is shown once per restart; a 5xx is retried, a 4xx is not',
    async () => {
      const podList = fixture('pods-sophia-backend.json');
      // The backend restarts once more before the third diagnosis.
      const restarted = podList.replace('"restartCount": 9', '"restartCount": 10');
      expect(restarted).not.toBe(podList);
      const log = fixture('log-backend-previous.txt');
      const api = await fakeApi((index) => (index < 2 ? podList : restarted), '{"items":[]}', {
        [`${CRASHING_POD}/backend`]: [
          { status: 503, body: k8sStatus(503, 'ServiceUnavailable', 'etcd leader changed') },
          { status: 200, body: log },
        ],
      });
      const monitor = await runChecks(
        {
          TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
          ...diagnosisEnv(api.port),
          DIAGNOSE_INTERVAL_SECONDS: '0',
        },
        4,
      );

      expect(monitor.of('diagnosis')).toHaveLength(4);
      const logRequests = api.seen
        .map((r) => new URL(r.url, 'http://api'))
        .filter((u) => u.pathname.endsWith('/log'))
        .map((u) => u.searchParams.get('container'));
      // backend: 503, then 200 (restart 9), then 200 (restart 10); migrate: 400 once.
      expect(logRequests).toEqual(['backend', 'migrate', 'backend', 'backend']);
      expect(
        monitor.of<PreviousLogLine>('previous_log').map((l) => [l.container, l.restart_count]),
      ).toEqual([
        ['backend', 9],
        ['backend', 10],
      ]);
      expect(monitor.of('diagnosis_error').map((e) => [e.container, e.status, e.reason])).toEqual([
        ['backend', 503, 'http'],
        ['migrate', 400, 'http'],
      ]);
    },
  );

  test.concurrent(
    'a refused log request (403) is a diagnosis_error with a hint, and the checks go on',
    async () => {
      const forbidden = k8sStatus(
        403,
        'Forbidden',
        'pods "sophia-backend-7d9f8b6c5d-x2x7k" is forbidden: User "system:serviceaccount:sophia-ai-prod:sophia-backend-monitor" cannot get resource "pods/log" in API group "" in the namespace "sophia-ai-prod"',
      );
      const refused = { status: 403, body: forbidden };
      const api = await fakeApi(fixture('pods-sophia-backend.json'), '{"items":[]}', {
        [`${CRASHING_POD}/backend`]: refused,
        [`${INIT_FAILING_POD}/migrate`]: refused,
      });
      const monitor = await runChecks(
        {
          TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
          ...diagnosisEnv(api.port),
          DIAGNOSE_INTERVAL_SECONDS: '0',
        },
        2,
      );

      const errors = monitor.of('diagnosis_error');
      expect(errors.map((e) => [e.step, e.reason, e.status, e.pod, e.container])).toEqual([
        ['previous_log', 'http', 403, CRASHING_POD, 'backend'],
        ['previous_log', 'http', 403, INIT_FAILING_POD, 'migrate'],
      ]);
      expect(errors[0].detail).toContain('cannot get resource "pods/log"');
      expect(errors[0].detail).toContain("the monitor's Role needs get on pods/log");
      expect(monitor.of('previous_log')).toEqual([]);
      // Both diagnoses still logged the pods.
      expect(monitor.of('pod')).toHaveLength(4);
    },
  );

  test.concurrent(
    'at most 4 previous logs per diagnosis; the rest come with the next one',
    async () => {
      const names = Array.from({ length: 6 }, (_, i) => `sophia-backend-7d9f8b6c5d-p${i}`);
      const podList = JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        items: names.map((name) => ({
          metadata: { name, namespace: NAMESPACE },
          status: {
            phase: 'Running',
            containerStatuses: [
              {
                name: 'backend',
                restartCount: 1,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
                lastState: { terminated: { exitCode: 1, reason: 'Error' } },
              },
            ],
          },
        })),
      });
      const logs = Object.fromEntries(
        names.map((name) => [`${name}/backend`, { status: 200, body: `crash of ${name}\n` }]),
      );
      const api = await fakeApi(podList, '{"items":[]}', logs);
      const monitor = await runChecks(
        {
          TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
          ...diagnosisEnv(api.port),
          DIAGNOSE_INTERVAL_SECONDS: '0',
        },
        3,
      );

      const shown = monitor.of<PreviousLogLine>('previous_log');
      expect(shown.map((l) => l.lines)).toEqual(names.map((name) => [`crash of ${name}`]));
      // Diagnosis 1 fetched four, diagnosis 2 the other two, diagnosis 3 none.
      const events = monitor.lines.map((l) => l.event).filter((e) => e !== 'pod');
      expect(events).toEqual([
        'start',
        'check',
        'state',
        'diagnosis',
        ...Array(4).fill('previous_log'),
        'check',
        'diagnosis',
        ...Array(2).fill('previous_log'),
        'check',
        'diagnosis',
        'stop',
      ]);
    },
  );

  test.concurrent('only the last 20 lines are kept, and long lines are clipped', async () => {
    const numbered = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    numbered[29] = `RuntimeError: ${'x'.repeat(600)}`;
    const api = await fakeApi(fixture('pods-sophia-backend.json'), '{"items":[]}', {
      [`${CRASHING_POD}/backend`]: {
        status: 200,
        body: `${numbered.join('\n')}\n`,
        ignoreTail: true,
      },
    });
    const monitor = await runChecks({
      TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
      ...diagnosisEnv(api.port),
    });

    const [line] = monitor.of<PreviousLogLine>('previous_log');
    expect(line.lines).toHaveLength(20);
    expect(line.lines[0]).toBe('line 11');
    expect(line.lines[19]).toBe(`RuntimeError: ${'x'.repeat(486)}...`);
  });

  test.concurrent(
    'with no matching pod, it says so and shows the namespace warnings instead',
    async () => {
      const api = await fakeApi(
        '{"kind":"PodList","apiVersion":"v1","items":[]}',
        fixture('events-warning.json'),
      );
      const monitor = await runChecks({
        TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
        ...diagnosisEnv(api.port),
      });

      const [diagnosis] = monitor.of('diagnosis');
      expect(diagnosis).toMatchObject({ pods: 0, warning_events: 5 });
      expect(diagnosis.detail).toContain('no pod matches the selector');
      const events = monitor.of('k8s_event');
      expect(events.every((e) => e.scope === 'namespace')).toBe(true);
      expect(events[0]).toMatchObject({ object: 'Pod/other-worker-6b5d4c3f2e-zz9zz' });
      expect(events).toContainEqual(
        expect.objectContaining({
          object: 'ReplicaSet/sophia-backend-5c8d7f9b44',
          reason: 'FailedCreate',
          message: expect.stringContaining('exceeded quota'),
        }),
      );
    },
  );

  test.concurrent('a missing token file becomes a diagnosis_error line, not a crash', async () => {
    const api = await fakeApi('{}', '{}');
    const monitor = await runChecks({
      TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
      ...diagnosisEnv(api.port, '/nonexistent/serviceaccount/token'),
    });

    expect(monitor.of('diagnosis_error')).toEqual([
      expect.objectContaining({
        step: 'token',
        reason: 'token',
        detail: expect.stringContaining('/nonexistent/serviceaccount/token'),
      }),
    ]);
    expect(api.seen).toEqual([]);
    expect(monitor.of('pod')).toEqual([]);
  });

  test.concurrent(
    'a 403 from the API becomes diagnosis_error lines with the API message and a hint',
    async () => {
      const forbidden = k8sStatus(
        403,
        'Forbidden',
        'pods is forbidden: User "system:serviceaccount:sophia-ai-prod:debug-monitor" cannot list resource "pods"',
      );
      const api = await httpServer((_req, res) => sendJson(res, 403, forbidden));
      const monitor = await runChecks({
        TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
        ...diagnosisEnv(api.port),
      });

      const errors = monitor.of('diagnosis_error');
      expect(errors.map((e) => [e.step, e.reason, e.status])).toEqual([
        ['pods', 'http', 403],
        ['events', 'http', 403],
      ]);
      expect(errors[0].detail).toContain('cannot list resource "pods"');
      expect(errors[0].detail).toContain('RoleBinding');
      expect(monitor.of('diagnosis')).toEqual([
        expect.objectContaining({ pods: null, warning_events: null }),
      ]);
    },
  );

  test.concurrent('an API answer that is not JSON becomes an invalid diagnosis_error', async () => {
    const api = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    });
    const monitor = await runChecks({
      TARGET_URL: `http://127.0.0.1:${await freePort()}/health`,
      ...diagnosisEnv(api.port),
    });

    const errors = monitor.of('diagnosis_error');
    expect(errors.map((e) => [e.step, e.reason])).toEqual([
      ['pods', 'invalid'],
      ['events', 'invalid'],
    ]);
    expect(errors[0].detail).toContain('not JSON');
  });

  test.concurrent(
    'an unreachable API and a missing CA file become diagnosis_error lines',
    async () => {
      const target = `http://127.0.0.1:${await freePort()}/health`;
      const unreachable = await runChecks({
        TARGET_URL: target,
        ...diagnosisEnv(await freePort()),
      });
      expect(unreachable.of('diagnosis_error').map((e) => [e.step, e.reason])).toEqual([
        ['pods', 'connect'],
        ['events', 'connect'],
      ]);

      const noCa = await runChecks({
        TARGET_URL: target,
        ...diagnosisEnv(await freePort()),
        KUBE_API_URL: 'https://127.0.0.1:6443',
        KUBE_CA_FILE: '/nonexistent/ca.crt',
      });
      expect(noCa.of('diagnosis_error')).toEqual([
        expect.objectContaining({
          step: 'ca',
          reason: 'ca',
          detail: expect.stringContaining('/nonexistent/ca.crt'),
        }),
      ]);
    },
  );
});

describe('debug_monitor.py metrics, signals and configuration', () => {
  test.concurrent(
    '/metrics counts successful checks, /healthz is ok, anything else is 404; SIGTERM stops it',
    async () => {
      const target = await httpServer((_req, res) => sendJson(res, 200, '{"status":"ok"}'));
      const url = `http://127.0.0.1:${target.port}/health`;
      const monitor = startMonitor({ TARGET_URL: url });
      await monitor.waitForChecks(3);
      const base = `http://127.0.0.1:${monitor.metricsPort()}`;

      const metrics = await get(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      for (const [name, type] of [
        ['debug_monitor_target_up', 'gauge'],
        ['debug_monitor_last_latency_seconds', 'gauge'],
        ['debug_monitor_consecutive_failures', 'gauge'],
        ['debug_monitor_checks_total', 'counter'],
        ['debug_monitor_last_failure_reason', 'gauge'],
      ]) {
        expect(metrics.body).toContain(`# HELP ${name} `);
        expect(metrics.body).toContain(`# TYPE ${name} ${type}\n`);
      }
      const samples = parseMetrics(metrics.body);
      const label = `target="${url}"`;
      expect(samples.get(`debug_monitor_target_up{${label}}`)).toBe(1);
      expect(samples.get(`debug_monitor_consecutive_failures{${label}}`)).toBe(0);
      const latency = samples.get(`debug_monitor_last_latency_seconds{${label}}`);
      expect(latency).toBeGreaterThan(0);
      expect(latency).toBeLessThan(1);
      expect(
        samples.get(`debug_monitor_checks_total{${label},result="ok",reason="none"}`),
      ).toBeGreaterThanOrEqual(3);
      for (const reason of ['dns', 'connect', 'timeout', 'http', 'invalid']) {
        expect(
          samples.get(`debug_monitor_checks_total{${label},result="fail",reason="${reason}"}`),
        ).toBe(0);
        // Up: no current failure reason.
        expect(samples.get(`debug_monitor_last_failure_reason{${label},reason="${reason}"}`)).toBe(
          0,
        );
      }

      expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: 'ok' });
      expect((await get(`${base}/nope`)).status).toBe(404);

      monitor.child.kill('SIGTERM');
      expect(await monitor.waitExit(2000)).toEqual({ code: 0, signal: null });
      expect(monitor.lines[monitor.lines.length - 1]).toMatchObject({
        event: 'stop',
        reason: 'signal',
        signal: 'SIGTERM',
        state: 'UP',
      });
      expect(monitor.stderr).toBe('');
    },
  );

  test.concurrent(
    '/metrics of a failing target: up 0, failures counted by reason; SIGINT stops it',
    async () => {
      const target = await httpServer((_req, res) => sendJson(res, 500, '{"detail":"boom"}'));
      const url = `http://127.0.0.1:${target.port}/health`;
      const monitor = startMonitor({ TARGET_URL: url });
      await monitor.waitForChecks(2);

      const samples = parseMetrics(
        (await get(`http://127.0.0.1:${monitor.metricsPort()}/metrics`)).body,
      );
      const label = `target="${url}"`;
      expect(samples.get(`debug_monitor_target_up{${label}}`)).toBe(0);
      const failures = samples.get(`debug_monitor_consecutive_failures{${label}}`) ?? 0;
      expect(failures).toBeGreaterThanOrEqual(2);
      // Updated atomically: every check so far failed with http.
      expect(samples.get(`debug_monitor_checks_total{${label},result="fail",reason="http"}`)).toBe(
        failures,
      );
      expect(samples.get(`debug_monitor_checks_total{${label},result="ok",reason="none"}`)).toBe(0);
      // The reason, as one series at 1 among the five.
      const reasons = ['dns', 'connect', 'timeout', 'http', 'invalid'].map((reason) => [
        reason,
        samples.get(`debug_monitor_last_failure_reason{${label},reason="${reason}"}`),
      ]);
      expect(reasons).toEqual([
        ['dns', 0],
        ['connect', 0],
        ['timeout', 0],
        ['http', 1],
        ['invalid', 0],
      ]);

      monitor.child.kill('SIGINT');
      expect(await monitor.waitExit(2000)).toEqual({ code: 0, signal: null });
      expect(monitor.lines[monitor.lines.length - 1]).toMatchObject({
        event: 'stop',
        signal: 'SIGINT',
        state: 'DOWN',
      });
      expect(monitor.stderr).toBe('');
    },
  );

  test.concurrent('SIGTERM during the sleep between checks exits 0 at once', async () => {
    const target = await httpServer((_req, res) => sendJson(res, 200, '{"status":"ok"}'));
    const monitor = startMonitor({
      TARGET_URL: `http://127.0.0.1:${target.port}/health`,
      INTERVAL_SECONDS: '60',
    });
    await monitor.waitForChecks(1);
    const started = Date.now();
    monitor.child.kill('SIGTERM');

    expect(await monitor.waitExit(3000)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(monitor.lines[monitor.lines.length - 1]).toMatchObject({
      event: 'stop',
      signal: 'SIGTERM',
      checks: 1,
    });
  });

  test.concurrent(
    'SIGTERM during a hanging check exits 0 at once, with stop as the last line',
    async () => {
      const target = await httpServer(() => undefined);
      const monitor = startMonitor({
        TARGET_URL: `http://127.0.0.1:${target.port}/health`,
        TIMEOUT_SECONDS: '20',
      });
      await monitor.waitFor((line) => line.event === 'start');
      while (target.seen.length === 0) await sleep(20);
      const started = Date.now();
      monitor.child.kill('SIGTERM');

      expect(await monitor.waitExit(3000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(monitor.of('check')).toEqual([]);
      expect(monitor.lines[monitor.lines.length - 1]).toMatchObject({
        event: 'stop',
        signal: 'SIGTERM',
      });
      expect(monitor.stderr).toBe('');
    },
  );

  test.concurrent('a busy METRICS_PORT is logged and the checks go on', async () => {
    const busy = net.createServer();
    const port = await listen(busy);
    const target = await httpServer((_req, res) => sendJson(res, 200, '{"status":"ok"}'));
    const monitor = await runChecks({
      TARGET_URL: `http://127.0.0.1:${target.port}/health`,
      METRICS_PORT: String(port),
    });
    // The busy server listens on 127.0.0.1 only; binding 0.0.0.0 on the same
    // port fails on Linux, which is what this test relies on.
    expect(monitor.of('metrics_error')).toEqual([
      expect.objectContaining({ detail: expect.stringContaining(`0.0.0.0:${port}`) }),
    ]);
    expect(monitor.of('start')[0].metrics_port).toBeNull();
    expect(monitor.of<CheckLine>('check')[0].ok).toBe(true);
  });

  test.each([
    [{}, 'TARGET_URL is required'],
    [{ TARGET_URL: 'ftp://example.com/health' }, 'must be an http:// or https:// URL'],
    [{ TARGET_URL: 'http://x/health', INTERVAL_SECONDS: 'soon' }, 'INTERVAL_SECONDS'],
    [{ TARGET_URL: 'http://x/health', TIMEOUT_SECONDS: '0' }, 'TIMEOUT_SECONDS'],
  ])('invalid configuration %j exits 2 with a config_error line', async (env, message) => {
    const monitor = startMonitor({ TARGET_URL: '', ...env });
    expect(await monitor.waitExit()).toEqual({ code: 2, signal: null });
    expect(monitor.lines).toEqual([
      expect.objectContaining({ event: 'config_error', detail: expect.stringContaining(message) }),
    ]);
  });
});
