/**
 * Snapshots of a local instance (the operator CLI's local mode): a physical copy taken with
 * pg_basebackup into <stateDir>/snapshots/<name>, described by <name>.json written last, so a copy
 * without its descriptor is an interrupted one and is never listed. Restoring copies (never moves)
 * the snapshot into a new data directory, so the snapshot survives and can be restored again.
 */
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { OperationFailed, SafetyRefusal, UsageError } from '../core/errors.js';
import {
  basebackupManifestSchema,
  LOCAL_SNAPSHOT_KIND,
  type LocalSnapshot,
  parseLocalSnapshot,
} from '../core/snapshot/local-descriptor.js';
import { defaultSnapshotName, validateSnapshotName } from '../core/snapshot/naming.js';
import { execOk } from '../runtime/exec.js';
import { pgBin } from '../runtime/pgbin.js';
import { postgresIdsWhenRoot } from '../runtime/os-user.js';
import { writePassfile } from '../runtime/passfile.js';

export type { LocalSnapshot };

export interface RunAs {
  uid: number;
  gid: number;
}

/** Who runs PostgreSQL's programs: the postgres OS user when we are root (postgres refuses root). */
export function defaultRunAs(): RunAs | undefined {
  return postgresIdsWhenRoot();
}

export interface SnapshotSource {
  host: string;
  port: number;
  user: string;
  /** A libpq passfile readable by the user pg_basebackup runs as; or give `password`. */
  passfile?: string;
  password?: string;
}

export interface CreateLocalSnapshotOptions {
  stateDir: string;
  name?: string;
  /** Used in the default name: <release>-postgres-YYYYMMDD-HHMMSS. */
  release?: string;
  binDir?: string;
  runAs?: RunAs;
  now?: Date;
}

export function snapshotsDir(stateDir: string): string {
  return join(stateDir, 'snapshots');
}

function ensureDir(dir: string, runAs: RunAs | undefined) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
}

function readWalRange(dir: string): { lsn: string; endLsn: string | null; timeline: number | null } {
  try {
    const manifest = basebackupManifestSchema.parse(
      JSON.parse(readFileSync(join(dir, 'backup_manifest'), 'utf8')),
    );
    const r = manifest['WAL-Ranges']?.[0];
    if (r) return { lsn: r['Start-LSN'], endLsn: r['End-LSN'], timeline: r.Timeline };
  } catch {
    /* older servers: fall back to backup_label */
  }
  const label = readFileSync(join(dir, 'backup_label'), 'utf8');
  const m = /START WAL LOCATION: (\S+)/.exec(label);
  const tl = /START TIMELINE: (\d+)/.exec(label);
  return { lsn: m?.[1] ?? 'unknown', endLsn: null, timeline: tl ? Number(tl[1]) : null };
}

/** Takes a physical copy of a running instance with pg_basebackup (fast checkpoint, WAL streamed in). */
export async function createLocalSnapshot(
  source: SnapshotSource,
  opts: CreateLocalSnapshotOptions,
): Promise<LocalSnapshot> {
  const runAs = opts.runAs ?? defaultRunAs();
  const now = opts.now ?? new Date();
  const name =
    opts.name !== undefined
      ? validateSnapshotName(opts.name)
      : defaultSnapshotName(opts.release ?? 'local', now);
  const root = snapshotsDir(opts.stateDir);
  ensureDir(root, runAs);
  const dir = join(root, name);
  if (existsSync(dir) || existsSync(join(root, `${name}.json`)))
    throw new UsageError(
      'E_SNAPSHOT_EXISTS',
      `local snapshot ${name} already exists in ${root}`,
      { name },
      { hint: 'Pick another name, or list them: postgres-ops list-snapshots' },
    );
  const partial = join(root, `.${name}.partial`);
  rmSync(partial, { recursive: true, force: true });
  let passfile = source.passfile;
  let tmpPassfile: string | undefined;
  if (!passfile && source.password !== undefined) {
    tmpPassfile = writePassfile(join(root, `.${name}.pgpass`), source.user, source.password, runAs);
    passfile = tmpPassfile;
  }
  try {
    await execOk(
      pgBin('pg_basebackup', opts.binDir),
      [
        '-h',
        source.host,
        '-p',
        String(source.port),
        '-U',
        source.user,
        '-D',
        partial,
        '-X',
        'stream',
        '--checkpoint=fast',
        '-w',
        '-l',
        `snapshot ${name}`,
      ],
      { ...(runAs ?? {}), env: { ...process.env, ...(passfile ? { PGPASSFILE: passfile } : {}) } },
    );
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw new OperationFailed(
      'E_LOCAL_SNAPSHOT',
      `taking local snapshot ${name} of ${source.host}:${source.port} failed: ${(err as Error).message}`,
      { name },
      {
        cause: err,
        hint: 'Check that the instance is running (postgres-ops status) and that the superuser password file is readable.',
      },
    );
  } finally {
    if (tmpPassfile) rmSync(tmpPassfile, { force: true });
  }
  renameSync(partial, dir);
  const snap: LocalSnapshot = {
    kind: LOCAL_SNAPSHOT_KIND,
    version: 1,
    name,
    createdAt: now.toISOString(),
    source: `${source.host}:${source.port}`,
    ...readWalRange(dir),
    dir,
  };
  // The descriptor last: only now is the snapshot complete.
  const tmp = join(root, `.${name}.json.tmp`);
  writeFileSync(tmp, JSON.stringify(snap, null, 2) + '\n');
  renameSync(tmp, join(root, `${name}.json`));
  return snap;
}

/** Complete local snapshots (descriptor and copy both present), newest first. */
export function listLocalSnapshots(stateDir: string): LocalSnapshot[] {
  const root = snapshotsDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: LocalSnapshot[] = [];
  for (const f of names) {
    if (!f.endsWith('.json') || f.startsWith('.')) continue;
    try {
      const d = parseLocalSnapshot(readFileSync(join(root, f), 'utf8'));
      if (!d || !statSync(join(root, d.name)).isDirectory()) continue;
      out.push({ ...d, dir: join(root, d.name) });
    } catch {
      /* not ours or incomplete */
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

/**
 * Creates a new data directory from a snapshot (a copy; the snapshot stays). The target must not
 * exist or be empty: restoring never overwrites a data directory. PostgreSQL started on it replays
 * the WAL shipped inside the copy and comes up at the snapshot's point.
 */
export async function restoreLocalSnapshot(opts: {
  stateDir: string;
  name: string;
  targetDataDir: string;
  runAs?: RunAs;
}): Promise<{ dataDir: string; snapshot: LocalSnapshot }> {
  const snap = listLocalSnapshots(opts.stateDir).find((s) => s.name === opts.name);
  if (!snap)
    throw new UsageError(
      'E_SNAPSHOT_UNKNOWN',
      `no complete local snapshot named ${opts.name} in ${snapshotsDir(opts.stateDir)}`,
      { name: opts.name },
      {
        hint: 'List them with: postgres-ops list-snapshots',
      },
    );
  const target = opts.targetDataDir;
  if (existsSync(target) && readdirSync(target).length > 0)
    throw new SafetyRefusal(
      'E_TARGET_NOT_EMPTY',
      `refusing to restore snapshot ${opts.name} into ${target}: the directory is not empty`,
      { target },
      {
        hint: 'Restore into a new, empty directory; move the old data directory away yourself if you mean to replace it.',
      },
    );
  const runAs = opts.runAs ?? defaultRunAs();
  ensureDir(target, runAs);
  try {
    // cp -a keeps modes and ownership (0700/0600, postgres) that PostgreSQL insists on.
    await execOk('cp', ['-a', '--', `${snap.dir}/.`, target]);
  } catch (err) {
    throw new OperationFailed(
      'E_LOCAL_RESTORE',
      `copying snapshot ${opts.name} into ${target} failed: ${(err as Error).message}`,
      { target },
      {
        cause: err,
        hint: 'Check free space on that filesystem (df -h), remove the partial directory, and run the restore again.',
      },
    );
  }
  return { dataDir: target, snapshot: snap };
}
