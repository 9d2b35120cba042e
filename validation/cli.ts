// npm run validate [-- --flows] [dir]: checks that every YAML document under
// dir (default dist/) is admissible (schema, Pod Security, references, network
// reachability; see validation/). Prints one line per finding,
// `<file>#<doc> <Kind>/<name>: <message>`, one line per Secret a workload
// declares external (`... must exist in the cluster ...`: not a failure, a
// precondition of the apply), then `N passed, M failed`, and
// exits 1 when a document failed, 2 on bad usage. With --flows it first prints
// every declared connection and its verdict, in the same format.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { formatExternalSecret, formatFinding, validateDir } from './index';

/** Where the command runs and writes: the process's, or a test's. */
export interface CliIo {
  readonly cwd: string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const USAGE = 'usage: validate [--flows] [dir]   (default: dist)\n';

/** `npm run validate`'s command line; returns the exit status. */
export function runValidate(argv: readonly string[], io: CliIo): number {
  let args: { flows: boolean; dirs: string[] };
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: { flows: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    args = { flows: parsed.values.flows === true, dirs: parsed.positionals };
  } catch {
    io.err(USAGE);
    return 2;
  }
  if (args.dirs.length > 1) {
    io.err(USAGE);
    return 2;
  }
  const dir = args.dirs[0] ?? 'dist';
  const full = path.resolve(io.cwd, dir);
  if (!fs.existsSync(full) || !fs.statSync(full).isDirectory()) {
    io.err(`validate: ${dir} is not a directory\n`);
    return 2;
  }
  const { findings, flows, passed, failed, external } = validateDir(full, io.cwd);
  const lines = [...(args.flows ? flows : []), ...findings].map(formatFinding);
  lines.push(...external.map(formatExternalSecret));
  if (passed + failed === 0) lines.push(`validate: no YAML documents under ${dir}`);
  lines.push(`${passed} passed, ${failed} failed`);
  io.out(`${lines.join('\n')}\n`);
  return failed > 0 || passed === 0 ? 1 : 0;
}
