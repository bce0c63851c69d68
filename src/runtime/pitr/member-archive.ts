/**
 * What a member does for the WAL archive besides what PostgreSQL runs itself (archive_command,
 * restore_command): it keeps pgBackRest's configuration next to Patroni's, runs pgBackRest's TLS
 * server on Kubernetes (so the repository pod can take backups from whichever member leads), and,
 * when it leads, creates the stanza (so archiving works from the first minute) and reports a failing
 * `check`. A replica asks whether the archive holds a segment before its agent re-clones it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pgbackrestConf } from '../../core/pitr/conf.js';
import type { Logger } from '../log.js';
import {
  archives,
  confInputs,
  memberConfPath,
  pgbackrestEnv,
  spoolPath,
  writePrivate,
  type PitrSettings,
} from './config.js';
import { archiveGet, pgbackrest, PGBACKREST_BIN, stanzaCreate, type PgbackrestRunner } from './pgbackrest.js';

const STANZA_RETRY_MS = 30_000;
const CHECK_INTERVAL_MS = 60 * 60_000;

export class MemberArchive {
  private text = '';
  private stanzaReady = false;
  private lastStanzaAttempt = 0;
  private lastCheck = 0;
  private lastCheckOk = true;
  private server: ChildProcess | undefined;
  private serverStopping = false;
  private serverFailures = 0;
  private busy = false;

  constructor(
    private config: PitrSettings,
    private readonly raw: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return archives(this.config);
  }

  private get runner(): PgbackrestRunner {
    return {
      configFile: memberConfPath(this.config),
      stanza: this.config.pitr.stanza,
      env: this.extraEnv(),
    };
  }

  /** repo2's keys, for PostgreSQL's archive_command and restore_command (inherited through Patroni). */
  extraEnv(): Record<string, string> {
    return this.enabled ? pgbackrestEnv(this.config, this.raw) : {};
  }

  /** Writes pgbackrest.conf (0600, private directory); true when it changed. */
  writeConfig(config: PitrSettings): boolean {
    this.config = config;
    if (!this.enabled && !config.pitr.tlsDir) return false;
    const dir = join(config.instance.socketDir, 'pgops');
    const lock = join(dir, 'pgbackrest-lock');
    mkdirSync(lock, { recursive: true, mode: 0o700 });
    mkdirSync(spoolPath(config), { recursive: true, mode: 0o700 });
    const text = pgbackrestConf(confInputs(config, this.raw, 'member', lock));
    const changed = writePrivate(memberConfPath(config), text, this.text);
    if (changed) this.stanzaReady = false;
    this.text = text;
    return changed;
  }

  /** The leader's part: the stanza exists (created if not), and `check` passes now and then. */
  async leaderDuty(): Promise<void> {
    if (!this.enabled || this.busy) return;
    // Over TLS the repository pod creates the stanza (2.45 runs it where the repository is).
    if (!this.config.pitr.repo1Path && this.config.pitr.repo1Host && !this.config.pitr.repo2) return;
    this.busy = true;
    try {
      const now = Date.now();
      if (!this.stanzaReady && now - this.lastStanzaAttempt > STANZA_RETRY_MS) {
        this.lastStanzaAttempt = now;
        try {
          await stanzaCreate(this.runner);
          this.stanzaReady = true;
          this.log.info(`pgBackRest stanza ${this.config.pitr.stanza} is ready: WAL is archived`);
          this.lastCheck = 0;
        } catch (err) {
          this.log.error(
            `could not create the pgBackRest stanza (WAL is not archived until it exists): ${(err as Error).message}`,
          );
          return;
        }
      }
      if (this.stanzaReady && now - this.lastCheck > CHECK_INTERVAL_MS) {
        this.lastCheck = now;
        try {
          await pgbackrest(this.runner, 'check', ['--archive-timeout=60'], {
            timeoutMs: 120_000,
            what: 'pgbackrest check',
          });
          if (!this.lastCheckOk) this.log.info('pgbackrest check passes again: WAL reaches every repository');
          this.lastCheckOk = true;
        } catch (err) {
          this.lastCheckOk = false;
          this.log.error(
            `${(err as Error).message} (WAL may not reach every repository; postgres-ops status shows the archive)`,
          );
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** Whether the archive can give a replica this segment (then it catches up without a re-clone). */
  async holds(segment: string): Promise<boolean> {
    if (!this.enabled) return false;
    const dir = mkdtempSync(join(this.config.instance.socketDir, 'pgops', 'seg-'));
    try {
      return await archiveGet(this.runner, segment, join(dir, segment));
    } catch {
      return false;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** pgBackRest's TLS server (Kubernetes), restarted with a back-off if it exits. */
  startServer(): void {
    if (!this.config.pitr.tlsDir || this.server || this.serverStopping) return;
    const child = spawn(PGBACKREST_BIN, [`--config=${memberConfPath(this.config)}`, 'server'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.extraEnv() },
    });
    this.server = child;
    const started = Date.now();
    for (const s of [child.stdout, child.stderr])
      createInterface({ input: s }).on('line', (l) =>
        this.log.relay(l, /ERROR/.test(l) ? 'error' : 'info', 'pgbackrest'),
      );
    child.on('error', (err) => this.log.error(`could not run pgbackrest server: ${err.message}`));
    child.on('close', (code, signal) => {
      this.server = undefined;
      if (this.serverStopping) return;
      this.serverFailures = Date.now() - started > 60_000 ? 0 : this.serverFailures + 1;
      const wait = Math.min(30_000, 1000 * 2 ** Math.min(this.serverFailures, 5));
      this.log.error(
        `pgbackrest server exited (${signal ?? `code ${code}`}); starting it again in ${wait / 1000} s`,
      );
      setTimeout(() => this.startServer(), wait).unref();
    });
    this.log.info(`pgBackRest TLS server started on port ${this.config.pitr.tlsPort}`);
  }

  stopServer(): void {
    this.serverStopping = true;
    this.server?.kill('SIGTERM');
  }

  /**
   * pgBackRest's asynchronous archive-push and archive-get workers outlive PostgreSQL; one left from
   * before a restart holds the archive lock with the old configuration (a repository since taken
   * out, say), and the new workers wait behind it. Stopped with the member.
   */
  stopAsyncWorkers(): number[] {
    return stopAsyncWorkers(memberConfPath(this.config));
  }
}

/** Stops the asynchronous archive workers started with this configuration file; returns their pids. */
export function stopAsyncWorkers(configFile: string): number[] {
  const stopped: number[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    return stopped;
  }
  for (const d of names) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.includes(`--config=${configFile}`) && args.some((a) => /^archive-(push|get):async$/.test(a))) {
        process.kill(Number(d), 'SIGTERM');
        stopped.push(Number(d));
      }
    } catch {
      /* gone, or not ours */
    }
  }
  return stopped;
}
