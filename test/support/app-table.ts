/**
 * The small fixture most backup and restore tests start from: a test server whose database `app`
 * holds table t (x int) with the rows 1..N, and an empty directory for the backups.
 */
import { type PgServer, startPostgres } from './postgres.js';
import { tempDir } from './tmp.js';

export async function startAppServer(rows: number): Promise<{ pg: PgServer; dir: string }> {
  const pg = await startPostgres();
  await pg.query('CREATE DATABASE app');
  await pg.query(`CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, ${rows})`, [], 'app');
  return { pg, dir: tempDir() };
}

/** How many rows table t holds in database `db`. */
export async function rowsOfT(pg: PgServer, db = 'app'): Promise<number> {
  return Number((await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], db))[0]!.n);
}
