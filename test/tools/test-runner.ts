// scripts/test.js, the runner of `npm test`: every step runs to its end even
// when another fails, each failure's output is shown, the exit status is 1 when
// any step failed. Real child processes, a few milliseconds each.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { report, runSteps } from '../../scripts/test';
import { tempDirs } from '../helpers';

const node = process.execPath;
const tmpDir = tempDirs();

function collect(): { write: (text: string) => void; text: () => string } {
  let all = '';
  return { write: (t) => (all += t), text: () => all };
}

test('a failing step does not stop the others; its output and the exit status say so', async () => {
  const marker = path.join(tmpDir('test-runner-'), 'slow-done');
  const results = await runSteps([
    { name: 'fails', argv: [node, '-e', 'console.error("lint: 2 problems"); process.exit(3)'] },
    {
      name: 'slow',
      argv: [
        node,
        '-e',
        `setTimeout(() => require("fs").writeFileSync(${JSON.stringify(marker)}, "x"), 200)`,
      ],
    },
    { name: 'missing', argv: [path.join(__dirname, '..', 'no-such-tool')] },
  ]);
  expect(results.map((r) => [r.name, r.code])).toEqual([
    ['fails', 3],
    ['slow', 0],
    ['missing', 127],
  ]);
  expect(fs.existsSync(marker)).toBe(true);

  const out = collect();
  expect(report(results, 1.25, out.write)).toBe(1);
  const text = out.text();
  expect(text).toContain(
    `── fails (-e console.error("lint: 2 problems"); process.exit(3))\nlint: 2 problems\n`,
  );
  expect(text).toMatch(/── missing \(\)\nspawn .*no-such-tool ENOENT\n/);
  expect(text).toMatch(/^test: fails +\d+\.\d s {2}FAILED \(exit 3\)$/m);
  expect(text).toMatch(/^test: slow +\d+\.\d s {2}ok$/m);
  expect(text).toMatch(/^test: fails, missing failed \(1\.3 s\)$/m);
});

test('all steps passing: exit status 0, silent steps print no block', async () => {
  const results = await runSteps([
    { name: 'quiet', argv: [node, '-e', ''] },
    { name: 'chatty', argv: [node, '-e', 'console.log("40 passed, 0 failed")'] },
  ]);
  const out = collect();
  expect(report(results, 0.5, out.write)).toBe(0);
  expect(out.text()).not.toContain('── quiet');
  expect(out.text()).toContain(
    '── chatty (-e console.log("40 passed, 0 failed"))\n40 passed, 0 failed\n',
  );
  expect(out.text()).toMatch(/^test: all 2 steps passed in 0\.5 s$/m);
});

test('a step killed by a signal fails', async () => {
  const [result] = await runSteps([
    { name: 'killed', argv: [node, '-e', 'process.kill(process.pid, "SIGKILL")'] },
  ]);
  expect(result).toMatchObject({ code: 128, detail: 'killed by SIGKILL' });
});

test('a step with `nice` runs at that niceness, threads and children included; others at ours', async () => {
  // The child reports its own niceness and a grandchild's.
  const script =
    'const os = require("os"); const { execFileSync } = require("child_process");' +
    'console.log(os.getPriority(), execFileSync(process.execPath, ["-p", "require(\\"os\\").getPriority()"]).toString().trim())';
  const ours = os.getPriority();
  const [niced, plain] = await runSteps([
    { name: 'niced', nice: 10, argv: [node, '-e', script] },
    { name: 'plain', argv: [node, '-e', script] },
  ]);
  expect(niced.output.trim()).toBe(`${Math.min(ours + 10, 19)} ${Math.min(ours + 10, 19)}`);
  expect(plain.output.trim()).toBe(`${ours} ${ours}`);
});
