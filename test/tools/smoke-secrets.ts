// `npm run smoke -- --secret NAME=FILE` and `--get PATH`: the parts that need
// no sandbox (the real pods are in test/smoke-pods.test.ts).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs, UsageError } from '../../smoke/cli';
import { ManifestSet } from '../../smoke/manifest';
import { getPort } from '../../smoke/pod-get';
import { ManifestError } from '../../smoke/read';
import { describeSecret, parseEnvFile, readSecretArg, withSecrets } from '../../smoke/secrets';

const ROOT = path.resolve(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-secrets-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

const text = (data: Map<string, Buffer>) =>
  Object.fromEntries([...data].map(([k, v]) => [k, v.toString('utf8')]));

describe('the env file, as kubectl create secret generic --from-env-file reads it', () => {
  test('KEY=VALUE lines: the value is everything after the first "=", as written', () => {
    const data = parseEnvFile(
      Buffer.from(
        '\uFEFF# api keys\n\n   openai-api-key=sk-abc=def  \r\nquoted="kept as is"\nempty=\nFROM_ENV\n\t# indented comment\nsome.key_1=x',
      ),
      'f',
      { FROM_ENV: 'from the environment' },
    );
    expect(text(data)).toEqual({
      'openai-api-key': 'sk-abc=def  ',
      quoted: '"kept as is"',
      empty: '',
      FROM_ENV: 'from the environment',
      'some.key_1': 'x',
    });
  });

  test("kubectl's errors: an invalid key, a key twice, bytes that are not UTF-8", () => {
    expect(() => parseEnvFile(Buffer.from('1KEY=x'), 'f')).toThrow(
      /"1KEY" is not a valid key name: a valid environment variable name must consist of/,
    );
    expect(() => parseEnvFile(Buffer.from('a b=x'), 'f')).toThrow(/"a b" is not a valid key name/);
    expect(() => parseEnvFile(Buffer.from('k=1\nk=2\n'), 'f')).toThrow(
      'cannot add key k, another key by that name already exists',
    );
    expect(() => parseEnvFile(Buffer.from([0x61, 0x3d, 0x0a, 0x62, 0x3d, 0xff]), 'x.env')).toThrow(
      'env file x.env contains invalid utf8 bytes at line 2',
    );
  });

  test('NAME=FILE: the name is a Secret name, the file exists', () => {
    const env = file('ok.env', 'openai-api-key=sk-1\n');
    expect(readSecretArg(`sophia-backend-secrets=${env}`)).toMatchObject({
      name: 'sophia-backend-secrets',
      file: env,
    });
    expect(() => readSecretArg('Sophia=x')).toThrow(/"Sophia" is not a Secret name/);
    expect(() => readSecretArg('sophia')).toThrow('NAME=FILE expected');
    expect(() => readSecretArg('sophia=/no/such/file')).toThrow(
      'cannot read /no/such/file: ENOENT',
    );
  });

  test('the report line names the keys, never the values', () => {
    const source = readSecretArg(`s=${file('keys.env', 'b=secret-b\na=secret-a\n')}`);
    const line = describeSecret(source, 'sophia-ai-prod');
    expect(line).toBe(`secret sophia-ai-prod/s: 2 key(s) from ${source.file} (a, b)`);
    expect(line).not.toMatch(/secret-a|secret-b/);
  });
});

describe('the command line', () => {
  test('--secret is repeatable, --get takes paths', () => {
    const a = file('a.env', 'k=1\n');
    const b = file('b.env', 'k=2\n');
    const options = parseArgs(
      ['--variant', 'hardened', '--secret', `one=${a}`, `--secret=two=${b}`, '--get', '/v1/info'],
      ROOT,
    );
    expect(options.secrets!.map((s) => [s.name, text(s.data as Map<string, Buffer>)])).toEqual([
      ['one', { k: '1' }],
      ['two', { k: '2' }],
    ]);
    expect(options.get).toEqual(['/v1/info']);
  });

  test('bad --secret and --get values are usage errors', () => {
    const a = file('c.env', 'k=1\n');
    const args =
      (...more: string[]) =>
      () =>
        parseArgs(['--variant', 'hardened', ...more], ROOT);
    expect(args('--secret', 'Bad=x')).toThrow(UsageError);
    expect(args('--secret', 'x=/nope')).toThrow(/--secret x=\/nope: cannot read \/nope: ENOENT/);
    expect(args('--secret', `s=${a}`, '--secret', `s=${a}`)).toThrow('--secret s: given twice');
    expect(args('--get', 'v1/info')).toThrow(/--get: an HTTP path starting with "\/"/);
  });
});

describe('the Secrets the run sees', () => {
  const set: ManifestSet = {
    files: [],
    workloads: [],
    configMaps: new Map(),
    secrets: new Map([['apps/in-manifests', new Map()]]),
  };

  test("--secret adds a Secret in the workload's namespace", () => {
    const source = { name: 'api', file: 'f', data: new Map([['k', Buffer.from('v')]]) };
    const merged = withSecrets(set, 'apps', [source]);
    expect([...merged.secrets.keys()]).toEqual(['apps/in-manifests', 'apps/api']);
    expect(set.secrets.size).toBe(1);
  });

  test('a Secret the manifests hold already cannot be given again', () => {
    expect(() =>
      withSecrets(set, 'apps', [{ name: 'in-manifests', file: 'f', data: new Map() }]),
    ).toThrow(
      new ManifestError(
        '--secret in-manifests: the manifests define Secret apps/in-manifests themselves',
      ),
    );
  });

  test('--get goes to the first port declared', () => {
    const c = (ports: number[]) => ({
      name: 'c',
      image: 'i',
      env: [],
      envFrom: [],
      volumeMounts: [],
      ports: ports.map((containerPort) => ({ containerPort })),
    });
    expect(getPort([c([]), c([8000, 9000])])).toBe(8000);
    expect(getPort([c([])])).toBeUndefined();
  });
});
