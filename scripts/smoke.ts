/**
 * `npm run smoke -- --variant hardened|root-debug [--app NAME]`: runs the
 * synthesized pod locally in bubblewrap sandboxes and proves it becomes
 * ready before it ships. See smoke/cli.ts for the options.
 */
import * as path from 'path';
import { formatResult, parseArgs, UsageError } from '../smoke/cli';
import { HostError } from '../smoke/host';
import { emergencyCleanup } from '../smoke/live';
import { smokeRun } from '../smoke/pod-run';
import { ManifestError } from '../smoke/read';

// Bundled to .build/smoke.js (scripts/run-ts.js): the repo root is one level up.
const root = path.resolve(__dirname, '..');

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2), root);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const controller = new AbortController();
  const signals: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
  let signalled: string | undefined;
  for (const name of Object.keys(signals)) {
    process.on(name, () => {
      // A second Ctrl-C while cleaning up: give up waiting, kill and remove now.
      if (signalled !== undefined) {
        emergencyCleanup();
        process.exit(signals[name]);
      }
      signalled = name;
      process.stdout.write(`\n${name}: stopping the pod and removing its folders\n`);
      controller.abort(new Error(name));
    });
  }
  // Whatever happens, nothing the run started outlives this process.
  process.on('exit', emergencyCleanup);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const result = await smokeRun(options, out, controller.signal);
    for (const line of formatResult(result)) out(line);
    // READY, and every --get answered 2xx.
    return result.ready && (result.gets ?? []).every((g) => g.ok) ? 0 : 1;
  } catch (error) {
    if (signalled !== undefined) return signals[signalled];
    if (error instanceof ManifestError || error instanceof HostError) {
      process.stderr.write(`smoke: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`smoke: ${(error as Error).stack ?? String(error)}\n`);
    emergencyCleanup();
    process.exit(2);
  },
);
