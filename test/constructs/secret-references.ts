// Secrets by reference: the app container reads Secrets that exist in the
// cluster; no Secret object and no secret value is ever synthesized.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { cluster } from '../../config';
import {
  EXTERNAL_SECRETS_KEY,
  FixedPythonApp,
  FixedPythonAppProps,
  SecurityMode,
  SophiaChart,
} from '../../lib';
import { K8sObject, findAll, findOne, podSpecOf, quietStderr } from '../helpers';

const source = fs.mkdtempSync(path.join(os.tmpdir(), 'fpa-secret-'));
fs.writeFileSync(path.join(source, 'app.py'), 'print(1)\n');
afterAll(() => fs.rmSync(source, { recursive: true, force: true }));

function synth(props: Partial<FixedPythonAppProps>, mode = SecurityMode.HARDENED): K8sObject[] {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'apps' });
  new FixedPythonApp(chart, 'api', { sourceDir: source, mode, packages: [], ...props });
  return Testing.synth(chart) as K8sObject[];
}

quietStderr();

const PROPS: Partial<FixedPythonAppProps> = {
  env: { LOG_LEVEL: 'info' },
  secretEnv: {
    OPENAI_API_KEY: { secretName: 'sophia-backend-secrets', key: 'openai-api-key' },
    ANTHROPIC_API_KEY: {
      secretName: 'sophia-backend-secrets',
      key: 'anthropic-api-key',
      optional: true,
    },
    DATABASE_URL: { secretName: 'db.credentials', key: 'url', optional: false },
  },
  envFromSecrets: ['sophia-backend-env', 'feature-flags'],
};

describe.each([SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG])('%s', (mode) => {
  const objects = () => synth(PROPS, mode);

  test('secretEnv becomes secretKeyRef variables after the plain ones, sorted', () => {
    const app = podSpecOf(findOne(objects(), 'Deployment', 'api')).containers[0];
    expect(app.env.slice(-4)).toEqual([
      { name: 'LOG_LEVEL', value: 'info' },
      {
        name: 'ANTHROPIC_API_KEY',
        valueFrom: {
          secretKeyRef: {
            name: 'sophia-backend-secrets',
            key: 'anthropic-api-key',
            optional: true,
          },
        },
      },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db.credentials', key: 'url' } } },
      {
        name: 'OPENAI_API_KEY',
        valueFrom: { secretKeyRef: { name: 'sophia-backend-secrets', key: 'openai-api-key' } },
      },
    ]);
  });

  test('envFromSecrets becomes envFrom secretRefs, in the given order', () => {
    const app = podSpecOf(findOne(objects(), 'Deployment', 'api')).containers[0];
    expect(app.envFrom).toEqual([
      { secretRef: { name: 'sophia-backend-env' } },
      { secretRef: { name: 'feature-flags' } },
    ]);
  });

  test('only the app container gets them', () => {
    const pod = podSpecOf(findOne(objects(), 'Deployment', 'api'));
    for (const init of pod.initContainers ?? []) {
      expect(JSON.stringify(init)).not.toMatch(/secret/i);
    }
  });

  test('the Deployment declares them external; no Secret object is synthesized', () => {
    const all = objects();
    expect(findOne(all, 'Deployment', 'api').metadata.annotations[EXTERNAL_SECRETS_KEY]).toBe(
      'db.credentials,feature-flags,sophia-backend-env,sophia-backend-secrets',
    );
    expect(findAll(all, 'Secret')).toEqual([]);
  });
});

test('without secret references there is no annotation and no envFrom', () => {
  const deployment = findOne(synth({}), 'Deployment', 'api');
  expect(deployment.metadata.annotations[EXTERNAL_SECRETS_KEY]).toBeUndefined();
  expect(podSpecOf(deployment).containers[0].envFrom).toBeUndefined();
});

test('config.ts: the backend reads one optional key, in both variants, and dist holds no Secret', () => {
  for (const mode of [SecurityMode.HARDENED, SecurityMode.ROOT_DEBUG]) {
    const objects = Testing.synth(
      new SophiaChart(Testing.app(), 'sophia', { mode, cluster }),
    ) as K8sObject[];
    const deployment = findOne(objects, 'Deployment', 'sophia-backend');
    const refs = podSpecOf(deployment).containers[0].env.filter(
      (e: { valueFrom?: unknown }) => e.valueFrom !== undefined,
    );
    expect(refs).toEqual([
      {
        name: 'OPENAI_API_KEY',
        valueFrom: {
          secretKeyRef: { name: 'sophia-backend-secrets', key: 'openai-api-key', optional: true },
        },
      },
    ]);
    expect(deployment.metadata.annotations[EXTERNAL_SECRETS_KEY]).toBe('sophia-backend-secrets');
    expect(findAll(objects, 'Secret')).toEqual([]);
  }
});

describe('fails when', () => {
  const fails = (props: Partial<FixedPythonAppProps>, message: RegExp) =>
    expect(() => synth(props)).toThrow(message);
  const ref = (secretName: string, key = 'k') => ({ secretEnv: { X: { secretName, key } } });

  test.each([
    'Sophia-Secrets',
    'sophia_secrets',
    '-sophia',
    'sophia-',
    'a..b',
    '',
    'x'.repeat(254),
  ])('a secretEnv secretName is %p', (name) =>
    fails(
      ref(name),
      /test\/api: invalid secretEnv.X.secretName .*: a Secret name: a DNS-1123 subdomain/,
    ),
  );
  test.each(['sophia secrets', 'Sophia', 'a/b', ''])('an envFromSecrets name is %p', (name) =>
    fails(
      { envFromSecrets: [name] },
      /test\/api: invalid envFromSecrets .*: a Secret name: a DNS-1123 subdomain/,
    ),
  );
  test.each(['a/b', '..hidden', '.', '', 'key with space'])('a key is %p', (key) =>
    fails(ref('s', key), /invalid secretEnv.X.key .*: a Secret key: letters, digits/),
  );
  test.each(['1KEY', 'MY-KEY', 'A B'])('a secretEnv variable name is %p', (name) =>
    fails(
      { secretEnv: { [name]: { secretName: 's', key: 'k' } } },
      /invalid secretEnv .*variable names of letters, digits and "_"/,
    ),
  );
  test('a secretEnv variable is also in env', () =>
    fails(
      { env: { API_KEY: 'x' }, secretEnv: { API_KEY: { secretName: 's', key: 'k' } } },
      /invalid secretEnv "API_KEY": a name not already set by env/,
    ));
  test.each(['PORT', 'PYTHONPATH', 'PYTHONUNBUFFERED'])(
    'a secretEnv variable is the managed %s',
    (name) =>
      fails(
        { secretEnv: { [name]: { secretName: 's', key: 'k' } } },
        new RegExp(`invalid secretEnv "${name}": a name not already set by FixedPythonApp itself`),
      ),
  );
  test('a Secret is listed twice in envFromSecrets', () =>
    fails({ envFromSecrets: ['a', 'a'] }, /invalid envFromSecrets "a": each Secret once/));
  test('optional is not a boolean', () =>
    fails(
      { secretEnv: { X: { secretName: 's', key: 'k', optional: 'yes' as unknown as boolean } } },
      /invalid secretEnv.X.optional "yes": true or false/,
    ));
});
