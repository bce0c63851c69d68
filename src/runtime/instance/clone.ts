/**
 * A replica's first start: pg_basebackup from the primary into a directory next to PGDATA, renamed
 * into place only when complete. Until a clone succeeds PGDATA is neither created nor changed.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationFailed } from '../../core/errors.js';
import type { Logger } from '../log.js';
import { spawn } from 'node:child_process';
import { ensureParent, moveIntoPlace } from './datadir.js';
import { slotExists, type Login } from './sql.js';

export const CLONE_SUFFIX = '.pgops-clone';

export interface CloneInput {
  binDir: string;
  pgdata: string;
  primary: Login;
  /** 0600 passfile with the replication password (read by pg_basebackup through PGPASSFILE). */
  passfile: string;
  slot: string;
  log: Logger;
  signal: AbortSignal;
}

/** One clone attempt. Throws OperationFailed when the primary cannot be reached or the copy fails. */
export async function cloneFromPrimary(c: CloneInput): Promise<void> {
  const work = c.pgdata + CLONE_SUFFIX;
  ensureParent(c.pgdata);
  rmSync(work, { recursive: true, force: true });
  const where = `${c.primary.host}:${c.primary.port}`;
  let exists: boolean;
  try {
    exists = await slotExists(c.primary, c.slot);
  } catch (err) {
    throw new OperationFailed(
      'E_PRIMARY_UNREACHABLE',
      `cannot reach the primary at ${where}: ${(err as Error).message}`,
    );
  }
  c.log.info(`cloning from the primary at ${where}`, { slot: c.slot, reuseSlot: exists, pgdata: c.pgdata });
  const args = [
    '-h',
    c.primary.host,
    '-p',
    String(c.primary.port),
    '-U',
    c.primary.user,
    '-D',
    work,
    '-X',
    'stream',
    ...(exists ? [] : ['-C']),
    '-S',
    c.slot,
    '--checkpoint=fast',
    '--no-password',
  ];
  const r = await runCancellable(join(c.binDir, 'pg_basebackup'), args, {
    env: { ...process.env, PGPASSFILE: c.passfile, PGCONNECT_TIMEOUT: '10' },
    signal: c.signal,
  });
  if (r.code !== 0 || c.signal.aborted) {
    rmSync(work, { recursive: true, force: true });
    if (c.signal.aborted) throw new OperationFailed('E_ABORTED', 'clone interrupted by shutdown');
    const why = r.stderr.trim().split('\n').slice(-3).join('\n') || `exit ${r.code ?? r.signal}`;
    throw new OperationFailed('E_CLONE', `pg_basebackup from ${where} failed: ${why}`);
  }
  writeFileSync(join(work, 'standby.signal'), '');
  moveIntoPlace(work, c.pgdata);
  c.log.info('clone complete', { pgdata: c.pgdata, slot: c.slot });
}

/** Runs a program, stopping it (SIGTERM) when `signal` aborts; collects stderr. */
function runCancellable(
  file: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; signal: AbortSignal },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    const onAbort = () => child.kill('SIGTERM');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => (stderr += err.message));
    child.on('close', (code, sig) => {
      opts.signal.removeEventListener('abort', onAbort);
      resolve({ code, signal: sig, stderr });
    });
  });
}
