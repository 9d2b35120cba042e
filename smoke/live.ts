/**
 * What a smoke run has alive right now (process groups, helper processes,
 * folders), for the synchronous last-resort cleanup at exit, and the sweep
 * for sandbox processes that left the process group the run kills.
 */
import * as fs from 'fs';

export const live = {
  groups: new Set<number>(),
  pids: new Set<number>(),
  dirs: new Set<string>(),
};

/**
 * Kills whatever a run left and removes its folders. For `process.on('exit')`:
 * the normal path cleans up itself, this covers a hard exit in between.
 */
export function emergencyCleanup(): void {
  for (const pgid of live.groups) trySync(() => process.kill(-pgid, 'SIGKILL'));
  for (const pid of live.pids) trySync(() => process.kill(pid, 'SIGKILL'));
  for (const dir of live.dirs) {
    for (const pid of processesNaming(dir)) trySync(() => process.kill(pid, 'SIGKILL'));
    trySync(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
  live.groups.clear();
  live.pids.clear();
  live.dirs.clear();
}

function trySync(action: () => void): void {
  try {
    action();
  } catch {
    // best effort: it is gone already
  }
}

/** The processes (other than this one) whose command line contains `marker`. */
function processesNaming(marker: string): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .filter((entry) => {
      try {
        return fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/**
 * SIGKILLs every process whose command line contains `marker` (a run's own
 * work folder, which every sandbox of the run mounts from) and waits until
 * they are gone, at most `timeoutMs`. Killing a sandbox's process group is not
 * always enough: bwrap's child calls setsid() (--new-session) and dies with
 * its parent (--die-with-parent) only once it has asked for that, in its first
 * milliseconds; a Ctrl-C in that window left it running, reparented to init.
 * Returns the processes still there at the end.
 */
export async function killProcessesNaming(marker: string, timeoutMs = 2000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A zombie's command line is empty: only the living match.
    const left = processesNaming(marker);
    if (left.length === 0 || Date.now() >= deadline) return left;
    for (const pid of left) trySync(() => process.kill(pid, 'SIGKILL'));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
