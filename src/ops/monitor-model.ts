/** One monitor sample: figures computed from two readings of PostgreSQL's counters. Pure. */
import { slotNameFor } from '../core/instance/settings.js';
import type { Row } from '../core/cluster/cluster-api.js';

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
  /** One line per streaming replica, named as status names it (the member, not its slot). */
  replication: {
    name: string;
    /** What the replica calls itself to the primary (application_name; often its slot's name). */
    applicationName: string;
    state: string;
    client: string | null;
    lagBytes: number | null;
    lagSeconds: number | null;
  }[];
  /** Slots no replica streams from: each keeps WAL on the primary until it is used or dropped. */
  inactiveSlots: {
    name: string;
    /** The member the slot belongs to, when it is one (null for a slot of something else). */
    member: string | null;
    type: string;
    walStatus: string | null;
    retainedBytes: number | null;
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

/** A text column of a probe row ('' for NULL). */
const text = (v: unknown): string => (typeof v === 'string' ? v : v == null ? '' : JSON.stringify(v));

/**
 * The member a replication connection or slot belongs to: replicas connect with their slot's name
 * (`postgres_1`, PostgreSQL's rules for slot names) or their own (`postgres-1`); status and every
 * command use the member's name.
 */
export function memberFor(applicationName: string, members: string[]): string | null {
  return members.find((m) => m === applicationName || slotNameFor(m) === applicationName) ?? null;
}

export function sampleFrom(
  instance: string,
  prev: CounterReading | null,
  cur: CounterReading,
  replication: Row[],
  queries: Row[],
  slots: Row[] = [],
  members: string[] = [],
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
      name: memberFor(text(r.name), members) ?? text(r.name),
      applicationName: text(r.name),
      state: text(r.state),
      client: (r.client as string | null) ?? null,
      lagBytes: (r.lag_bytes as number | null) ?? null,
      lagSeconds: (r.lag_seconds as number | null) ?? null,
    })),
    inactiveSlots: slots.map((x) => ({
      name: text(x.name),
      member: memberFor(text(x.name), members),
      type: text(x.type),
      walStatus: (x.wal_status as string | null) ?? null,
      retainedBytes: (x.retained_bytes as number | null) ?? null,
    })),
    longestQueries: queries.map((q) => ({
      pid: Number(q.pid),
      user: text(q.user),
      database: text(q.database),
      state: text(q.state),
      seconds: round(Number(q.seconds ?? 0)),
      waitingOn: (q.waiting_on as string | null) ?? null,
      query: text(q.query),
    })),
  };
}
