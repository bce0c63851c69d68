/**
 * First start of a primary: initdb, roles, application database and the backup history table, all
 * in a directory next to PGDATA that is renamed into place only when everything succeeded. A crash
 * half way leaves only that temporary directory, which the next start removes and redoes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BACKUP_HISTORY_DDL } from '../../core/backup/history-sql.js';
import { OperationFailed, whileDoing } from '../../core/errors.js';
import { scramVerifier } from '../../core/instance/scram.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';
import type { Logger } from '../log.js';
import { execOk } from '../exec.js';
import { ensureParent, moveIntoPlace } from './datadir.js';
import { Postmaster } from './postmaster.js';
import { withClient } from './sql.js';

export interface BootstrapInput {
  binDir: string;
  pgdata: string;
  superuser: string;
  superuserPassword: string;
  replicationUser: string;
  replicationPassword: string;
  appUser: string;
  appPassword: string;
  appDatabase: string;
  /** Writes postgresql.conf and pg_hba.conf into a data directory. */
  writeConfig: (dir: string) => void;
  log: Logger;
}

export const BOOTSTRAP_SUFFIX = '.pgops-init';

/** How every new cluster is initialized (besides directory, superuser and password file). */
export const INITDB_OPTIONS: readonly string[] = [
  '--auth=scram-sha-256',
  '--data-checksums',
  '-E',
  'UTF8',
  '--locale=C.UTF-8',
  '--no-instructions',
];

export async function bootstrapPrimary(b: BootstrapInput): Promise<void> {
  const work = b.pgdata + BOOTSTRAP_SUFFIX;
  ensureParent(b.pgdata);
  rmSync(work, { recursive: true, force: true }); // an interrupted earlier attempt; never PGDATA itself
  const secrets = mkdtempSync(join(tmpdir(), 'pgops-init-'));
  const pwfile = join(secrets, 'pw');
  try {
    writeFileSync(pwfile, b.superuserPassword + '\n', { mode: 0o600 });
    b.log.info('initializing a new primary data directory', { pgdata: b.pgdata, work });
    await execOk(join(b.binDir, 'initdb'), [
      '-D',
      work,
      '-U',
      b.superuser,
      `--pwfile=${pwfile}`,
      ...INITDB_OPTIONS,
    ]).catch((e) => {
      throw whileDoing('initdb of a new primary', e);
    });
  } finally {
    rmSync(secrets, { recursive: true, force: true });
  }
  b.writeConfig(work);

  // A private server: no TCP, socket in a private directory, so nothing can connect half way.
  const sockDir = mkdtempSync(join(tmpdir(), 'pgops-boot-'));
  const port = 5432;
  const pm = new Postmaster(join(b.binDir, 'postgres'), [
    '-D',
    work,
    '-c',
    'listen_addresses=',
    '-c',
    `unix_socket_directories=${sockDir}`,
    '-p',
    String(port),
  ]);
  const login = { host: sockDir, port, user: b.superuser, password: b.superuserPassword };
  try {
    await waitAccepting(pm, login);
    await withClient(
      login,
      async (c) => {
        await c.query(
          `CREATE ROLE ${quoteIdent(b.replicationUser)} WITH REPLICATION LOGIN PASSWORD ${quoteLiteral(scramVerifier(b.replicationPassword))}`,
        );
        await c.query(
          `CREATE ROLE ${quoteIdent(b.appUser)} WITH LOGIN PASSWORD ${quoteLiteral(scramVerifier(b.appPassword))}`,
        );
        await c.query(`CREATE DATABASE ${quoteIdent(b.appDatabase)} OWNER ${quoteIdent(b.appUser)}`);
        await c.query(BACKUP_HISTORY_DDL);
        await c.query('CHECKPOINT');
      },
      60_000,
    );
    pm.signal('SIGINT');
    const exit = await pm.exited;
    if (exit.code !== 0)
      throw new OperationFailed(
        'E_BOOTSTRAP',
        `the bootstrap server stopped with ${exit.code ?? exit.signal}`,
      );
  } catch (err) {
    pm.signal('SIGQUIT');
    await pm.exited;
    throw whileDoing('creating roles and databases of a new primary', err);
  } finally {
    rmSync(sockDir, { recursive: true, force: true });
  }
  moveIntoPlace(work, b.pgdata);
  b.log.info('new primary initialized', {
    pgdata: b.pgdata,
    replicationUser: b.replicationUser,
    appUser: b.appUser,
    appDatabase: b.appDatabase,
  });
}

async function waitAccepting(
  pm: Postmaster,
  login: { host: string; port: number; user: string; password: string },
) {
  for (let i = 0; ; i++) {
    if (!pm.alive) {
      throw new OperationFailed(
        'E_BOOTSTRAP',
        `PostgreSQL stopped during bootstrap:\n${pm.logTail.trim().split('\n').slice(-5).join('\n')}`,
      );
    }
    try {
      await withClient(login, async (c) => c.query('SELECT 1'), 2000);
      return;
    } catch (err) {
      if (i > 600) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
