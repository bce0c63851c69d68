/**
 * What `migrate` will do for a version, decided from the files on disk and the history row (if
 * any) — without touching the database, so `--dry-run` and the real run share one decision.
 */
import { SafetyRefusal } from '../errors.js';
import { type PlannedFile, versionChecksum } from './files.js';

/** A row of pgops.schema_migrations, as far as planning needs it. */
export interface AppliedVersion {
  version: string;
  checksum: string;
  files: { name: string; sha256: string; noTransaction?: boolean }[];
  /** 'partial': the transactional files committed, a no-transaction file has not finished yet. */
  state: 'applied' | 'partial';
  appliedAt: string;
}

export type PlanAction =
  /** Nothing recorded: apply every file. */
  | 'apply'
  /** Recorded with the same checksum: nothing to do. */
  | 'none'
  /** Transactional part recorded, no-transaction files still to run (an earlier run stopped there). */
  | 'resume';

export interface MigrationPlan {
  version: string;
  checksum: string;
  action: PlanAction;
  files: { name: string; sha256: string; noTransaction: boolean; run: boolean }[];
  appliedAt: string | null;
}

export interface FileChange {
  name: string;
  change: 'changed' | 'added' | 'removed';
}

/** Which files differ between what was applied and what is shipped now. */
export function diffFiles(applied: { name: string; sha256: string }[], now: PlannedFile[]): FileChange[] {
  const before = new Map(applied.map((f) => [f.name, f.sha256]));
  const changes: FileChange[] = [];
  for (const f of now) {
    const old = before.get(f.name);
    if (old === undefined) changes.push({ name: f.name, change: 'added' });
    else if (old !== f.sha256) changes.push({ name: f.name, change: 'changed' });
    before.delete(f.name);
  }
  for (const name of before.keys()) changes.push({ name, change: 'removed' });
  return changes.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The committed (transactional) files of a partial version are exactly those shipped now. */
function sameTransactionalFiles(applied: AppliedVersion['files'], now: PlannedFile[]): boolean {
  const key = (f: { name: string; sha256: string }) => `${f.name}\0${f.sha256}`;
  const then = applied.filter((f) => !f.noTransaction).map(key);
  const current = now.filter((f) => !f.noTransaction).map(key);
  return then.length === current.length && then.every((k, i) => k === current[i]);
}

/**
 * The plan, or a SafetyRefusal (exit 3) when the version was applied from different files: an
 * applied version is history, re-running edited SQL against it could do anything.
 */
export function planMigration(
  version: string,
  files: PlannedFile[],
  applied: AppliedVersion | undefined,
): MigrationPlan {
  const checksum = versionChecksum(files);
  const base = (action: PlanAction, run: (f: PlannedFile) => boolean): MigrationPlan => ({
    version,
    checksum,
    action,
    files: files.map((f) => ({
      name: f.name,
      sha256: f.sha256,
      noTransaction: f.noTransaction,
      run: run(f),
    })),
    appliedAt: applied?.appliedAt ?? null,
  });
  if (!applied) return base('apply', () => true);
  if (applied.state === 'partial' && sameTransactionalFiles(applied.files, files)) {
    // Only no-transaction files are left to run; fixing one of them is how a failed one is retried.
    return base('resume', (f) => f.noTransaction);
  }
  if (applied.checksum !== checksum) {
    const changes = diffFiles(applied.files, files);
    const list = changes.map((c) => `${c.name} (${c.change})`).join(', ') || 'file order or content';
    throw new SafetyRefusal(
      'E_MIGRATION_CHANGED',
      `migration ${version} was applied on ${applied.appliedAt} from different files: ${list}; refusing to apply it again`,
      { version, changes: changes.map((c) => ({ name: c.name, change: c.change })) },
      {
        hint: `An applied version is never re-run. Restore the original files of ${version}, or ship the change as a new version (e.g. files/migrations/<next-version>/ and --set databases.postgres.migration.version=<next-version>).`,
      },
    );
  }
  return base('none', () => false);
}
