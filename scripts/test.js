#!/usr/bin/env node
// `npm test`: every check, run concurrently. The smoke suite spends most of
// its time waiting for real pods (a startup probe's initialDelaySeconds), so
// the type-check, lint and format checks run beside Jest instead of before
// it. Every step runs to the end, so that one failure hides no other; Jest's
// output streams live, each other step's output is shown after Jest's, and
// the exit status is 1 when any step failed.
//
// Arguments go to Jest (`npm test -- test/smoke.test.ts`); the other steps
// always check everything.
const { spawn } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const color = process.stdout.isTTY;

const steps = [
  // Jest first: it holds the longest chain (the smoke pods).
  { name: 'jest', argv: [bin('jest'), ...process.argv.slice(2)], live: true },
  { name: 'typecheck', argv: [bin('tsc'), '--noEmit', ...(color ? ['--pretty'] : [])] },
  { name: 'eslint', argv: [bin('eslint'), '.'] },
  { name: 'prettier', argv: [bin('prettier'), '--check', '.'] },
  { name: 'validate', argv: [process.execPath, 'scripts/run-ts.js', 'scripts/validate.ts'] },
];

const started = Date.now();
const children = new Set();

function run(step) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(step.argv[0], step.argv.slice(1), {
      cwd: root,
      stdio: step.live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      env: color && !step.live ? { ...process.env, FORCE_COLOR: '1' } : process.env,
    });
    children.add(child);
    const chunks = [];
    child.stdout?.on('data', (chunk) => chunks.push(chunk));
    child.stderr?.on('data', (chunk) => chunks.push(chunk));
    const done = (code, detail) => {
      children.delete(child);
      resolve({ ...step, code, detail, seconds: (Date.now() - t0) / 1000, output: chunks });
    };
    child.on('error', (error) => done(127, error.message));
    child.on('close', (code, signal) => done(code ?? 128, signal ?? undefined));
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
    process.exit(130);
  });
}

Promise.all(steps.map(run)).then((results) => {
  for (const result of results.filter((r) => !r.live)) {
    const text = Buffer.concat(result.output).toString('utf8').trimEnd();
    if (text === '' && result.detail === undefined) continue;
    process.stdout.write(`\n── ${result.name} (${result.argv.slice(1).join(' ')})\n`);
    if (text !== '') process.stdout.write(`${text}\n`);
    if (result.detail !== undefined) process.stdout.write(`${result.detail}\n`);
  }
  process.stdout.write('\n');
  for (const r of results) {
    const verdict = r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`;
    process.stdout.write(
      `test: ${r.name.padEnd(10)} ${r.seconds.toFixed(1).padStart(5)} s  ${verdict}\n`,
    );
  }
  const failed = results.filter((r) => r.code !== 0);
  const wall = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    failed.length === 0
      ? `test: all ${results.length} steps passed in ${wall} s\n`
      : `test: ${failed.map((r) => r.name).join(', ')} failed (${wall} s)\n`,
  );
  process.exitCode = failed.length === 0 ? 0 : 1;
});
