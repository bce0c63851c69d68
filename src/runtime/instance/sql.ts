/** Connections the agent makes: to its own server over the Unix socket, and to other members over TCP. */
import pg from 'pg';
import { MEMBER_FACTS_SQL, parseMemberFacts } from '../../core/pg/member-facts.js';

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

export interface LocalStatus {
  inRecovery: boolean;
  walReceiver: string | null;
  upstream: string | null;
  lsn: string;
  timeline: number;
  lagBytes: number | null;
}

/** This member's facts (src/core/pg/member-facts.ts) as the health loop reads them. */
export async function localStatus(c: pg.Client): Promise<LocalStatus> {
  const f = parseMemberFacts((await c.query(MEMBER_FACTS_SQL)).rows[0]);
  return {
    inRecovery: f.inRecovery,
    walReceiver: f.receiverStatus,
    upstream: f.upstream,
    lsn: f.lsn ?? '',
    timeline: f.timeline ?? 0,
    lagBytes: f.replayLagBytes,
  };
}
