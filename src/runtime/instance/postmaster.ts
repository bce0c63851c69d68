/**
 * The postgres child process. Spawned directly (no pg_ctl daemon) so that the agent sees it exit and
 * can forward signals. Its stderr is PostgreSQL's own log: passed through unchanged, with the last
 * part kept to tell a full disk or a busy directory from other failures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../pid.js';

const TAIL_BYTES = 16 * 1024;

export interface PostmasterExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  logTail: string;
}

export class Postmaster {
  private child: ChildProcess;
  private tail = '';
  readonly exited: Promise<PostmasterExit>;
  exitInfo: PostmasterExit | undefined;

  constructor(
    postgresBin: string,
    args: string[],
    passthrough: (chunk: Buffer) => void = (c) => process.stderr.write(c),
  ) {
    this.child = spawn(postgresBin, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    this.child.stderr!.on('data', (c: Buffer) => {
      passthrough(c);
      this.tail = (this.tail + c.toString('utf8')).slice(-TAIL_BYTES);
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.tail += `\n${err.message}`;
      });
      this.child.on('close', (code, signal) => {
        this.exitInfo = { code, signal, logTail: this.tail };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  get logTail(): string {
    return this.tail;
  }

  signal(sig: NodeJS.Signals) {
    if (this.alive) this.child.kill(sig);
  }
}

/**
 * A postmaster still serving `pgdata` that this agent did not start (left running when a previous
 * agent process was killed). Identified by postmaster.pid AND its command line naming the directory,
 * so a recycled pid of an unrelated process is never mistaken for it.
 */
export function orphanPostmaster(pgdata: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !pidAlive(pid)) return undefined;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const isPostgres = cmd.some((a) => /(^|\/)(postgres|postmaster)$/.test(a));
    return isPostgres && cmd.includes(pgdata) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export { pidAlive };
