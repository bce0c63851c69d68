import { readFileSync } from 'node:fs';

/**
 * Whether a process is running: it exists (EPERM means it exists, owned by another user) and is not a
 * zombie (exited, waiting for its parent to reap it, which for a detached process can take a moment).
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    // Gone between the two checks; no /proc at all: trust kill(0).
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
