/**
 * `--get PATH`: once the pod is READY, GET a path of the app from inside the
 * pod's network namespace (only it reaches the pod IP), to prove more than
 * the health endpoint answers: an endpoint served by a nested package, a
 * setting read from a Secret.
 */
import { execFile } from 'child_process';
import { ContainerSpec } from './pod-spec';

export interface GetResult {
  readonly url: string;
  /** A 2xx answer. */
  readonly ok: boolean;
  /** `GET <url> -> HTTP 200: <body>`, or why it failed. */
  readonly line: string;
}

/** Run with `node -e` inside the namespace: one GET, one JSON line out. */
const GET_SOURCE = String.raw`
const http = require('http');
const done = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
const req = http.get(process.argv[1], { agent: false }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('error', (e) => done({ error: e.code || e.message }));
});
req.setTimeout(Number(process.argv[2]), () => { req.destroy(); done({ error: 'timeout' }); });
req.on('error', (e) => done({ error: e.code || e.message }));
`;

/** The port `--get` goes to: the first port the first container with ports declares. */
export function getPort(containers: readonly ContainerSpec[]): number | undefined {
  return containers.find((c) => c.ports.length > 0)?.ports[0].containerPort;
}

/** GETs `path` on `host:port` with the namespace's `enter` prefix (nsenter ... --). */
export function getInPod(
  enter: readonly string[],
  host: string,
  port: number,
  path: string,
  timeoutMs = 5000,
): Promise<GetResult> {
  const url = `http://${host}:${port}${path}`;
  return new Promise((resolve) => {
    const [file, ...args] = [...enter, process.execPath, '-e', GET_SOURCE, url, String(timeoutMs)];
    execFile(file, args, { timeout: timeoutMs + 5000 }, (error, stdout, stderr) => {
      let reply: { status?: number; body?: string; error?: string };
      try {
        reply = JSON.parse(stdout) as typeof reply;
      } catch {
        reply = { error: (stderr.trim() || error?.message) ?? 'no answer' };
      }
      if (reply.status === undefined) {
        resolve({ url, ok: false, line: `GET ${url} -> failed: ${reply.error}` });
        return;
      }
      const body = (reply.body ?? '').replace(/\s+/g, ' ').trim();
      const shown = body.length > 300 ? `${body.slice(0, 297)}...` : body;
      const ok = reply.status >= 200 && reply.status < 300;
      resolve({ url, ok, line: `GET ${url} -> HTTP ${reply.status}${shown ? `: ${shown}` : ''}` });
    });
  });
}
