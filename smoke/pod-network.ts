/**
 * The pod's network namespace, held by a small Node helper started in its
 * own bubblewrap sandbox (the pod's "pause" container). Every container
 * joins it with `nsenter --net`, so they share localhost as a pod's
 * containers do, and parallel smoke runs never collide on a port. The helper
 * also runs the probes from inside the namespace (the kubelet reaches the
 * pod IP; here only the namespace can) and forwards a local port to the
 * host's pip proxy.
 */
import { ChildProcess, execFile, spawn } from 'child_process';
import * as http from 'http';
import * as net from 'net';
import * as readline from 'readline';
import { ProbeReply, ProbeTarget, ProbeTransport } from './probes';

/** The pod IP: k3s' pod network, on the namespace's loopback (see start()). */
export const POD_IP = '10.42.0.10';

/**
 * The helper, run with `node -e`: it must not depend on how this module was
 * loaded (ts-jest or the esbuild bundle), hence plain JavaScript in a string.
 * stdin: one JSON probe request per line; stdout: one JSON reply per line,
 * after a first line with its pid and the proxy port.
 */
const HELPER_SOURCE = String.raw`
const net = require('net');
const http = require('http');
const https = require('https');
const readline = require('readline');
const proxySocket = process.argv[1];
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
function probe(r) {
  let finished = false;
  let req;
  const done = (o) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (req) req.destroy();
    send(Object.assign({ id: r.id }, o));
  };
  const timer = setTimeout(() => done({ timeout: true }), r.timeoutMs);
  const fail = (e) => done({ error: e.code || e.message });
  if (r.type === 'tcp') {
    req = net.connect({ host: r.host, port: r.port });
    req.once('connect', () => done({}));
    req.once('error', fail);
    return;
  }
  const mod = r.scheme === 'HTTPS' ? https : http;
  req = mod.request(
    { method: 'GET', host: r.host, port: r.port, path: r.path, headers: r.headers, agent: false, rejectUnauthorized: false },
    (res) => {
      // The kubelet reads at most 10 KiB of the body before it decides.
      let size = 0;
      res.on('data', (chunk) => { size += chunk.length; if (size > 10240) done({ status: res.statusCode }); });
      res.on('end', () => done({ status: res.statusCode }));
      res.on('error', fail);
    },
  );
  req.once('error', fail);
  req.end();
}
function ready(proxyPort) {
  send({ pid: process.pid, proxyPort });
  readline.createInterface({ input: process.stdin })
    .on('line', (line) => probe(JSON.parse(line)))
    .on('close', () => process.exit(0));
}
if (!proxySocket) {
  ready(0);
} else {
  const server = net.createServer((client) => {
    const upstream = net.connect(proxySocket);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1', () => ready(server.address().port));
}
`;

export interface PodNetworkOptions {
  readonly bwrap: string;
  readonly nsenter: string;
  /** `ip` from iproute2, to give the pod its IP; without it probes go to 127.0.0.1. */
  readonly ip?: string;
  /** A unix socket path for the host side of the pip proxy; undefined: no proxy. */
  readonly proxySocket?: string;
  /** Folders the helper must be able to write to (the proxy socket's). */
  readonly writable: readonly string[];
}

export class PodNetwork implements ProbeTransport {
  private readonly pending = new Map<number, (reply: ProbeReply) => void>();
  private nextId = 1;

  private constructor(
    private readonly helper: ChildProcess,
    lines: readline.Interface,
    /** The helper's pid on the host: its /proc/<pid>/ns/net is the pod's namespace. */
    public readonly pid: number,
    public readonly proxyPort: number,
    /** The pod IP the probes go to. */
    public readonly ip: string,
    private readonly nsenter: string,
    private readonly proxyServer: http.Server | undefined,
    private readonly proxySockets: Set<net.Socket>,
  ) {
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as ProbeReply & { id: number };
      this.pending.get(reply.id)?.(reply);
      this.pending.delete(reply.id);
    });
    helper.once('exit', () => {
      for (const resolve of this.pending.values()) {
        resolve({ error: 'the pod network helper exited' });
      }
      this.pending.clear();
    });
  }

  /** Starts the namespace holder, the pip proxy when asked for, and gives the pod its IP. */
  static async start(options: PodNetworkOptions): Promise<PodNetwork> {
    const proxySockets = new Set<net.Socket>();
    let proxyServer: http.Server | undefined;
    if (options.proxySocket !== undefined) {
      const server = startPipProxy(options.proxySocket, proxySockets);
      proxyServer = server;
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve).once('error', reject);
      });
    }
    const args = [
      '--ro-bind',
      '/',
      '/',
      ...options.writable.flatMap((dir) => ['--bind', dir, dir]),
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--unshare-net',
      '--die-with-parent',
      '--',
      process.execPath,
      '-e',
      HELPER_SOURCE,
      options.proxySocket ?? '',
    ];
    const helper = spawn(options.bwrap, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    helper.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const lines = readline.createInterface({ input: helper.stdout! });
    let first: { pid: number; proxyPort: number };
    try {
      first = await new Promise((resolve, reject) => {
        lines.once('line', (line) =>
          resolve(JSON.parse(line) as { pid: number; proxyPort: number }),
        );
        helper.once('exit', (code) =>
          reject(new Error(`the pod network helper exited (${code}): ${stderr.join('').trim()}`)),
        );
        helper.once('error', reject);
      });
    } catch (error) {
      proxyServer?.close();
      throw error;
    }
    let ip = '127.0.0.1';
    if (options.ip !== undefined) {
      // The kubelet probes the pod IP, not localhost: an app that listens on
      // 127.0.0.1 only must fail here as it fails there.
      const failed = await run(options.nsenter, [
        `--net=/proc/${first.pid}/ns/net`,
        '--',
        options.ip,
        'addr',
        'add',
        `${POD_IP}/32`,
        'dev',
        'lo',
      ]);
      if (failed === undefined) ip = POD_IP;
    }
    return new PodNetwork(
      helper,
      lines,
      first.pid,
      first.proxyPort,
      ip,
      options.nsenter,
      proxyServer,
      proxySockets,
    );
  }

  /** The command prefix that runs a program in the pod's network namespace. */
  enter(): string[] {
    return [this.nsenter, `--net=/proc/${this.pid}/ns/net`, '--'];
  }

  send(target: ProbeTarget, timeoutMs: number): Promise<ProbeReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      if (this.helper.exitCode !== null || this.helper.signalCode !== null) {
        resolve({ error: 'the pod network helper exited' });
        return;
      }
      this.pending.set(id, resolve);
      this.helper.stdin!.write(`${JSON.stringify({ id, timeoutMs, ...target })}\n`);
    });
  }

  /** The helper's pid, for the last-resort cleanup at exit. */
  get helperPid(): number | undefined {
    return this.helper.pid;
  }

  async stop(): Promise<void> {
    if (this.helper.exitCode === null && this.helper.signalCode === null) {
      const exited = new Promise((resolve) => this.helper.once('exit', resolve));
      this.helper.kill('SIGKILL');
      await exited;
    }
    for (const socket of this.proxySockets) socket.destroy();
    const server = this.proxyServer;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Runs a command; resolves to its error output, or undefined on success. */
function run(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, (error, _stdout, stderr) =>
      resolve(error ? stderr.trim() || error.message : undefined),
    );
  });
}

/**
 * An HTTP proxy on a unix socket, on the host's network: CONNECT tunnels for
 * https indexes, absolute-form requests for http ones. Only the helper (root,
 * through the work folder) can reach it.
 */
function startPipProxy(socketPath: string, sockets: Set<net.Socket>): http.Server {
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('smoke pip proxy: absolute URL expected\n');
      return;
    }
    const upstream = http.request(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`smoke pip proxy: ${error.message}\n`);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? '');
    if (!match) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(match[2]), match[1], () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    client.on('error', () => upstream.destroy());
  });
  server.listen(socketPath);
  return server;
}
