/**
 * A recovery drill: the newest physical backup plus the archived WAL, restored into scratch space
 * and recovered on a private socket-only PostgreSQL, then checked: amcheck on every btree index of
 * the application database, and row counts of its tables against the source at the very point the
 * copy recovered to. That point is the source's WAL insert position read in the same snapshot as
 * its row counts, so the two are comparable; a table written to in the instant between the two
 * readings may differ (docs/backups.md, "Recovery drills"). The result is recorded on the primary.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { INSERT_DRILL } from '../../core/pitr/history-sql.js';
import { quoteIdent } from '../../core/pg/conninfo.js';
import type { DrillChecks, DrillResult } from '../../core/pitr/results.js';
import { connect, connectionFromConfig } from '../backup/conn.js';
import type { Logger } from '../log.js';
import { findPgBinDir } from '../pgbin.js';
import { recordingClient } from './backup.js';
import { configuredRepos, jobConf, type PitrJobContext } from './config.js';
import { bringArchiveUpToDate, liveTimelineOf, planPointInTime, scratchDir } from './plan.js';
import { restoreAndRecover, type Recovered } from './recover.js';

/** Tables and indexes larger than this get the cheaper check (no heapallindexed, no count compare skipped). */
const HEAPALLINDEXED_MAX_BYTES = 1024 * 1024 * 1024;

interface SourceSnapshot {
  lsn: string;
  counts: Map<string, number>;
}

/** Row counts of the application tables and the WAL position of the same snapshot. */
async function sourceSnapshot(c: pg.Client): Promise<SourceSnapshot> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const lsn = (await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!
      .lsn;
    const counts = new Map<string, number>();
    for (const t of await applicationTables(c))
      counts.set(t, Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n));
    return { lsn, counts };
  } finally {
    await c.query('COMMIT').catch(() => undefined);
  }
}

async function applicationTables(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ s: string; t: string }>(
    `SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1, 2`,
  );
  return r.rows.map((x) => `${quoteIdent(x.s)}.${quoteIdent(x.t)}`);
}

/** amcheck on every valid btree index of the database; heapallindexed where the table is small enough. */
export async function checkIndexes(c: pg.Client): Promise<DrillChecks['indexes']> {
  await c.query('CREATE EXTENSION IF NOT EXISTS amcheck');
  const r = await c.query<{ idx: string; name: string; heap_bytes: string }>(
    `SELECT i.indexrelid::regclass::oid AS idx, i.indexrelid::regclass::text AS name, pg_relation_size(i.indrelid) AS heap_bytes
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
       JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND ic.relpersistence = 'p'
        AND n.nspname NOT LIKE 'pg_temp%'`,
  );
  const out: DrillChecks['indexes'] = { checked: 0, heapallindexed: 0, failed: [] };
  for (const row of r.rows) {
    const full = Number(row.heap_bytes) <= HEAPALLINDEXED_MAX_BYTES;
    try {
      await c.query('SELECT bt_index_check($1::oid::regclass, $2)', [row.idx, full]);
      out.checked++;
      if (full) out.heapallindexed++;
    } catch (err) {
      out.failed.push({ index: row.name, error: (err as Error).message });
    }
  }
  return out;
}

export async function runDrill(
  config: PitrJobContext['config'],
  raw: NodeJS.ProcessEnv,
  log: Logger,
  onScratch?: (dir: string) => void,
): Promise<DrillResult> {
  const startedAt = new Date();
  const result: DrillResult = {
    status: 'failure',
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    backupLabel: null,
    recoveredTo: null,
    recoveredLsn: null,
    recoverySeconds: null,
    checks: null,
    error: null,
    recorded: false,
  };
  const conf = jobConf(config, raw);
  const runner = { configFile: conf.file, stanza: config.pitr.stanza, env: conf.env };
  const base = config.pitr.drillDir || raw.TMPDIR || '/tmp';
  const scratch = scratchDir(base, 'pgops-drill-');
  onScratch?.(scratch);
  const conn = connectionFromConfig(config);
  let app: pg.Client | undefined;
  let recovered: Recovered | undefined;
  try {
    app = await connect(conn, config.roles.appDatabase, 'postgres-agent drill').catch(() => undefined);
    const snap = app ? await sourceSnapshot(app) : undefined;
    const target = snap
      ? ({ kind: 'lsn', lsn: snap.lsn.toUpperCase() } as const)
      : ({ kind: 'latest' } as const);
    await bringArchiveUpToDate(app, target, log);
    const binDir = findPgBinDir(config.instance.binDir);
    const plan = await planPointInTime(
      runner,
      target,
      binDir,
      configuredRepos(config),
      await liveTimelineOf(app),
    );
    result.backupLabel = plan.backup.label;
    recovered = await restoreAndRecover({
      runner,
      binDir,
      dir: join(scratch, 'data'),
      workDir: join(scratch, 'work'),
      set: plan.backup.label,
      target,
      targetTimeline: plan.targetTimeline,
      scratch: true,
      log,
    });
    result.recoveredTo = recovered.recoveredTo;
    result.recoveredLsn = recovered.recoveredLsn;
    result.recoverySeconds = recovered.seconds;
    const copy = await recovered.client(config.roles.appDatabase);
    try {
      const indexes = await checkIndexes(copy);
      const mismatched: DrillChecks['tables']['mismatched'] = [];
      for (const [table, n] of snap?.counts ?? []) {
        const m = Number((await copy.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
        if (m !== n) mismatched.push({ table, source: n, copy: m });
      }
      result.checks = {
        indexes,
        tables: {
          compared: snap?.counts.size ?? 0,
          mismatched,
          note: snap ? null : 'the source did not answer: row counts were not compared',
        },
      };
      const problems = [
        ...indexes.failed.map((f) => `index ${f.index}: ${f.error}`),
        ...mismatched.map((m) => `table ${m.table}: ${m.copy} rows in the copy, ${m.source} in the source`),
      ];
      if (problems.length) result.error = problems.join('; ');
      else result.status = 'success';
    } finally {
      await copy.end().catch(() => undefined);
    }
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await recovered?.stop().catch(() => undefined);
    stopLeftover(join(scratch, 'data'));
    rmSync(scratch, { recursive: true, force: true });
    conf.dispose();
    await app?.end().catch(() => undefined);
  }
  result.finishedAt = new Date().toISOString();
  try {
    const c = await recordingClient(conn, 'postgres-agent drill');
    try {
      await c.query(INSERT_DRILL, [
        result.status,
        result.startedAt,
        result.finishedAt,
        result.backupLabel,
        result.recoveredTo,
        result.recoverySeconds,
        result.checks ? JSON.stringify(result.checks) : null,
        result.error,
      ]);
      result.recorded = true;
    } finally {
      await c.end().catch(() => undefined);
    }
  } catch (err) {
    log.warn(`the drill's result could not be recorded on the primary: ${(err as Error).message}`);
  }
  return result;
}

/** A scratch postmaster still running (the drill was interrupted): stop it at once. */
export function stopLeftover(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGQUIT');
  } catch {
    /* not running */
  }
}
