#!/usr/bin/env node
// `npm test`: every check, run concurrently. The smoke suite spends most of
// its time waiting for real pods (a startup probe's initialDelaySeconds), so
// the type-check, lint and format checks run beside Jest instead of before
// it. Every step runs to the end, so that one failure hides no other; Jest's
// output streams live, each other step's output is shown after Jest's, and
// the exit status is 1 when any step failed.
//
// Arguments go to Jest (`npm test -- test/smoke-pods.test.ts`); the other steps
// always check everything.
const { spawn } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

/** The niceness of the static checks (see defaultSteps). */
const STATIC_NICE = 10;

/**
 * The steps of `npm test`; `live` streams its output instead of buffering it,
 * `nice` runs the step at that niceness (through nice(1), so that every thread
 * and child of the step has it from the start).
 */
function defaultSteps(jestArgs, color) {
  return [
    // Jest first: it holds the longest chain (the smoke pods' start, pip
    // install and startup probe).
    { name: 'jest', argv: [bin('jest'), ...jestArgs], live: true },
    // The static checks fill the CPU the smoke pods leave idle (their probes'
    // initial delay), at a lower priority (nice 10): the run is CPU-bound, and
    // every second the Jest chain waits for a core lengthens the whole run,
    // while the static checks have time to spare. Their caches in .build/ (by
    // content, so a checkout's new mtimes do not matter) make a second run
    // cheap; a fresh clone starts without them.
    {
      // TypeScript 7's native compiler (package.json's typescript-native):
      // the same checks in a sixth of the CPU time of TypeScript 5's tsc, which
      // stays installed for typescript-eslint (it needs TypeScript's JS API).
      name: 'typecheck',
      nice: STATIC_NICE,
      argv: [
        tscNative(),
        '--noEmit',
        '--incremental',
        '--tsBuildInfoFile',
        '.build/tsc.tsbuildinfo',
        ...(color ? ['--pretty'] : []),
      ],
    },
    {
      name: 'eslint',
      nice: STATIC_NICE,
      argv: [bin('eslint'), '.', ...cache('.build/eslint-cache')],
    },
    {
      name: 'prettier',
      nice: STATIC_NICE,
      argv: [bin('prettier'), '--check', '.', ...cache('.build/prettier-cache')],
    },
    {
      name: 'validate',
      nice: STATIC_NICE,
      argv: [process.execPath, 'scripts/run-ts.js', 'scripts/validate.ts'],
    },
  ];
}

/** TypeScript 7's tsc, by path: both TypeScript packages name their command `tsc`. */
function tscNative() {
  return path.join(root, 'node_modules', 'typescript-native', 'bin', 'tsc');
}

function cache(location) {
  return ['--cache', '--cache-location', location, '--cache-strategy', 'content'];
}

/**
 * Runs the steps at once and resolves, when all have ended, to one result per
 * step (in the steps' order): exit code (127 when it could not start, 128 when
 * killed by a signal), seconds, and the buffered output.
 */
function runSteps(steps, { cwd = root, env = process.env, children = new Set() } = {}) {
  return Promise.all(
    steps.map(
      (step) =>
        new Promise((resolve) => {
          const t0 = Date.now();
          const argv = step.nice ? ['nice', '-n', String(step.nice), ...step.argv] : step.argv;
          const child = spawn(argv[0], argv.slice(1), {
            cwd,
            env,
            stdio: step.live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
          });
          children.add(child);
          const chunks = [];
          child.stdout?.on('data', (chunk) => chunks.push(chunk));
          child.stderr?.on('data', (chunk) => chunks.push(chunk));
          let settled = false;
          const done = (code, detail) => {
            if (settled) return;
            settled = true;
            children.delete(child);
            const output = Buffer.concat(chunks).toString('utf8');
            resolve({ ...step, code, detail, seconds: (Date.now() - t0) / 1000, output });
          };
          child.on('error', (error) => done(127, error.message));
          child.on('close', (code, signal) =>
            done(code ?? 128, signal ? `killed by ${signal}` : undefined),
          );
        }),
    ),
  );
}

/** The buffered steps' output, then one line per step; returns the exit status. */
function report(results, wallSeconds, write) {
  for (const result of results.filter((r) => !r.live)) {
    const text = result.output.trimEnd();
    if (text === '' && result.detail === undefined) continue;
    write(`\n── ${result.name} (${result.argv.slice(1).join(' ')})\n`);
    if (text !== '') write(`${text}\n`);
    if (result.detail !== undefined) write(`${result.detail}\n`);
  }
  write('\n');
  for (const r of results) {
    const verdict = r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`;
    write(`test: ${r.name.padEnd(10)} ${r.seconds.toFixed(1).padStart(5)} s  ${verdict}\n`);
  }
  const failed = results.filter((r) => r.code !== 0);
  write(
    failed.length === 0
      ? `test: all ${results.length} steps passed in ${wallSeconds.toFixed(1)} s\n`
      : `test: ${failed.map((r) => r.name).join(', ')} failed (${wallSeconds.toFixed(1)} s)\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

async function main() {
  const color = Boolean(process.stdout.isTTY);
  const children = new Set();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      for (const child of children) child.kill(signal);
      process.exit(130);
    });
  }
  const started = Date.now();
  const results = await runSteps(defaultSteps(process.argv.slice(2), color), {
    env: color ? { ...process.env, FORCE_COLOR: '1' } : process.env,
    children,
  });
  const write = (text) => process.stdout.write(text);
  process.exitCode = report(results, (Date.now() - started) / 1000, write);
}

module.exports = { runSteps, report };

if (require.main === module) void main();
