// Secrets created outside the manifests: declared by the workload, listed
// by validate as "must exist in the cluster", never reported as dangling.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseYaml, validateDocuments, yamlFiles, type LoadedDoc } from '../../validation';
import {
  EXTERNAL_SECRETS_KEY,
  formatExternalSecret,
  listExternalSecrets,
} from '../../validation/external-secrets';
import { runValidate } from '../../validation/cli';
import { checkReferences } from '../../validation/references';

const VALID = path.join(__dirname, '..', 'fixtures', 'validate', 'valid');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function output(): LoadedDoc[] {
  return yamlFiles(VALID).flatMap(
    (file) => parseYaml(path.relative(VALID, file), fs.readFileSync(file, 'utf8')).docs,
  );
}

const deployment = (docs: LoadedDoc[]): Doc =>
  docs.find((d) => (d.doc as Doc).kind === 'Deployment')!.doc as Doc;

/** The valid output whose web Deployment reads the Secrets `api` (a key) and `env` (all), declaring `declared`. */
function withSecrets(declared: string | undefined, optional = false): LoadedDoc[] {
  const docs = output();
  const d = deployment(docs);
  if (declared !== undefined) d.metadata.annotations = { [EXTERNAL_SECRETS_KEY]: declared };
  const app = d.spec.template.spec.containers[0];
  app.env.push({
    name: 'TOKEN',
    valueFrom: { secretKeyRef: { name: 'api', key: 'token', optional } },
  });
  app.envFrom = [{ secretRef: { name: 'env' } }];
  return docs;
}

const messages = (docs: LoadedDoc[]) =>
  checkReferences(docs).map((f) => `${f.kind}/${f.name}: ${f.message}`);

test('declared external Secrets are not dangling references; validate lists them', () => {
  const docs = withSecrets('api, env');
  expect(validateDocuments(docs)).toEqual([]);
  expect(listExternalSecrets(docs).map(formatExternalSecret)).toEqual([
    'shop/web.yaml#2 Deployment/web: Secret "api" (key "token") must exist in the cluster in namespace "shop"',
    'shop/web.yaml#2 Deployment/web: Secret "env" (all keys) must exist in the cluster in namespace "shop"',
  ]);
});

test('an optional reference is listed as such', () => {
  expect(listExternalSecrets(withSecrets('api,env', true)).map(formatExternalSecret)[0]).toBe(
    'shop/web.yaml#2 Deployment/web: Secret "api" (key "token", optional: the pod starts without it) must exist in the cluster in namespace "shop"',
  );
});

test('a reference to a Secret neither in the folder nor declared stays an error', () => {
  expect(messages(withSecrets('api'))).toEqual([
    'Deployment/web: container "app" envFrom: Secret "env" is not defined in namespace "shop"',
  ]);
  expect(messages(withSecrets(undefined))).toEqual([
    'Deployment/web: container "app" envFrom: Secret "env" is not defined in namespace "shop"',
    'Deployment/web: container "app" env TOKEN: Secret "api" is not defined in namespace "shop"',
  ]);
});

test('declared in another workload does not count', () => {
  const docs = withSecrets(undefined);
  docs.push({
    file: 'other.yaml',
    index: 0,
    doc: {
      ...deployment(output()),
      metadata: {
        name: 'other',
        namespace: 'shop',
        annotations: { [EXTERNAL_SECRETS_KEY]: 'api,env' },
      },
    },
  });
  expect(messages(docs).filter((m) => m.startsWith('Deployment/web:'))).toHaveLength(2);
});

test('a declaration that is not a Secret name, that the folder defines, or that no pod uses', () => {
  const docs = withSecrets('api,env,Bad_Name,unused,defined');
  docs.push({
    file: 'secret.yaml',
    index: 0,
    doc: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'defined', namespace: 'shop' } },
  });
  deployment(docs).spec.template.spec.containers[0].envFrom.push({
    secretRef: { name: 'defined' },
  });
  expect(messages(docs)).toEqual([
    `Deployment/web: annotation ${EXTERNAL_SECRETS_KEY}: "Bad_Name" is not a Secret name (a DNS-1123 subdomain)`,
    `Deployment/web: annotation ${EXTERNAL_SECRETS_KEY}: "unused" is declared external, but no pod reference uses it`,
    `Deployment/web: annotation ${EXTERNAL_SECRETS_KEY}: "defined" is declared external, but this folder defines it in namespace "shop": applying would replace the cluster's`,
  ]);
  // The one the folder defines is not listed as needed from the cluster.
  expect(listExternalSecrets(docs).map((e) => e.secret)).toEqual(['api', 'env']);
});

test('npm run validate prints "must exist in the cluster" lines and passes', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-ext-'));
  try {
    fs.cpSync(VALID, path.join(tmp, 'out'), { recursive: true });
    const file = path.join(tmp, 'out', 'shop', 'web.yaml');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(
      file,
      text
        .replace(
          '  annotations:\n    manifests.sophia.ai/connections:',
          `  annotations:\n    ${EXTERNAL_SECRETS_KEY}: api\n    manifests.sophia.ai/connections:`,
        )
        .replace(
          '          env:\n',
          '          env:\n            - name: TOKEN\n              valueFrom:\n                secretKeyRef:\n                  name: api\n                  key: token\n',
        ),
    );
    let stdout = '';
    let stderr = '';
    const status = runValidate(['out'], {
      cwd: tmp,
      out: (t) => (stdout += t),
      err: (t) => (stderr += t),
    });
    expect(stderr).toBe('');
    expect(stdout.split('\n').filter((l) => l !== '')).toEqual([
      'out/shop/web.yaml#2 Deployment/web: Secret "api" (key "token") must exist in the cluster in namespace "shop"',
      '9 passed, 0 failed',
    ]);
    expect(status).toBe(0);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
