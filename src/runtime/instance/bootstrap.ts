/**
 * What a new cluster needs beyond initdb, run once by Patroni right after it (post_bootstrap) on
 * the member that bootstraps: the application role and database and our `pgops` schema. Patroni
 * creates the superuser password and the replication role itself. If this fails, Patroni removes
 * the new data directory and bootstraps again: nothing half-made survives.
 */
import type pg from 'pg';
import { BACKUP_HISTORY_DDL } from '../../core/backup/history-sql.js';
import { PITR_HISTORY_DDL } from '../../core/pitr/history-sql.js';
import { scramVerifier } from '../../core/instance/scram.js';
import { quoteIdent, quoteLiteral } from '../../core/pg/conninfo.js';

export interface BootstrapRoles {
  appUser: string;
  appPassword: string;
  appDatabase: string;
}

export async function createApplicationObjects(c: pg.Client, b: BootstrapRoles): Promise<void> {
  const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [b.appUser]);
  const verifier = quoteLiteral(scramVerifier(b.appPassword));
  if (exists.rowCount) await c.query(`ALTER ROLE ${quoteIdent(b.appUser)} WITH LOGIN PASSWORD ${verifier}`);
  else await c.query(`CREATE ROLE ${quoteIdent(b.appUser)} WITH LOGIN PASSWORD ${verifier}`);
  const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [b.appDatabase]);
  if (!db.rowCount)
    await c.query(`CREATE DATABASE ${quoteIdent(b.appDatabase)} OWNER ${quoteIdent(b.appUser)}`);
  await c.query(BACKUP_HISTORY_DDL);
  await c.query(PITR_HISTORY_DDL);
}
