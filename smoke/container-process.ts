/**
 * One running container: its sandbox process and its log, stdout and stderr
 * interleaved as `kubectl logs` shows them.
 */
import { ChildProcess, spawn } from 'child_process';
import { constants } from 'os';

/** The last lines of a container's output. */
export class LogBuffer {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly keep = 500,
    private readonly onLine?: (line: string) => void,
  ) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  /** Flushes a last line without a newline. */
  end(): void {
    if (this.partial !== '') this.add(this.partial);
    this.partial = '';
  }

  tail(count: number): string[] {
    return this.lines.slice(-count);
  }

  private add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.shift();
    this.onLine?.(line);
  }
}

export interface ContainerExit {
  /** As the kubelet reports it: the exit status, or 128 + the signal number. */
  readonly code: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export class ContainerProcess {
  readonly logs: LogBuffer;
  readonly startedAt = Date.now();
  readonly exited: Promise<ContainerExit>;
  private readonly child: ChildProcess;
  private done = false;

  constructor(
    readonly name: string,
    argv: readonly string[],
    onLine?: (line: string) => void,
  ) {
    this.logs = new LogBuffer(500, onLine);
    // Its own process group, so the whole sandbox can be killed at once.
    this.child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => this.logs.push(s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.logs.push(s));
    this.exited = new Promise((resolve) => {
      let closed = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (closed) return;
        closed = true;
        this.done = true;
        this.logs.end();
        const signo = signal ? (constants.signals[signal] ?? 9) : 0;
        resolve({ code: code ?? 128 + signo, at: Date.now() });
      };
      // 'close' waits for the output pipes, so the log tail is complete.
      this.child.once('close', finish);
      this.child.once('error', (error) => {
        this.logs.push(`${error.message}\n`);
        finish(127, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGKILLs the sandbox; bwrap's pid namespace takes every process in it along. */
  kill(): void {
    if (this.done || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
