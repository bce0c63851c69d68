/**
 * One member's replication facts in one statement: role, timeline, position, what it receives and
 * how far its replay is behind. The agent's health loop, `status`, and promotion all read these.
 */
import { z } from 'zod';

/**
 * The timeline of a standby is the one it streams (the checkpoint's until it streams); a primary's
 * is its current WAL file's (the checkpoint's lags a promotion until the next checkpoint).
 * Column names are an interface: `status` reads the rows as they come (src/core/cluster/status-model.ts).
 */
export const MEMBER_FACTS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery()
    THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1),
                  (SELECT timeline_id FROM pg_control_checkpoint()))
    ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS timeline,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text
    ELSE pg_current_wal_lsn()::text END AS lsn,
  coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS received_lsn,
  CASE WHEN pg_is_in_recovery()
    THEN pg_wal_lsn_diff(GREATEST((SELECT latest_end_lsn FROM pg_stat_wal_receiver LIMIT 1),
                                  pg_last_wal_receive_lsn()),
                         pg_last_wal_replay_lsn())::bigint END AS replay_lag_bytes,
  CASE WHEN pg_is_in_recovery()
    THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_age_seconds,
  (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status,
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver LIMIT 1) AS upstream`;

/** node-postgres hands bigint and numeric over as text, JSON rows as numbers. */
const num = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^-?[0-9.e+]+$/)
      .transform(Number),
  ])
  .nullable();

const rowSchema = z.object({
  in_recovery: z.boolean(),
  timeline: num,
  lsn: z.string().nullable(),
  received_lsn: z.string().nullable(),
  replay_lag_bytes: num,
  replay_age_seconds: num,
  receiver_status: z.string().nullable(),
  upstream: z.string().nullable(),
});

export interface MemberFacts {
  inRecovery: boolean;
  timeline: number | null;
  /** Replayed (standby) or written (primary). */
  lsn: string | null;
  /** Received from the upstream, else replayed; null on a primary. */
  receivedLsn: string | null;
  /** Received but not replayed yet (a standby); never negative. */
  replayLagBytes: number | null;
  /** Since the last replayed commit (a standby). */
  replayAgeSeconds: number | null;
  /** pg_stat_wal_receiver's status ("streaming", ...); null when no receiver runs. */
  receiverStatus: string | null;
  /** host:port of the member streamed from. */
  upstream: string | null;
}

/** A MEMBER_FACTS_SQL row as facts; throws on a row of another shape. */
export function parseMemberFacts(row: unknown): MemberFacts {
  const r = rowSchema.parse(row);
  return {
    inRecovery: r.in_recovery,
    timeline: r.timeline,
    lsn: r.lsn,
    receivedLsn: r.received_lsn,
    replayLagBytes: r.replay_lag_bytes === null ? null : Math.max(0, r.replay_lag_bytes),
    replayAgeSeconds: r.replay_age_seconds,
    receiverStatus: r.receiver_status,
    upstream: r.upstream,
  };
}
