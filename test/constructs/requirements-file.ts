// The requirements file: read as pip reads it, refused line by line where
// pip would reach outside the pod or install something unreproducible.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { FixedPythonApp, FixedPythonAppProps, GpuNodePool, SecurityMode } from '../../lib';
import { markerProblem, parseRequirements } from '../../lib/requirements-file';
import { K8sObject, findOne, podSpecOf, quietStderr } from '../helpers';

const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fpa-req-'));
  tmpDirs.push(dir);
  for (const [relative, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
    fs.writeFileSync(path.join(dir, relative), content);
  }
  return dir;
}

function synth(
  files: Record<string, string>,
  props: Partial<FixedPythonAppProps> = {},
  gpu = false,
): { objects: K8sObject[]; dir: string } {
  const dir = tree({ 'app.py': 'print(1)\n', ...files });
  const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
  const gpuPool = gpu
    ? new GpuNodePool(chart, 'gh200', {
        gpuProduct: 'GH200',
        nodes: [{ name: 'sophia-primary', address: '192.222.58.232' }],
      })
    : undefined;
  new FixedPythonApp(chart, 'api', {
    sourceDir: dir,
    mode: SecurityMode.HARDENED,
    gpuPool,
    ...props,
  });
  return { objects: Testing.synth(chart) as K8sObject[], dir };
}

const scripts = (objects: K8sObject[]) => {
  const pod = podSpecOf(findOne(objects, 'Deployment', 'api'));
  return { init: pod.initContainers?.[0]?.command[2] ?? '', app: pod.containers[0].command[2] };
};

const H1 = `sha256:${'a'.repeat(64)}`;
const H2 = `sha256:${'b'.repeat(64)}`;
const H3 = `sha256:${'c'.repeat(64)}`;

const stderr = quietStderr();
const warnings = () =>
  stderr()
    .mock.calls.map((c) => String(c[0]))
    .join('');

describe('parsing, as pip reads the file', () => {
  test('specifiers with extras, version clauses and markers; comments and blank lines', () => {
    const parsed = parseRequirements(
      [
        '\uFEFF# the backend',
        '',
        'fastapi==0.115.0  # web framework',
        'uvicorn[standard] == 0.30.6',
        'pydantic>=2,<3',
        'anyio ~= 4.4',
        'Jinja2===3.1.4',
        'uvloop==0.20.0 ; sys_platform != "win32" and platform_python_implementation == "CPython"',
        'tomli==2.0.1; python_version < "3.11"',
        'typing_extensions[x, y]==4.12.2;(os_name=="posix" or os_name == "nt") and extra not in "a"',
      ].join('\r\n'),
      'app/requirements.txt',
    );
    expect(parsed.map((r) => [r.line, r.name, r.pinned])).toEqual([
      [3, 'fastapi', true],
      [4, 'uvicorn', true],
      [5, 'pydantic', false],
      [6, 'anyio', false],
      [7, 'Jinja2', true],
      [8, 'uvloop', true],
      [9, 'tomli', true],
      [10, 'typing_extensions', true],
    ]);
    expect(parsed[0].specifier).toBe('fastapi==0.115.0');
    expect(parsed[1].specifier).toBe('uvicorn[standard] == 0.30.6');
  });

  test('hashes on continuation lines, as pip-compile and uv write them', () => {
    const parsed = parseRequirements(
      [
        'fastapi==0.115.0 \\',
        `    --hash=${H1} \\`,
        `    --hash=${H2}`,
        '    # via -r requirements.in',
        `uvicorn==0.30.6 --hash ${H3}`,
        'h11==0.14.0 \\',
        `    --hash=${H1}`,
      ].join('\n'),
      'r.txt',
    );
    expect(parsed).toEqual([
      { line: 1, name: 'fastapi', specifier: 'fastapi==0.115.0', pinned: true, hashes: [H1, H2] },
      { line: 5, name: 'uvicorn', specifier: 'uvicorn==0.30.6', pinned: true, hashes: [H3] },
      { line: 6, name: 'h11', specifier: 'h11==0.14.0', pinned: true, hashes: [H1] },
    ]);
  });

  test('a wildcard or several clauses are not a pin', () => {
    const pins = parseRequirements('a==1.*\nb==1.0,<2\nc==1.0\nd===1.0-local', 'r').map(
      (r) => r.pinned,
    );
    expect(pins).toEqual([false, false, true, true]);
  });

  test("the specifier grammar agrees with pip's own parser (packaging, vendored in pip)", () => {
    const lines = [
      'fastapi==0.115.0',
      'uvicorn[standard]==0.30.6',
      'a[b,c]>=1,<2',
      'x ; python_version >= "3.8"',
      'x; (os_name == "nt" or os_name == "posix") and extra == "y"',
      "x; platform_machine in 'x86_64 aarch64'",
      'x; extra not in "a"',
      // refused by both (not "x==": the packaging 21 in this machine's pips still
      // takes it as a legacy specifier; pip 24.1+ (packaging 22+) refuses it):
      'x; python_version',
      'x; nonsense == "1"',
      'x; (python_version > "3"',
      'x[',
      'x>=1,',
      '_x',
    ];
    const ours = lines.map((line) => {
      try {
        parseRequirements(line, 'r');
        return true;
      } catch {
        return false;
      }
    });
    const script = `import json, sys
from pip._vendor.packaging.requirements import Requirement
out = []
for line in json.loads(sys.argv[1]):
    try:
        Requirement(line)
        out.append(True)
    except Exception:
        out.append(False)
print(json.dumps(out))`;
    const run = spawnSync('python3', ['-c', script, JSON.stringify(lines)], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(ours).toEqual(JSON.parse(run.stdout));
    expect(ours.filter(Boolean)).toHaveLength(7);
  });

  test('marker grammar', () => {
    expect(markerProblem('python_version < "3.11"')).toBeUndefined();
    expect(markerProblem('python_version <')).toBe('it ends too early');
    expect(markerProblem('os.name == "nt"')).toMatch(/"os.name" is not a marker variable/);
    expect(markerProblem('')).toBe('it is empty');
  });
});

describe('FixedPythonApp with a requirements file', () => {
  const PINNED = 'fastapi==0.115.0\nuvicorn==0.30.6\n';

  test('requirements.txt in sourceDir: pip installs -r from the shipped file, wheels only', () => {
    const { objects } = synth({ 'requirements.txt': PINNED });
    expect(findOne(objects, 'ConfigMap', 'api-source').data['requirements.txt']).toBe(PINNED);
    const { init, app } = scripts(objects);
    expect(init).toContain("echo '[init] installing -r requirements.txt into /app-packages'\n");
    expect(init).toContain(
      'python -m pip install --no-cache-dir --disable-pip-version-check --no-input --progress-bar off --only-binary=:all: --target /app-packages -r /app-source/requirements.txt || { status=$?; echo ',
    );
    expect(init).not.toContain('--require-hashes');
    expect(init).not.toContain('fastapi uvicorn');
    expect(app).not.toContain('pip');
    expect(warnings()).toBe('');
  });

  test('root-debug: the app container installs it, reading it from the mount', () => {
    const { objects } = synth({ 'requirements.txt': PINNED }, { mode: SecurityMode.ROOT_DEBUG });
    expect(scripts(objects).app).toContain(
      'python -m pip install --no-cache-dir --disable-pip-version-check --no-input --progress-bar off --only-binary=:all: --root-user-action=ignore -r /app-source/requirements.txt || {',
    );
  });

  test('a failed pip says why it installs wheels only', () => {
    const { init } = scripts(synth({ 'requirements.txt': PINNED }).objects);
    expect(init).toContain(
      `echo '[init] pip failed. It installs wheels only (--only-binary=:all:): the image has no compiler, so a package without a wheel for this Python and CPU architecture is "No matching distribution found".'; exit "$status"; }`,
    );
  });

  test('every requirement hashed: --require-hashes, and a warning about architectures without a gpuPool', () => {
    const file = `fastapi==0.115.0 \\\n  --hash=${H1}\nuvicorn==0.30.6 --hash=${H2}\n`;
    const { init } = scripts(synth({ 'requirements.txt': file }).objects);
    expect(init).toContain('--only-binary=:all: --require-hashes --target /app-packages -r ');
    expect(warnings()).toMatch(
      /\[WARNING\] test\/api: .*requirements.txt is hash-locked and the pod may land on nodes of any CPU architecture \(no gpuPool\): .*hashes of every architecture/,
    );
  });

  test('hashed on a GPU pool (one architecture): no warning', () => {
    const file = `fastapi==0.115.0 --hash=${H1}\n`;
    synth({ 'requirements.txt': file }, {}, true);
    expect(warnings()).toBe('');
  });

  test('an unpinned requirement is a warning naming it', () => {
    synth({ 'requirements.txt': 'fastapi==0.115.0\nuvicorn>=0.30\n' });
    expect(warnings()).toMatch(
      /\[WARNING\] test\/api: .*requirements.txt:2: "uvicorn>=0.30" is not pinned with == or ===: not reproducible, each pod start may install another version/,
    );
  });

  test('requirementsFile names another file, in a sub-folder', () => {
    const { objects } = synth(
      { 'deps/prod.txt': PINNED, 'requirements.txt': 'ignored==1.0\n' },
      { requirementsFile: 'deps/prod.txt' },
    );
    expect(scripts(objects).init).toContain('-r /app-source/deps/prod.txt');
  });

  test('a change of the requirements file rolls the pods', () => {
    const hash = (content: string) =>
      findOne(synth({ 'requirements.txt': content }).objects, 'Deployment', 'api').spec.template
        .metadata.annotations['manifests.sophia.ai/source-hash'];
    expect(hash(PINNED)).not.toBe(hash(PINNED.replace('0.30.6', '0.30.5')));
  });

  test('a file with comments only installs nothing', () => {
    const { init } = scripts(synth({ 'requirements.txt': '# nothing yet\n\n' }).objects);
    expect(init).not.toContain('pip');
  });

  test('without a requirements file, packages (default fastapi uvicorn) still work', () => {
    expect(scripts(synth({}).objects).init).toContain(
      '--only-binary=:all: --target /app-packages fastapi uvicorn ||',
    );
  });
});

describe('fails when', () => {
  /** The synth error for `content` as requirements.txt, without the temp folder's path. */
  const error = (content: string, props: Partial<FixedPythonAppProps> = {}): string => {
    try {
      synth({ 'requirements.txt': content }, props);
    } catch (e) {
      return (e as Error).message
        .replace(/"\/tmp\/fpa-req-\w+/g, '"<dir>')
        .replace(/\/tmp\/fpa-req-\w+/g, '<dir>');
    }
    throw new Error('no error');
  };
  const PREFIX =
    'test/api: invalid requirementsFile "requirements.txt": <dir>/requirements.txt:2: ';

  test.each([
    ['-e ./pkg', '"-e": editable installs (-e) are not allowed'],
    [
      '--editable=git+https://github.com/x/y.git',
      '"--editable=git+https://github.com/x/y.git": editable installs',
    ],
    ['-r base.txt', '"-r": -r/-c includes are not allowed: the included file is not shipped'],
    ['--requirement=base.txt', '"--requirement=base.txt": -r/-c includes are not allowed'],
    ['-c constraints.txt', '"-c": -r/-c includes are not allowed'],
    ['https://example.com/pkg-1.0-py3-none-any.whl', 'URLs and direct references are not allowed'],
    ['pkg @ https://example.com/pkg.tar.gz', 'URLs and direct references are not allowed'],
    ['git+https://github.com/x/y.git#egg=y', 'URLs and direct references are not allowed'],
    ['./vendor/pkg', 'local paths are not allowed'],
    ['/opt/wheels/pkg-1.0-py3-none-any.whl', 'local paths are not allowed'],
    ['pkg-1.0.tar.gz', 'local paths are not allowed'],
    [
      '--index-url https://pypi.example/simple',
      '"--index-url": index options are not allowed here: the index is FixedPythonApp\'s pipIndexUrl\'s job',
    ],
    ['-i https://pypi.example/simple', '"-i": index options are not allowed'],
    ['--extra-index-url=https://pypi.example/simple', 'index options are not allowed'],
    ['--find-links /opt/wheels', '"--find-links": index options are not allowed'],
    ['-f /opt/wheels', '"-f": index options are not allowed'],
    ['--trusted-host pypi.example', '"--trusted-host": index options are not allowed'],
    ['--no-index', '"--no-index": index options are not allowed'],
    ['--pre', '"--pre": only requirement specifiers and their --hash options are allowed'],
    [`--hash=${H1}`, 'a --hash belongs to the requirement before it'],
    [
      'fastapi==0.1 --no-binary=:all:',
      '"--no-binary=:all:": after a requirement only --hash options are allowed',
    ],
    ['fastapi==0.1 --hash=md5:abc', '"--hash=md5:abc": a hash is sha256:, sha384: or sha512:'],
    [`fastapi==0.1 --hash=sha256:${'A'.repeat(64)}`, 'the digest in lowercase hex'],
    ['fastapi==${VERSION}', "pip would expand ${...} from the pod's environment"],
    ['fastapi==', 'not a requirement specifier ("==" is not a version clause'],
    [
      'fastapi; python_version',
      'not a requirement specifier (environment marker: a comparison without operator)',
    ],
    ['fastapi[std', 'not a requirement specifier ("[" without "]")'],
  ])('line %p', (line, why) => {
    const message = error(`fastapi==0.115.0\n${line}\n`);
    expect(message.startsWith(PREFIX)).toBe(true);
    expect(message).toContain(why);
  });

  test('some requirements are hashed and some not, naming both lines', () =>
    expect(error(`fastapi==0.115.0\nuvicorn==0.30.6 --hash=${H1}\n`)).toBe(
      'test/api: invalid requirementsFile "requirements.txt": <dir>/requirements.txt:1: "fastapi==0.115.0" has no --hash while <dir>/requirements.txt:2 has: pip hash-checks all requirements or none and would refuse to start; hash every line or none',
    ));

  test('a hashed requirement is not pinned', () =>
    expect(error(`fastapi>=0.115 --hash=${H1}\n`)).toMatch(
      /requirements.txt:1: "fastapi>=0.115" is not pinned with == or ===: with hashes pip refuses an unpinned requirement/,
    ));

  test('packages and a requirements file are both given', () =>
    expect(error('fastapi==0.115.0\n', { packages: ['fastapi'] })).toMatch(
      /test\/api: invalid packages \["fastapi"\]: either packages or a requirements file, not both: pip installs "requirements.txt"/,
    ));

  test('requirementsFile is not a file in sourceDir', () =>
    expect(error('fastapi==0.115.0\n', { requirementsFile: 'deps/prod.txt' })).toMatch(
      /invalid requirementsFile "deps\/prod.txt": a file in sourceDir "<dir>", as a path relative to it \(shipped files: app.py, requirements.txt\)/,
    ));

  test('a continued line is named by its first line', () =>
    expect(error(`fastapi==0.115.0\nuvicorn==0.30.6 \\\n  --index-url=https://x\n`)).toContain(
      'requirements.txt:2: "--index-url=https://x": after a requirement only --hash options are allowed',
    ));
});
