/**
 * One changing command at a time per state folder: two `local up` runs side by side could start two
 * agents on one data directory. A lock file holds the pid and the command; a stale one (its process
 * is gone) is taken over.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { SafetyRefusal } from '../core/errors.js';
import { pidAlive } from './processes.js';

export async function withStateLock<T>(root: string, what: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const path = join(root, 'ops.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid} ${what}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockBusy(path, err);
      const [pid, ...rest] = readFileSync(path, 'utf8').trim().split(' ');
      if (Number(pid) > 0 && pidAlive(Number(pid)))
        throw new SafetyRefusal(
          'E_BUSY',
          `another postgres-ops command (pid ${pid}: ${rest.join(' ')}) is changing the local PostgreSQL`,
          { pid: Number(pid) },
          { hint: 'Wait for it to finish, then run this again.' },
        );
      rmSync(path, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

function lockBusy(path: string, err: unknown) {
  return new SafetyRefusal(
    'E_BUSY',
    `cannot take the lock ${path}: ${(err as Error).message}`,
    {},
    {
      hint: 'If no other postgres-ops command is running, delete that file and run this again.',
    },
  );
}
