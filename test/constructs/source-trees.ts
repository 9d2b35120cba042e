// FixedPythonApp ships a source tree: folders at any depth, each file as a
// ConfigMap key that the volume's items map back to its path.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Chart, Testing } from 'cdk8s';
import { FixedPythonApp, FixedPythonAppProps, SecurityMode, SOURCE_HASH_KEY } from '../../lib';
import { configMapKey } from '../../lib/source-files';
import { K8sObject, findOne, podSpecOf, quietStderr } from '../helpers';

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A source folder with `files` (relative paths; folders are created). */
function tree(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpa-tree-'));
  tmpDirs.push(dir);
  for (const [relative, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
    fs.writeFileSync(path.join(dir, relative), content);
  }
  return dir;
}

const SERVICE = {
  'service/main.py': 'import routers.health\n',
  'routers/__init__.py': '',
  'routers/health.py': 'OK = True\n',
  'routers/v1/users.py': 'USERS = []\n',
  'static/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]),
};

function synth(props: Partial<FixedPythonAppProps> & { sourceDir: string }): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
  new FixedPythonApp(chart, 'api', { mode: SecurityMode.HARDENED, packages: [], ...props });
  return Testing.synth(chart) as K8sObject[];
}

quietStderr();

describe('a source tree', () => {
  const dir = tree({
    ...SERVICE,
    'routers/__pycache__/health.cpython-311.pyc': 'x',
    'routers/stale.pyc': 'x',
    '.env': 'OPENAI_API_KEY=sk-never-shipped\n',
    '.git/config': '[core]\n',
    'routers/.hidden.py': 'x',
  });

  test('every regular file at any depth is a key; items map keys back to paths', () => {
    const objects = synth({ sourceDir: dir, entrypoint: 'service/main.py' });
    const cm = findOne(objects, 'ConfigMap', 'api-source');
    expect(Object.keys(cm.data).sort()).toEqual([
      'routers.__init__.py',
      'routers.health.py',
      'routers.v1.users.py',
      'service.main.py',
    ]);
    expect(cm.data['routers.health.py']).toBe('OK = True\n');
    expect(cm.binaryData).toEqual({
      'static.logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]).toString('base64'),
    });
    const volume = podSpecOf(findOne(objects, 'Deployment', 'api')).volumes[0];
    expect(volume).toEqual({
      name: 'app-source',
      configMap: {
        name: 'api-source',
        defaultMode: 0o444,
        items: [
          { key: 'routers.__init__.py', path: 'routers/__init__.py' },
          { key: 'routers.health.py', path: 'routers/health.py' },
          { key: 'routers.v1.users.py', path: 'routers/v1/users.py' },
          { key: 'service.main.py', path: 'service/main.py' },
          { key: 'static.logo.png', path: 'static/logo.png' },
        ],
      },
    });
    // Nothing a local run or a checkout leaves behind, and never a dotfile.
    expect(JSON.stringify(objects)).not.toMatch(/pycache|\.pyc|sk-never-shipped|hidden|\[core\]/);
  });

  test('hardened: the init container copies the top-level entries with cp -RL, then runs the entrypoint in its folder', () => {
    const pod = podSpecOf(
      findOne(synth({ sourceDir: dir, entrypoint: 'service/main.py' }), 'Deployment', 'api'),
    );
    const init = pod.initContainers[0].command[2];
    expect(init).toContain("echo '[init] copying 5 source file(s) from /app-source to /app'");
    expect(init).toContain(
      "cp -RL '/app-source/routers' '/app-source/service' '/app-source/static' /app/\n",
    );
    const app = pod.containers[0];
    expect(app.command[2]).toContain("exec python '/app/service/main.py'");
    expect(app.env).toContainEqual({ name: 'PYTHONPATH', value: '/app:/app-packages' });
    expect(app.workingDir).toBe('/app');
  });

  test('root-debug: runs from the mount, the tree intact, the mount on PYTHONPATH', () => {
    const pod = podSpecOf(
      findOne(
        synth({ sourceDir: dir, entrypoint: 'service/main.py', mode: SecurityMode.ROOT_DEBUG }),
        'Deployment',
        'api',
      ),
    );
    expect(pod.initContainers).toBeUndefined();
    const app = pod.containers[0];
    expect(app.command[2]).toContain("exec python '/app-source/service/main.py'");
    expect(app.command[2]).not.toContain('cp ');
    expect(app.env).toContainEqual({ name: 'PYTHONPATH', value: '/app-source' });
  });

  test('the source hash covers paths: moving a file rolls the pods, and two synths are identical', () => {
    const a = tree({ 'app.py': 'print(1)\n', 'pkg/util.py': 'A = 1\n' });
    const b = tree({ 'app.py': 'print(1)\n', 'lib/util.py': 'A = 1\n' });
    const hash = (sourceDir: string) =>
      findOne(synth({ sourceDir }), 'Deployment', 'api').spec.template.metadata.annotations[
        SOURCE_HASH_KEY
      ];
    expect(hash(a)).not.toBe(hash(b));
    expect(hash(a)).toBe(hash(a));
    expect(JSON.stringify(synth({ sourceDir: a }))).toBe(JSON.stringify(synth({ sourceDir: a })));
  });

  test('the ConfigMap limit counts the whole tree', () => {
    const big = tree({
      'app.py': '',
      'data/a.bin': Buffer.alloc(600_000),
      'data/b.bin': Buffer.alloc(600_000),
    });
    expect(() => synth({ sourceDir: big })).toThrow(/at most 1048576 bytes.*1200000 bytes/);
  });

  test('the keys are the paths with "." for "/": Python\'s module names', () => {
    expect(configMapKey('routers/v1/users.py')).toBe('routers.v1.users.py');
    expect(configMapKey('app.py')).toBe('app.py');
  });
});

describe('fails when', () => {
  const fails = (sourceDir: string, message: RegExp, props: Partial<FixedPythonAppProps> = {}) =>
    expect(() => synth({ sourceDir, ...props })).toThrow(message);

  test('a file deep in the tree is a symlink, naming it', () => {
    const dir = tree({ 'app.py': '', 'pkg/real.py': '' });
    fs.symlinkSync('real.py', path.join(dir, 'pkg', 'link.py'));
    fails(
      dir,
      /test\/api: invalid sourceDir ".*": only regular files: "pkg\/link.py" is a symlink/,
    );
  });

  test('a folder is a symlink', () => {
    const dir = tree({ 'app.py': '', 'pkg/real.py': '' });
    fs.symlinkSync('pkg', path.join(dir, 'alias'));
    fails(dir, /only regular files: "alias" is a symlink/);
  });

  test('a folder name has a character a ConfigMap key cannot carry', () =>
    fails(
      tree({ 'app.py': '', 'my pkg/x.py': '' }),
      /names of letters, digits, "-", "_" and "." \(what a ConfigMap key can carry\): "my pkg" is not/,
    ));

  test('a nested file name has one', () =>
    fails(tree({ 'app.py': '', 'pkg/é.py': '' }), /"pkg\/é.py" is not/));

  test('two paths become the same key', () =>
    fails(
      tree({ 'app.py': '', 'a/b.py': '', 'a.b.py': '' }),
      /paths with distinct ConfigMap keys: "a.b.py" and "a\/b.py" both become "a.b.py" \(rename one\)/,
    ));

  test('a path is longer than a key may be', () =>
    fails(
      tree({ 'app.py': '', [`${'d'.repeat(200)}/${'f'.repeat(60)}.py`]: '' }),
      /paths of at most 253 characters .*is 264/,
    ));

  test('a file is neither regular nor a folder (a FIFO)', () => {
    const dir = tree({ 'app.py': '' });
    const made = spawnSync('mkfifo', [path.join(dir, 'pipe')]);
    if (made.status !== 0) return; // no mkfifo here: nothing to prove
    fails(dir, /only regular files and folders: "pipe" is neither/);
  });

  test('the entrypoint is not a path in the tree', () =>
    fails(
      tree(SERVICE),
      /invalid entrypoint "main.py": a file in sourceDir ".*", as a path relative to it: one of routers\/__init__.py, routers\/health.py, routers\/v1\/users.py, service\/main.py/,
      { entrypoint: 'main.py' },
    ));

  test('only ignored files are left', () =>
    fails(tree({ '.env': 'x', '__pycache__/a.pyc': 'x' }), /at least one regular file/));
});
