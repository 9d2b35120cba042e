/**
 * Reads a pip requirements file the way pip does (continuation lines,
 * comments, one requirement per logical line, options after it) and accepts
 * only what keeps an install reproducible and inside the pod's reach:
 * requirement specifiers and their `--hash` options. Everything else pip
 * would read from the file (includes, editables, URLs, paths, index
 * options) is refused with the line and the reason.
 */

/** One requirement of the file. */
export interface Requirement {
  /** 1-based line of the requirement (the first line of a continued one). */
  readonly line: number;
  /** The project name as written. */
  readonly name: string;
  /** The specifier as written, without its options. */
  readonly specifier: string;
  /** Exactly one version: a single `==` clause without wildcard, or `===`. */
  readonly pinned: boolean;
  /** `algorithm:hexdigest`, as pip's `--hash` takes them. */
  readonly hashes: readonly string[];
}

/** A line pip would read differently from what the pod needs; `file:line: why`. */
export class RequirementsError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly why: string,
  ) {
    super(`${file}:${line}: ${why}`);
    this.name = 'RequirementsError';
  }
}

/** pip's digest lengths, in hex characters. */
const HASH_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

const INDEX_OPTIONS = new Set([
  '-i',
  '--index-url',
  '--extra-index-url',
  '--no-index',
  '-f',
  '--find-links',
  '--trusted-host',
]);
const INCLUDE_OPTIONS = new Set(['-r', '--requirement', '-c', '--constraint']);
const EDITABLE_OPTIONS = new Set(['-e', '--editable']);

/** PEP 508 project and extra names. */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/;
const VERSION_OP = /^(===|==|~=|!=|<=|>=|<|>)/;
const ARCHIVE = /\.(whl|zip|tar|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz)$/i;
/** pip's COMMENT_RE: a `#` at the start or after whitespace starts a comment. */
const COMMENT = /(^|\s+)#.*$/;
/** What Python's str.splitlines() splits on, which pip uses. */
// eslint-disable-next-line no-control-regex -- \x1c-\x1e are line breaks to Python
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/**
 * Parses `text`, the content of `file` (named in errors). Throws a
 * RequirementsError for the first line pip must not get.
 */
export function parseRequirements(text: string, file: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const { line, content } of logicalLines(text)) {
    const fail = (why: string) => new RequirementsError(file, line, why);
    if (/\$\{[A-Z0-9_]+\}/.test(content)) {
      throw fail(
        `"${content}": pip would expand \${...} from the pod's environment at install time; write the value`,
      );
    }
    // pip's break_args_options: words up to the first one starting with "-" are
    // the requirement, the rest its options.
    const words = content.split(' ');
    const firstOption = words.findIndex((w) => w.startsWith('-'));
    const specifier = (firstOption < 0 ? words : words.slice(0, firstOption)).join(' ').trim();
    const options = firstOption < 0 ? [] : words.slice(firstOption).join(' ').trim().split(/\s+/);
    if (specifier === '') throw fail(optionLineError(options[0]));
    requirements.push({ line, ...parseSpecifier(specifier, fail), hashes: hashes(options, fail) });
  }
  return requirements;
}

/** pip's preprocessing: join `\` continuations, drop comments and blank lines. */
function logicalLines(text: string): { line: number; content: string }[] {
  const physical = text.replace(/^\uFEFF/, '').split(LINE_BREAK);
  const joined: { line: number; content: string }[] = [];
  let pending: { line: number; parts: string[] } | undefined;
  physical.forEach((raw, index) => {
    const isComment = /^\s*#/.test(raw);
    if (!raw.endsWith('\\') || isComment) {
      // A comment line ends a continuation; the leading space keeps it a comment.
      const part = isComment ? ` ${raw}` : raw;
      if (pending) {
        joined.push({ line: pending.line, content: [...pending.parts, part].join('') });
        pending = undefined;
      } else {
        joined.push({ line: index + 1, content: part });
      }
    } else {
      pending ??= { line: index + 1, parts: [] };
      pending.parts.push(raw.replace(/^\\+|\\+$/g, ''));
    }
  });
  if (pending) joined.push({ line: pending.line, content: pending.parts.join('') });
  return joined
    .map(({ line, content }) => ({ line, content: content.replace(COMMENT, '').trim() }))
    .filter(({ content }) => content !== '');
}

function optionLineError(option: string): string {
  const flag = option.split('=')[0];
  if (EDITABLE_OPTIONS.has(flag)) {
    return `"${option}": editable installs (-e) are not allowed: the pod installs released packages, not a checkout`;
  }
  if (INCLUDE_OPTIONS.has(flag)) {
    return `"${option}": -r/-c includes are not allowed: the included file is not shipped with the code; put its lines here`;
  }
  if (INDEX_OPTIONS.has(flag)) {
    return `"${option}": index options are not allowed here: the index is FixedPythonApp's pipIndexUrl's job`;
  }
  if (flag === '--hash') {
    return `"${option}": a --hash belongs to the requirement before it (end that line with "\\")`;
  }
  return `"${option}": only requirement specifiers and their --hash options are allowed`;
}

function hashes(options: readonly string[], fail: (why: string) => Error): string[] {
  const result: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const option = options[i];
    let value: string | undefined;
    if (option.startsWith('--hash=')) value = option.slice('--hash='.length);
    else if (option === '--hash') value = options[++i];
    else throw fail(`"${option}": after a requirement only --hash options are allowed`);
    const [algorithm, digest] = (value ?? '').split(':');
    const length = HASH_LENGTHS[algorithm];
    if (
      length === undefined ||
      digest === undefined ||
      !new RegExp(`^[0-9a-f]{${length}}$`).test(digest)
    ) {
      throw fail(
        `"--hash=${value ?? ''}": a hash is sha256:, sha384: or sha512: and the digest in lowercase hex (${Object.entries(
          HASH_LENGTHS,
        )
          .map(([a, n]) => `${a} ${n} characters`)
          .join(', ')})`,
      );
    }
    result.push(value!);
  }
  return result;
}

/** A PEP 508 specifier without URL: name, extras, version clauses, markers. */
function parseSpecifier(
  text: string,
  fail: (why: string) => Error,
): { name: string; specifier: string; pinned: boolean } {
  const beforeMarker = text.split(';')[0];
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) || beforeMarker.includes('@')) {
    throw fail(
      `"${text}": URLs and direct references are not allowed: name a released version the index serves`,
    );
  }
  if (/^[.~/\\]/.test(text) || /[/\\]/.test(beforeMarker) || ARCHIVE.test(beforeMarker.trim())) {
    throw fail(
      `"${text}": local paths are not allowed: the file is not in the pod; name a released version`,
    );
  }
  const syntax = (why: string) =>
    fail(`"${text}": not a requirement specifier (${why}); e.g. "fastapi==0.115.0"`);
  let rest = text;
  const name = NAME.exec(rest)?.[0];
  if (name === undefined) throw syntax('it must start with a project name');
  rest = rest.slice(name.length).trimStart();
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw syntax('"[" without "]"');
    const extras = rest.slice(1, close).trim();
    if (extras !== '' && !extras.split(',').every((e) => NAME.exec(e.trim())?.[0] === e.trim())) {
      throw syntax(`extras "${extras}" are not names`);
    }
    rest = rest.slice(close + 1).trimStart();
  }
  let clauses: { op: string; version: string }[] = [];
  const markerAt = rest.indexOf(';');
  let versions = (markerAt < 0 ? rest : rest.slice(0, markerAt)).trim();
  if (versions.startsWith('(') && versions.endsWith(')')) versions = versions.slice(1, -1).trim();
  if (versions !== '') {
    clauses = versions.split(',').map((clause) => {
      const c = clause.trim();
      const op = VERSION_OP.exec(c)?.[0];
      const version = op === undefined ? '' : c.slice(op.length).trim();
      const shape = op === '===' ? /^[^\s;,()]+$/ : /^[A-Za-z0-9_.*+!-]+$/;
      if (op === undefined || !shape.test(version)) {
        throw syntax(`"${c}" is not a version clause like "==1.2.3" or ">=1.2,<2"`);
      }
      return { op, version };
    });
  }
  if (markerAt >= 0) {
    const problem = markerProblem(rest.slice(markerAt + 1));
    if (problem !== undefined) throw syntax(`environment marker: ${problem}`);
  }
  const pinned =
    clauses.length === 1 &&
    (clauses[0].op === '===' || (clauses[0].op === '==' && !clauses[0].version.includes('*')));
  return { name, specifier: text, pinned };
}

const MARKER_VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
]);
const MARKER_TOKEN =
  /\s*(?:(\(|\))|(===|==|~=|!=|<=|>=|<|>)|('[^']*'|"[^"]*")|([A-Za-z_][A-Za-z0-9_.]*)|(\S))/y;

/**
 * Checks PEP 508's marker grammar (`marker_or`); returns what is wrong, or
 * undefined. pip would refuse the same text at install time, in the pod.
 */
export function markerProblem(text: string): string | undefined {
  type Token = { type: 'paren' | 'op' | 'string' | 'word'; value: string };
  const tokens: Token[] = [];
  MARKER_TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (MARKER_TOKEN.lastIndex < text.length && (m = MARKER_TOKEN.exec(text)) !== null) {
    if (m[5] !== undefined) return `unexpected "${m[5]}"`;
    if (m[1] !== undefined) tokens.push({ type: 'paren', value: m[1] });
    else if (m[2] !== undefined) tokens.push({ type: 'op', value: m[2] });
    else if (m[3] !== undefined) tokens.push({ type: 'string', value: m[3] });
    else if (m[4] !== undefined) tokens.push({ type: 'word', value: m[4] });
    if (text.slice(MARKER_TOKEN.lastIndex).trim() === '') break;
  }
  let i = 0;
  const peek = () => tokens[i];
  const value = (): string | undefined => {
    const t = tokens[i++];
    if (t?.type === 'string') return undefined;
    if (t?.type === 'word' && MARKER_VARIABLES.has(t.value)) return undefined;
    return t === undefined
      ? 'it ends too early'
      : `"${t.value}" is not a marker variable or a quoted string`;
  };
  const expression = (): string | undefined => {
    if (peek()?.type === 'paren' && peek().value === '(') {
      i++;
      const inner = or();
      if (inner !== undefined) return inner;
      if (tokens[i++]?.value !== ')') return '"(" without ")"';
      return undefined;
    }
    const left = value();
    if (left !== undefined) return left;
    const op = tokens[i++];
    if (op?.type === 'word' && op.value === 'not') {
      if (tokens[i++]?.value !== 'in') return '"not" without "in"';
    } else if (!(op?.type === 'op' || (op?.type === 'word' && op.value === 'in'))) {
      return op === undefined
        ? 'a comparison without operator'
        : `"${op.value}" is not an operator`;
    }
    return value();
  };
  const chain = (word: 'and' | 'or', next: () => string | undefined): string | undefined => {
    const first = next();
    if (first !== undefined) return first;
    while (peek()?.type === 'word' && peek().value === word) {
      i++;
      const more = next();
      if (more !== undefined) return more;
    }
    return undefined;
  };
  const and = () => chain('and', expression);
  const or = (): string | undefined => chain('or', and);
  if (tokens.length === 0) return 'it is empty';
  const problem = or();
  if (problem !== undefined) return problem;
  return i < tokens.length ? `unexpected "${tokens[i].value}"` : undefined;
}
