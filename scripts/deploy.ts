/**
 * `npm run deploy -- --variant hardened|root-debug`: applies a synthesized
 * variant to the cluster of the current kubeconfig context, waits for it,
 * verifies its health endpoint, explains and rolls back a failure, and keeps
 * a release history. See deploy/ and docs/deploy.md.
 */
import * as path from 'path';
import { main } from '../deploy/main';

// Bundled to .build/deploy.js (scripts/run-ts.js): the repo root is one level up.
const root = path.resolve(__dirname, '..');

const controller = new AbortController();
let signalled: NodeJS.Signals | undefined;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    // A second Ctrl-C: leave now, without recording.
    if (signalled !== undefined) process.exit(130);
    signalled = name;
    process.stdout.write(
      `\n${name}: stopping; the release is recorded as failed, nothing is rolled back\n`,
    );
    controller.abort();
  });
}

main({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  root,
  out: (line) => process.stdout.write(`${line}\n`),
  signal: controller.signal,
}).then(
  (code) => {
    // Exit explicitly: a request abandoned on timeout may still hold a socket.
    process.stdout.write('', () => process.exit(signalled ? 130 : code));
  },
  (error: unknown) => {
    process.stderr.write(`deploy: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
