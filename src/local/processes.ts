/**
 * Detached processes that outlive the CLI (instances, exporter): started with their output in a
 * log file and their pid in a pid file; found again by pid and command line, so a recycled pid of
 * some other program is never mistaken for ours (nor signalled).
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../runtime/pid.js';

export function readPidFile(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export { pidAlive };

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The pid in `pidFile` when that process is alive and its command line contains `marker`. */
export function runningPid(pidFile: string, marker: string): number | undefined {
  const pid = readPidFile(pidFile);
  if (!pid || !pidAlive(pid)) return undefined;
  const cl = cmdline(pid);
  if (cl && !cl.includes(marker)) return undefined;
  return pid;
}

/**
 * The postmaster that owns a data directory, if one is alive (postmaster.pid's first line). After a
 * reboot that pid may belong to anything, even another cluster's postgres: the process must have the
 * data directory as its working directory (the postmaster chdirs there), or it is not ours.
 */
export function postmasterPid(dataDir: string): number | undefined {
  const pid = readPidFile(join(dataDir, 'postmaster.pid'));
  if (!pid || !pidAlive(pid)) return undefined;
  try {
    return realpathSync(readlinkSync(`/proc/${pid}/cwd`)) === realpathSync(dataDir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface DetachedSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  pidFile: string;
  cwd?: string;
  uid?: number;
  gid?: number;
}

/** Starts a process in its own session, appending its output to logFile; returns its pid. */
export function spawnDetached(spec: DetachedSpec): number {
  const fd = openSync(spec.logFile, 'a', 0o644);
  try {
    const child = spawn(spec.file, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      uid: spec.uid,
      gid: spec.gid,
    });
    if (!child.pid) throw new Error(`could not start ${spec.file}`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `signal` and waits for the process to be gone; escalates to SIGKILL after timeoutMs. */
export async function stopPid(
  pid: number,
  timeoutMs: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<boolean> {
  try {
    process.kill(pid, signal);
  } catch {
    return true;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
  return false;
}

export function removePidFile(pidFile: string) {
  rmSync(pidFile, { force: true });
}

/** The last lines of a log file, for an error message. */
export function tailFile(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
