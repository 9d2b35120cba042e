// npm run validate [-- --flows] [dir]: checks that every YAML document under
// dir (default dist/) is admissible (schema, Pod Security, references, network
// reachability; see validation/). Prints one line per finding,
// `<file>#<doc> <Kind>/<name>: <message>`, one line per Secret a workload
// declares external (`... must exist in the cluster ...`: not a failure, a
// precondition of the apply), then `N passed, M failed`, and
// exits 1 when a document failed, 2 on bad usage. With --flows it first prints
// every declared connection and its verdict, in the same format.
import { runValidate } from '../validation/cli';

process.exitCode = runValidate(process.argv.slice(2), {
  cwd: process.cwd(),
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
