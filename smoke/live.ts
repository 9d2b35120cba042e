/**
 * What a smoke run has alive right now (process groups, helper processes,
 * folders), for the synchronous last-resort cleanup at exit.
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
  for (const dir of live.dirs) trySync(() => fs.rmSync(dir, { recursive: true, force: true }));
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
