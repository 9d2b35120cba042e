import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

// The real backend, run by the real interpreter from the venv that
// `npm test` prepares (scripts/python-env.sh).
const ROOT = path.resolve(__dirname, '..');
const PYTHON = path.join(ROOT, '.build', 'venv', 'bin', 'python');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHealth(
  url: string,
  child: ChildProcess,
  deadlineMs: number,
): Promise<Response> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`app.py exited with ${child.exitCode}`);
    try {
      return await fetch(url);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no answer from ${url} within ${deadlineMs} ms`);
}

describe('app/app.py', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  test('serves /health and / on the port from PORT, writing nothing next to itself', async () => {
    const before = fs.readdirSync(path.join(ROOT, 'app')).sort();
    const port = await freePort();
    child = spawn(PYTHON, ['app.py'], {
      cwd: path.join(ROOT, 'app'),
      env: { PATH: process.env.PATH, PORT: String(port) },
      stdio: 'ignore',
    });
    const health = await waitForHealth(`http://127.0.0.1:${port}/health`, child, 15000);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const index = await fetch(`http://127.0.0.1:${port}/`);
    expect(index.status).toBe(200);
    expect(await index.json()).toMatchObject({ service: 'sophia-backend' });
    expect(fs.readdirSync(path.join(ROOT, 'app')).sort()).toEqual(before);
  });
});
