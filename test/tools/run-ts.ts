// scripts/run-ts.js's bundle cache: runs started together on a cold cache
// build the bundle once, and a lock left behind by a dead process does not
// hold anyone up. Real node processes on a tiny entry point in a temp folder.
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDirs } from '../helpers';

const RUN_TS = path.resolve(__dirname, '..', '..', 'scripts', 'run-ts.js');
const tmpDir = tempDirs();

/** A copy of run-ts.js in its own repo-like folder, with an entry that prints `text`. */
function sandbox(text: string): { dir: string; entry: string; bundles: string } {
  const dir = tmpDir('run-ts-');
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(RUN_TS, path.join(dir, 'scripts', 'run-ts.js'));
  // run-ts.js reads the ESM-only list and package.json's dependencies.
  fs.copyFileSync(
    path.join(path.dirname(RUN_TS), 'esm-packages.js'),
    path.join(dir, 'scripts', 'esm-packages.js'),
  );
  fs.writeFileSync(path.join(dir, 'package.json'), '{"dependencies": {}}\n');
  fs.symlinkSync(
    path.resolve(__dirname, '..', '..', 'node_modules'),
    path.join(dir, 'node_modules'),
  );
  const entry = path.join(dir, 'scripts', 'hello.ts');
  fs.writeFileSync(entry, `const text: string = ${JSON.stringify(text)};\nconsole.log(text);\n`);
  return { dir, entry, bundles: path.join(dir, '.build', 'bundles') };
}

function runTs(
  dir: string,
  entry: string,
): Promise<{ code: number | null; stdout: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(process.execPath, [path.join(dir, 'scripts', 'run-ts.js'), entry], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, ms: Date.now() - start }));
  });
}

test('eight runs at once on a cold cache: all run the entry, one bundle, no lock left', async () => {
  const { dir, entry, bundles } = sandbox('hello');
  const runs = await Promise.all(Array.from({ length: 8 }, () => runTs(dir, entry)));
  expect(runs.map((r) => [r.code, r.stdout])).toEqual(runs.map(() => [0, 'hello\n']));
  expect(fs.readdirSync(bundles).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  expect(fs.readdirSync(bundles).filter((f) => f.endsWith('.lock'))).toEqual([]);
});

test("a dead process's or an old lock is taken over at once; a live one's is waited for", async () => {
  const { dir, entry, bundles } = sandbox('after the lock');
  fs.mkdirSync(bundles, { recursive: true });
  // The lock beside the cache file, named as run-ts.js names it (entry name, path hash).
  const key = createHash('sha256').update(entry).digest('hex').slice(0, 12);
  const lock = path.join(bundles, `hello-${key}.json.lock`);

  // A pid no process has: a dead builder.
  fs.writeFileSync(lock, '2147483646');
  const taken = await runTs(dir, entry);
  expect(taken).toMatchObject({ code: 0, stdout: 'after the lock\n' });
  expect(taken.ms).toBeLessThan(5000);
  expect(fs.existsSync(lock)).toBe(false);

  // A live pid on a lock older than any build (the pid was reused): stale too.
  fs.rmSync(bundles, { recursive: true, force: true });
  fs.mkdirSync(bundles, { recursive: true });
  fs.writeFileSync(lock, String(process.pid));
  const minuteAgo = new Date(Date.now() - 60_000);
  fs.utimesSync(lock, minuteAgo, minuteAgo);
  const old = await runTs(dir, entry);
  expect(old).toMatchObject({ code: 0, stdout: 'after the lock\n' });
  expect(old.ms).toBeLessThan(5000);

  // A live holder (this process) with no bundle yet: the run waits until the lock goes.
  fs.rmSync(bundles, { recursive: true, force: true });
  fs.mkdirSync(bundles, { recursive: true });
  fs.writeFileSync(lock, String(process.pid));
  const waiting = runTs(dir, entry);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(fs.readdirSync(bundles).filter((f) => f.endsWith('.json'))).toEqual([]);
  fs.rmSync(lock);
  expect(await waiting).toMatchObject({ code: 0, stdout: 'after the lock\n' });
});
