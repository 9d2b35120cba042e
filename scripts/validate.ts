// npm run validate [dir]: checks that every YAML document under dir (default
// dist/) is admissible (schema, Pod Security, references; see validation/).
// Prints one line per finding, `<file>#<doc> <Kind>/<name>: <message>`, one
// line per Secret a workload declares external (`... must exist in the
// cluster ...`: not a failure, a precondition of the apply), then
// `N passed, M failed`, and exits 1 when a document failed, 2 on bad usage.
import * as fs from 'fs';
import { formatExternalSecret, formatFinding, validateDir } from '../validation';

function main(args: string[]): number {
  if (args.length > 1 || args[0]?.startsWith('-')) {
    process.stderr.write('usage: validate [dir]   (default: dist)\n');
    return 2;
  }
  const dir = args[0] ?? 'dist';
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    process.stderr.write(`validate: ${dir} is not a directory\n`);
    return 2;
  }
  const { findings, passed, failed, external } = validateDir(dir);
  const lines = [...findings.map(formatFinding), ...external.map(formatExternalSecret)];
  if (passed + failed === 0) lines.push(`validate: no YAML documents under ${dir}`);
  lines.push(`${passed} passed, ${failed} failed`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed > 0 || passed === 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
