import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from '../helpers';

// The real backend, run by the real interpreter from the venv that
// `npm test` prepares (scripts/python-env.sh).
const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.build', 'venv', 'bin', 'python');

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

/** Every path under `dir`, relative, sorted: to see that a run wrote nothing. */
function treeOf(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((p) => p.split(path.sep).join('/'))
    .sort();
}

describe('app/app.py', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  test('serves /health, / and /v1/info from the sophia package on PORT, writing nothing next to itself', async () => {
    const before = treeOf(path.join(ROOT, 'app'));
    expect(before).toEqual(
      expect.arrayContaining(['sophia/routers/info.py', 'sophia/settings.py', 'requirements.txt']),
    );
    const port = await freePort();
    child = spawn(PYTHON, ['app.py'], {
      cwd: path.join(ROOT, 'app'),
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        SOPHIA_ENVIRONMENT: 'test',
        OPENAI_API_KEY: 'sk-test-never-echoed',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const health = await waitForHealth(`http://127.0.0.1:${port}/health`, child, 15000);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const index = await fetch(`http://127.0.0.1:${port}/`);
    expect(index.status).toBe(200);
    expect(await index.json()).toMatchObject({ service: 'sophia-backend' });
    const info = await fetch(`http://127.0.0.1:${port}/v1/info`);
    expect(info.status).toBe(200);
    const body = await info.text();
    expect(JSON.parse(body)).toEqual({
      service: 'sophia-backend',
      module: 'sophia.routers.info',
      environment: 'test',
      openai_api_key: 'set',
    });
    expect(body + output).not.toContain('sk-test-never-echoed');
    expect(treeOf(path.join(ROOT, 'app'))).toEqual(before);
  });

  test('a bad PORT stops the start with a message naming it', () => {
    const run = spawnSync(PYTHON, ['app.py'], {
      cwd: path.join(ROOT, 'app'),
      env: { PATH: process.env.PATH, PORT: 'eighty' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      "ValueError: PORT must be a port number from 1 to 65535, not 'eighty'",
    );
  });
});
