/**
 * Telling leftovers of killed processes from live work: temporary folders carry the pid of the
 * process that owns them (store staging, unpack folders), and a folder whose pid is gone can go.
 */
import process from "node:process";

/** Whether a process with this pid exists (EPERM: it does, but belongs to another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
