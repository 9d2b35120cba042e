/* eslint-disable @typescript-eslint/no-explicit-any */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

/** A synthesized manifest, loosely typed: tests reach into it by path. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: any;
  spec?: any;
  [key: string]: any;
};

export function findAll(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function findOne(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.name === name);
  if (found.length !== 1) {
    const have = objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ');
    throw new Error(`expected one ${kind}/${name}, found ${found.length} among: ${have}`);
  }
  return found[0];
}

/** The pod spec of any pod-bearing object. */
export function podSpecOf(object: K8sObject): any {
  switch (object.kind) {
    case 'Pod':
      return object.spec;
    case 'CronJob':
      return object.spec.jobTemplate.spec.template.spec;
    default:
      return object.spec.template.spec;
  }
}

/** A maker of temporary folders that are all removed after the test file. */
export function tempDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/**
 * Silences process.stderr (synth warnings) in each test of the calling
 * describe block, and returns the running test's spy, for assertions.
 */
export function quietStderr(): () => jest.SpyInstance {
  let spy: jest.SpyInstance | undefined;
  beforeEach(() => {
    spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => spy?.mockRestore());
  return () => spy!;
}

/** A port on 127.0.0.1 that was free a moment ago: nothing listens on it now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
