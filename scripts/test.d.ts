// Types of scripts/test.js's exports, for its test.

export interface Step {
  readonly name: string;
  readonly argv: readonly string[];
  /** Streams the output (stdio inherited) instead of buffering it. */
  readonly live?: boolean;
  /** Runs the step at this niceness (through nice(1)). */
  readonly nice?: number;
}

export interface StepResult extends Step {
  /** The exit code; 127 when it could not start, 128 when a signal killed it. */
  readonly code: number;
  readonly detail?: string;
  readonly seconds: number;
  readonly output: string;
}

export function runSteps(
  steps: readonly Step[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<StepResult[]>;

export function report(
  results: readonly StepResult[],
  wallSeconds: number,
  write: (text: string) => void,
): number;
