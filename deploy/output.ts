/**
 * The command's output: one line per step, prefixed with the time since the
 * command started (`[  3.2s] ...`), so a person watching sees progress and
 * how long each step took; detail lines are indented under their step. The
 * last line of a deploy starts with DEPLOYED, FAILED or DRY RUN.
 */
export type Sink = (line: string) => void;

/** Milliseconds on a monotonic clock. */
export type Clock = () => number;

export const monotonic: Clock = () => performance.now();

export class Reporter {
  private readonly start: number;

  constructor(
    private readonly sink: Sink,
    private readonly clock: Clock = monotonic,
  ) {
    this.start = clock();
  }

  /** Seconds since the command started. */
  elapsed(): number {
    return (this.clock() - this.start) / 1000;
  }

  step(text: string): void {
    this.sink(`[${this.elapsed().toFixed(1).padStart(5)}s] ${text}`);
  }

  /** A line under the current step, aligned with its text. */
  detail(text: string): void {
    this.sink(`${' '.repeat(9)}${text}`);
  }

  /** Free-form output (e.g. --history). */
  line(text: string): void {
    this.sink(text);
  }
}

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** `12 ms`, `1.4 s`. */
export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
