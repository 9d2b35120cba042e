/**
 * Single-quotes a word for POSIX sh. Props are validated before they reach a
 * script, and quoting on top means a value can never become shell syntax.
 */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Builds the `sh -c` script of a container: `set -eu` first so the first
 * failing step stops the container, and every step is announced so that
 * `kubectl logs` shows where a crashed container stopped.
 */
export function shellScript(tag: string, steps: readonly ShellStep[]): string {
  const lines = ['set -eu'];
  for (const step of steps) {
    lines.push(`echo ${shellQuote(`[${tag}] ${step.say}`)}`);
    lines.push(step.run);
  }
  return lines.join('\n') + '\n';
}

export interface ShellStep {
  /** What the log says before the step runs. */
  readonly say: string;
  /** The command line, already quoted. */
  readonly run: string;
}
