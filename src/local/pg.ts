/** Asking a local instance something as the superuser (password handed to the driver, never printed). */
import pg from 'pg';
import { toClientConfig } from '../core/pg/conninfo.js';
import { asJsonRows } from '../core/cluster/sql.js';
import type { Row } from '../core/cluster/cluster-api.js';
import { readSecret, SUPERUSER } from './state.js';

export async function localQuery(
  root: string,
  port: number,
  sql: string,
  database = 'postgres',
): Promise<Row[]> {
  const client = new pg.Client(
    toClientConfig(
      { host: '127.0.0.1', port, user: SUPERUSER, database, params: { connect_timeout: 5 } },
      readSecret(root, 'superuser-password'),
    ),
  );
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query<{ rows: Row[] }>(asJsonRows(sql));
    return r.rows[0]?.rows ?? [];
  } finally {
    await client.end().catch(() => undefined);
  }
}
