/** One monitor sample: figures computed from two readings of PostgreSQL's counters. Pure. */
import type { Row } from './cluster-api.js';

export interface CounterReading {
  connections: number;
  max_connections: number;
  xact_commit: number;
  xact_rollback: number;
  blks_hit: number;
  blks_read: number;
  deadlocks: number;
  locks: number;
  locks_waiting: number;
  database_bytes: number;
  at: number;
}

export interface MonitorSample {
  at: string;
  instance: string;
  connections: number;
  maxConnections: number;
  connectionPercent: number;
  tps: number | null;
  rollbacksPerSecond: number | null;
  cacheHitPercent: number | null;
  locks: number;
  locksWaiting: number;
  deadlocks: number;
  databaseBytes: number;
  replication: {
    name: string;
    state: string;
    client: string | null;
    lagBytes: number | null;
    lagSeconds: number | null;
  }[];
  longestQueries: {
    pid: number;
    user: string;
    database: string;
    state: string;
    seconds: number;
    waitingOn: string | null;
    query: string;
  }[];
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export function sampleFrom(
  instance: string,
  prev: CounterReading | null,
  cur: CounterReading,
  replication: Row[],
  queries: Row[],
): MonitorSample {
  const dt = prev ? cur.at - prev.at : 0;
  const rate = (a: number, b: number) => (prev && dt > 0 ? round(Math.max(0, a - b) / dt) : null);
  const hits = cur.blks_hit + cur.blks_read;
  return {
    at: new Date(cur.at * 1000).toISOString(),
    instance,
    connections: cur.connections,
    maxConnections: cur.max_connections,
    connectionPercent: round((cur.connections / Math.max(1, cur.max_connections)) * 100),
    tps: rate(cur.xact_commit, prev?.xact_commit ?? 0),
    rollbacksPerSecond: rate(cur.xact_rollback, prev?.xact_rollback ?? 0),
    cacheHitPercent: hits > 0 ? round((cur.blks_hit / hits) * 100, 2) : null,
    locks: cur.locks,
    locksWaiting: cur.locks_waiting,
    deadlocks: cur.deadlocks,
    databaseBytes: cur.database_bytes,
    replication: replication.map((r) => ({
      name: String(r.name ?? ''),
      state: String(r.state ?? ''),
      client: (r.client as string | null) ?? null,
      lagBytes: (r.lag_bytes as number | null) ?? null,
      lagSeconds: (r.lag_seconds as number | null) ?? null,
    })),
    longestQueries: queries.map((q) => ({
      pid: Number(q.pid),
      user: String(q.user ?? ''),
      database: String(q.database ?? ''),
      state: String(q.state ?? ''),
      seconds: round(Number(q.seconds ?? 0)),
      waitingOn: (q.waiting_on as string | null) ?? null,
      query: String(q.query ?? ''),
    })),
  };
}
