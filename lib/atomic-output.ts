import * as fs from 'fs';
import * as path from 'path';

/**
 * An output folder that is replaced in one step: everything is synthesized
 * into a staging folder beside it, and only a run that finished swaps it in.
 * A failed synth leaves the previous output exactly as it was.
 */
export class AtomicOutput {
  public readonly target: string;
  private readonly staging: string;

  constructor(target: string) {
    this.target = path.resolve(target);
    this.staging = `${this.target}.tmp-${process.pid}`;
  }

  /** A folder inside the staging area, for one part of the output. */
  public path(...parts: string[]): string {
    return path.join(this.staging, ...parts);
  }

  /** Runs `build`, then swaps the staging folder in; on any error, discards it and rethrows. */
  public run(build: () => void): void {
    fs.rmSync(this.staging, { recursive: true, force: true });
    fs.mkdirSync(this.staging, { recursive: true });
    try {
      build();
    } catch (error) {
      fs.rmSync(this.staging, { recursive: true, force: true });
      throw error;
    }
    const old = `${this.target}.old-${process.pid}`;
    if (fs.existsSync(this.target)) fs.renameSync(this.target, old);
    fs.renameSync(this.staging, this.target);
    fs.rmSync(old, { recursive: true, force: true });
  }
}
