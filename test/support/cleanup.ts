/**
 * Cleanup that runs even when a test fails or the test process is interrupted: every started
 * process and temp directory registers here; `after()` hooks and a process exit handler drain it.
 */
import { rmSync } from 'node:fs';

type Task = { name: string; run: () => Promise<void> | void; sync?: () => void };
const tasks: Task[] = [];

export function onCleanup(name: string, run: () => Promise<void> | void, sync?: () => void): () => void {
  const task: Task = { name, run, sync };
  tasks.push(task);
  return () => {
    const i = tasks.indexOf(task);
    if (i >= 0) tasks.splice(i, 1);
  };
}

/** Runs every pending cleanup, newest first (processes stop before their directories go). */
export async function cleanupAll(): Promise<void> {
  while (tasks.length) {
    const t = tasks.pop()!;
    try {
      await t.run();
    } catch (err) {
      process.stderr.write(`cleanup ${t.name} failed: ${String(err)}\n`);
    }
  }
}

function syncCleanup() {
  while (tasks.length) {
    const t = tasks.pop()!;
    try {
      t.sync?.();
    } catch {
      /* best effort at exit */
    }
  }
}

process.once('exit', syncCleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    syncCleanup();
    process.exit(130);
  });
}

export function removeDirSync(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}
