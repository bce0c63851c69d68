/**
 * Real PostgreSQL servers for tests, from the machine's server binaries (Debian's
 * /usr/lib/postgresql/<major>/bin). Each server gets a free loopback port, a data directory owned by
 * the postgres OS user, scram-sha-256 authentication, and is stopped at cleanup even if the test fails.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { passfileLine, toUri } from '../../src/core/pg/conninfo.js';
import { exec, execOk } from '../../src/runtime/exec.js';
import { INITDB_OPTIONS } from '../../src/core/ha/patroni-config.js';
import { readPidFile } from '../../src/local/processes.js';
import { findPgBinDir } from '../../src/runtime/pgbin.js';
import { onCleanup } from './cleanup.js';
import { eventually } from './eventually.js';
import { chownToPostgres, postgresUser } from './os-user.js';
import { freePort } from './ports.js';
import { postgresOwnedDir, tempDir } from './tmp.js';

/** INITDB_OPTIONS as initdb's own flags (test servers are created without Patroni). */
export function initdbFlags(): string[] {
  return INITDB_OPTIONS.map((o) =>
    typeof o === 'string' ? `--${o}` : Object.entries(o).map(([k, v]) => `--${k}=${v}`)[0]!,
  );
}

export const TEST_PASSWORD = 'test-superuser-password';

/** A client connected as the superuser to the test server (or instance) on 127.0.0.1:`port`. */
export async function connectAsSuperuser(port: number, database = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: TEST_PASSWORD, database });
  await c.connect();
  return c;
}

/** One statement on its own superuser connection; returns its rows. */
export async function queryAsSuperuser<T = Record<string, unknown>>(
  port: number,
  sql: string,
  params?: unknown[],
  database?: string,
): Promise<T[]> {
  const c = await connectAsSuperuser(port, database);
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export interface PgServer {
  readonly name: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly superuser: string;
  readonly password: string;
  /** libpq passfile (0600, owned by the postgres OS user) holding the superuser password. */
  readonly passfile: string;
  readonly binDir: string;
  /** libpq URI naming the passfile; never contains the password. */
  uri(database?: string): string;
  /** Environment for running libpq tools (psql, pg_dump, ...) against this server. */
  pgEnv(database?: string): NodeJS.ProcessEnv;
  connect(database?: string): Promise<pg.Client>;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<T[]>;
  start(): Promise<void>;
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>;
  /** SIGKILL the postmaster, as a crash or an OOM kill would. */
  kill9(): Promise<void>;
  postmasterPid(): number | undefined;
}

export interface StartOptions {
  name?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
  /** Reuse a directory made by tempDir(); a new one otherwise. */
  baseDir?: string;
}

function asPostgres() {
  const u = postgresUser();
  return u.uid === undefined ? {} : { uid: u.uid, gid: u.gid };
}

/** The postmaster's pid from a data directory's postmaster.pid, if there is one. */
export function readPostmasterPid(dataDir: string): number | undefined {
  return readPidFile(join(dataDir, 'postmaster.pid'));
}

/** Whether a process exists (a zombie still counts: its parent has not reaped it yet). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function makeServer(
  name: string,
  baseDir: string,
  dataDir: string,
  port: number,
  passfile: string,
): PgServer {
  const binDir = findPgBinDir();
  const socketDir = postgresOwnedDir(baseDir, `${name}-run`, 0o755);
  const logFile = join(socketDir, `${name}.log`);
  const bin = (p: string) => join(binDir, p);
  const server: PgServer = {
    name,
    host: '127.0.0.1',
    port,
    dataDir,
    socketDir,
    logFile,
    superuser: 'postgres',
    password: TEST_PASSWORD,
    passfile,
    binDir,
    uri: (database = 'postgres') => toUri({ host: '127.0.0.1', port, user: 'postgres', database, passfile }),
    pgEnv: (database = 'postgres') => ({
      ...process.env,
      PGHOST: '127.0.0.1',
      PGPORT: String(port),
      PGUSER: 'postgres',
      PGDATABASE: database,
      PGPASSFILE: passfile,
    }),
    connect: (database) => connectAsSuperuser(port, database),
    query: (sql, params, database) => queryAsSuperuser(port, sql, params, database),
    async start() {
      // After a kill -9 the old backends hold the data directory for a moment: retry until free.
      for (let attempt = 0; ; attempt++) {
        const r = await exec(
          bin('pg_ctl'),
          ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port} -k ${socketDir}`, 'start'],
          {
            ...asPostgres(),
          },
        );
        if (r.code === 0) return;
        const busy = /lock file|already running|Address already in use/i.test(r.stderr + tail(logFile, 5));
        if (!busy || attempt >= 40)
          throw new Error(`pg_ctl start failed for ${name}: ${r.stderr}\n${tail(logFile)}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
    async stop(mode = 'fast') {
      if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
      await exec(bin('pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop'], asPostgres());
    },
    async kill9() {
      const pid = readPostmasterPid(dataDir);
      if (pid && processExists(pid)) process.kill(pid, 'SIGKILL');
      // Wait for the postmaster itself to be gone; children may linger a moment longer.
      if (pid)
        await eventually(`postmaster ${pid} of ${name} is gone`, () => !processExists(pid), {
          timeoutMs: 5000,
          intervalMs: 50,
        });
    },
    postmasterPid: () => readPostmasterPid(dataDir),
  };
  onCleanup(
    `stop postgres ${name}`,
    () => server.stop('immediate'),
    () => {
      const pid = readPostmasterPid(dataDir);
      if (pid && processExists(pid)) process.kill(pid, 'SIGQUIT');
    },
  );
  return server;
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function writePassfile(baseDir: string, name: string): string {
  const passfile = join(baseDir, `${name}.pgpass`);
  writeFileSync(passfile, passfileLine('*', '*', '*', 'postgres', TEST_PASSWORD) + '\n', { mode: 0o600 });
  chownToPostgres(passfile);
  return passfile;
}

function writeSettings(dataDir: string, settings: Record<string, string | number>) {
  const lines = Object.entries(settings).map(
    ([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${String(v).replace(/'/g, "''")}'`}`,
  );
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), lines.join('\n') + '\n', { flag: 'a' });
}

/** initdb (data checksums, scram-sha-256) and start a primary on a free port. */
export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  const name = opts.name ?? 'primary';
  const baseDir = opts.baseDir ?? tempDir();
  const port = await freePort();
  const passfile = writePassfile(baseDir, name);
  const pwfile = join(baseDir, `${name}.pw`);
  writeFileSync(pwfile, TEST_PASSWORD + '\n', { mode: 0o600 });
  chownToPostgres(pwfile);
  const dataDir = postgresOwnedDir(baseDir, `${name}-data`);
  const binDir = findPgBinDir();
  await execOk(
    join(binDir, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      // The product's own options, so that test servers are initialized like real ones.
      ...initdbFlags(),
    ],
    asPostgres(),
  );
  writeSettings(dataDir, { listen_addresses: '127.0.0.1', ...opts.settings });
  const server = makeServer(name, baseDir, dataDir, port, passfile);
  await server.start();
  return server;
}

/** A streaming hot standby of `primary`, cloned with pg_basebackup through a physical slot. */
export async function startReplica(
  primary: PgServer,
  opts: StartOptions & { slot?: string } = {},
): Promise<PgServer> {
  const name = opts.name ?? 'replica';
  const baseDir = opts.baseDir ?? tempDir();
  const port = await freePort();
  const passfile = writePassfile(baseDir, name);
  const dataDir = postgresOwnedDir(baseDir, `${name}-data`);
  const slot = opts.slot ?? name.replace(/[^a-z0-9_]/g, '_');
  await execOk(
    join(primary.binDir, 'pg_basebackup'),
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      dataDir,
      '-R',
      '-X',
      'stream',
      '-C',
      '-S',
      slot,
      '--checkpoint=fast',
    ],
    { ...asPostgres(), env: { ...process.env, PGPASSFILE: passfile } },
  );
  writeSettings(dataDir, { hot_standby: 'on', ...opts.settings });
  const server = makeServer(name, baseDir, dataDir, port, passfile);
  await server.start();
  return server;
}

/** Waits until `replica` has replayed everything `primary` has written so far. */
export async function waitForCatchUp(
  primary: PgServer,
  replica: PgServer,
  timeoutMs = 30_000,
): Promise<void> {
  const [{ lsn }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')) as [
    { lsn: string },
  ];
  await eventually(
    `replica ${replica.name} reaches ${lsn}`,
    async () => {
      const [row] = await replica.query<{ caught: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught',
        [lsn],
      );
      return row?.caught === true;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Names of postgres processes still running whose data directory lies under `dir` (for leak checks). */
export function postgresProcessesUnder(dir: string): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    return out.split('\n').filter((l) => /postgres|postmaster/.test(l) && l.includes(dir));
  } catch {
    return [];
  }
}
