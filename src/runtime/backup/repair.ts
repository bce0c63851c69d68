/**
 * Undoing what an interrupted restore left (see src/core/backup/interrupted-restore.ts): the target
 * open again, the unfinished `__restoring` copy dropped. Run under the cluster's operation lock, so
 * that a restore still running is never mistaken for an interrupted one.
 */
import type pg from 'pg';
import type { RepairOutcome } from '../../core/backup/results.js';
import {
  DATABASES_SQL,
  type DatabaseRow,
  findRestoreLeftovers,
} from '../../core/backup/interrupted-restore.js';
import type { Logger } from '../log.js';
import { connect, type PgConnection } from './conn.js';

export type { RepairOutcome };

/** Repairs every leftover of an interrupted restore on `admin` (a superuser session). */
export async function repairRestoreLeftovers(admin: pg.Client, log: Logger): Promise<RepairOutcome> {
  const { rows } = await admin.query<DatabaseRow>(DATABASES_SQL);
  const outcome: RepairOutcome = { repaired: [], remaining: [] };
  for (const l of findRestoreLeftovers(rows)) {
    const item = { kind: l.kind, database: l.database, message: l.message, statements: l.repair };
    if (!l.automatic) {
      outcome.remaining.push(item);
      continue;
    }
    log.warn(`${l.message}: repairing`, { database: l.database, copy: l.copy });
    for (const sql of l.repair) await admin.query(sql);
    outcome.repaired.push(item);
  }
  return outcome;
}

/** A superuser session on the `postgres` database, or `template1` when that one refuses connections. */
export async function connectAdmin(conn: PgConnection, appName: string): Promise<pg.Client> {
  try {
    return await connect(conn, 'postgres', appName);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // 55000: database "postgres" is not currently accepting connections (it is the one fenced).
    if (code === '55000' || code === '3D000') return connect(conn, 'template1', appName);
    throw err;
  }
}
