/**
 * A physical backup with pgBackRest into every repository on this machine's reach (repo1, and repo2
 * when configured), then retention (expire) and the recoverability window. Every outcome is
 * recorded on the primary (pgops.physical_backup_history, pgops.recoverability): a failure of one
 * repository of two is recorded, reported, and does not stop the other.
 */
import type pg from 'pg';
import { OperationFailed, type OpsError } from '../../core/errors.js';
import {
  INSERT_PHYSICAL_BACKUP,
  PITR_HISTORY_DDL,
  UPSERT_RECOVERABILITY,
} from '../../core/pitr/history-sql.js';
import { earliestRecoverable, type PhysicalType, type StanzaInfo } from '../../core/pitr/info.js';
import type { PhysicalBackupResult, RepoOutcome } from '../../core/pitr/results.js';
import { BACKUP_HISTORY_DATABASE } from '../../core/backup/history-sql.js';
import { BACKUP_LOCK_KEY } from '../backup/backup.js';
import { connect, type PgConnection } from '../backup/conn.js';
import type { Logger } from '../log.js';
import {
  pgbackrest,
  pgbackrestInfo,
  pgbackrestInfoEach,
  REPO_ANSWER_MS,
  stanzaCreate,
  type PgbackrestRunner,
} from './pgbackrest.js';

export interface PhysicalBackupRequest {
  type: PhysicalType;
  /** Recorded as the backup's annotation `name`. */
  name?: string;
  /** Repository numbers to back up into (1, 2). */
  repos: number[];
}

export type { RepoOutcome, PhysicalBackupResult };

/**
 * One operation at a time on a cluster: the advisory lock logical backups hold, taken on the
 * primary for the whole physical backup. The single place a cluster-wide operation lock wraps.
 */
export async function withOperationLock<T>(c: pg.Client, what: string, fn: () => Promise<T>): Promise<T> {
  const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [BACKUP_LOCK_KEY]);
  if (!rows[0]?.ok)
    throw new OperationFailed(
      'E_BACKUP_RUNNING',
      `another backup of this cluster is running; ${what} did not start`,
      {},
      {
        hint: 'Wait for it to finish, then run the command again (postgres-ops list-backups shows what completed).',
      },
    );
  try {
    return await fn();
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [BACKUP_LOCK_KEY]).catch(() => undefined);
  }
}

export async function recordingClient(conn: PgConnection, appName: string): Promise<pg.Client> {
  const c = await connect(conn, BACKUP_HISTORY_DATABASE, appName).catch((err: Error) => {
    throw new OperationFailed(
      'E_CONNECT',
      `cannot connect to the primary at ${conn.host}:${conn.port}: ${err.message}`,
      { host: conn.host, port: conn.port },
      { hint: 'Check that the cluster runs (postgres-ops status).' },
    );
  });
  const t = await c.query<{ t: string | null }>("SELECT to_regclass('pgops.drill_history')::text AS t");
  if (!t.rows[0]?.t) await c.query(PITR_HISTORY_DDL);
  return c;
}

/** pgops.recoverability from what the repositories hold now. */
export async function recordRecoverability(
  c: pg.Client,
  info: StanzaInfo,
): Promise<Record<string, string | null>> {
  const earliest = earliestRecoverable(info);
  for (const [repo, at] of Object.entries(earliest)) await c.query(UPSERT_RECOVERABILITY, [repo, at]);
  return earliest;
}

/** pgBackRest's error when the stanza does not exist in a repository yet. */
const MISSING_STANZA = /FileMissingError|missing stanza/i;

export async function runPhysicalBackup(
  req: PhysicalBackupRequest,
  runner: PgbackrestRunner,
  conn: PgConnection,
  log: Logger,
): Promise<PhysicalBackupResult> {
  const c = await recordingClient(conn, 'postgres-agent physical-backup');
  try {
    return await withOperationLock(c, 'the physical backup', async () => {
      const outcomes: RepoOutcome[] = [];
      for (const repo of req.repos) {
        const started = new Date();
        let outcome: RepoOutcome;
        try {
          // An object store that does not answer makes pgBackRest retry for many minutes: find out
          // first, within a bound, and report it as this repository's failure.
          await pgbackrest(runner, 'repo-ls', [`--repo=${repo}`, '--output=json'], {
            timeoutMs: REPO_ANSWER_MS,
            what: `reaching repo${repo}`,
          });
          log.info(`physical ${req.type} backup to repo${repo} started`);
          const backup = () =>
            pgbackrest(
              runner,
              'backup',
              [
                `--type=${req.type}`,
                `--repo=${repo}`,
                ...(req.name ? [`--annotation=name=${req.name}`] : []),
              ],
              { what: `the ${req.type} backup to repo${repo}` },
            );
          // Each call to an unreachable object store waits out pgBackRest's retries: the stanza is
          // created only when the backup says it is missing (a new repository).
          await backup().catch(async (err: Error) => {
            if (!MISSING_STANZA.test(err.message)) throw err;
            log.info(`creating the stanza in repo${repo}`);
            await stanzaCreate(runner);
            await backup();
          });
          const info = await pgbackrestInfo(runner, repo);
          // Labels sort by time: the newest is the one just made.
          const made = [...info.backups].sort((a, b) => a.label.localeCompare(b.label)).at(-1) ?? null;
          outcome = { repo: `repo${repo}`, status: 'success', backup: made, error: null, durationSeconds: 0 };
        } catch (err) {
          outcome = {
            repo: `repo${repo}`,
            status: 'failure',
            backup: null,
            error: (err as Error).message,
            durationSeconds: 0,
          };
          log.error(`physical ${req.type} backup to repo${repo} failed: ${(err as Error).message}`);
        }
        const finished = new Date();
        outcome.durationSeconds = (finished.getTime() - started.getTime()) / 1000;
        await c.query(INSERT_PHYSICAL_BACKUP, [
          outcome.backup?.label ?? null,
          req.type,
          outcome.repo,
          outcome.status,
          started,
          finished,
          outcome.durationSeconds,
          outcome.backup?.sizeBytes ?? 0,
          outcome.backup?.repoSizeBytes ?? 0,
          outcome.error,
        ]);
        outcomes.push(outcome);
      }
      // Retention and the window where the backup worked (a repository that is down would only
      // make every call wait out its retries).
      const reachable = req.repos.filter((_, i) => outcomes[i]!.status === 'success');
      const { expired, recoverability } = reachable.length
        ? await expireAndRecord(runner, reachable, c, log)
        : { expired: [], recoverability: {} };
      const failed = outcomes.filter((o) => o.status === 'failure');
      if (failed.length) {
        const ok = outcomes.filter((o) => o.status === 'success').map((o) => o.repo);
        throw new OperationFailed(
          'E_PHYSICAL_BACKUP',
          `${failed.map((f) => `the ${req.type} backup to ${f.repo} failed: ${f.error}`).join('; ')}${ok.length ? ` (${ok.join(', ')}: done)` : ''}`,
          { failed: failed.map((f) => f.repo), succeeded: ok },
          {
            hint: 'Fix what the message names (a repository down: docs/operations.md, "A repository is unreachable"), then: postgres-ops backup --physical --type full',
          },
        );
      }
      return { type: req.type, outcomes, recoverability, expired };
    });
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Retention by full backups (repoN-retention-full, with the WAL they need: never
 * repo-retention-archive, which would cut the window), then the window as it stands.
 */
export async function expireAndRecord(
  runner: PgbackrestRunner,
  repos: number[],
  c: pg.Client,
  log: Logger,
): Promise<{ expired: string[]; recoverability: Record<string, string | null> }> {
  const infoOf = () => pgbackrestInfoEach(runner, repos);
  const before = await infoOf().catch(() => undefined);
  const errors: OpsError[] = [];
  for (const repo of repos) {
    await pgbackrest(runner, 'expire', [`--repo=${repo}`], {
      what: `expiring old backups in repo${repo}`,
    }).catch((err: OpsError) => {
      errors.push(err);
      log.error(err.message);
    });
  }
  const info = await infoOf();
  const now = new Set(info.backups.map((b) => `${b.repo}:${b.label}`));
  const expired = (before?.backups ?? [])
    .filter((b) => !now.has(`${b.repo}:${b.label}`))
    .map((b) => `${b.repo}:${b.label}`);
  if (expired.length) log.info(`expired ${expired.join(', ')} (retention: full backups kept per repository)`);
  const recoverability = await recordRecoverability(c, info);
  return { expired, recoverability };
}
