/** Connections the agent makes: to its own server over the Unix socket, and to other members over TCP. */
import pg from 'pg';
import { timelineOfWalFile } from '../../core/pg/wal.js';

export interface Login {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  /** Encrypt (without checking the certificate): members enforce hostssl when TLS is on. */
  tls?: boolean;
}

export async function withClient<T>(
  login: Login,
  fn: (c: pg.Client) => Promise<T>,
  timeoutMs = 5000,
): Promise<T> {
  const c = new pg.Client({
    host: login.host,
    port: login.port,
    user: login.user,
    password: login.password,
    database: login.database ?? 'postgres',
    application_name: 'postgres-agent',
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    // A Unix socket never carries TLS (PostgreSQL refuses it there).
    ...(login.tls && !login.host.startsWith('/') ? { ssl: { rejectUnauthorized: false } } : {}),
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export const LOCAL_STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       (SELECT status FROM pg_stat_wal_receiver) AS wal_receiver,
       (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS upstream,
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text ELSE pg_current_wal_lsn()::text END AS lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS walfile,
       COALESCE((SELECT received_tli FROM pg_stat_wal_receiver),
                (SELECT timeline_id FROM pg_control_checkpoint())) AS standby_tli,
       CASE WHEN pg_is_in_recovery() THEN
         pg_wal_lsn_diff(GREATEST((SELECT latest_end_lsn FROM pg_stat_wal_receiver), pg_last_wal_receive_lsn()),
                         pg_last_wal_replay_lsn())::bigint
       END AS lag_bytes`;

export interface LocalStatus {
  inRecovery: boolean;
  walReceiver: string | null;
  upstream: string | null;
  lsn: string;
  timeline: number;
  lagBytes: number | null;
}

export async function localStatus(c: pg.Client): Promise<LocalStatus> {
  const r = await c.query(LOCAL_STATUS_SQL);
  const row = r.rows[0] as {
    in_recovery: boolean;
    wal_receiver: string | null;
    upstream: string | null;
    lsn: string;
    walfile: string | null;
    standby_tli: number;
    lag_bytes: string | null;
  };
  return {
    inRecovery: row.in_recovery,
    walReceiver: row.wal_receiver,
    upstream: row.upstream,
    lsn: row.lsn,
    timeline: row.walfile ? timelineOfWalFile(row.walfile) : Number(row.standby_tli),
    lagBytes: row.lag_bytes === null ? null : Math.max(0, Number(row.lag_bytes)),
  };
}
