/**
 * Why a backup failed. A backup runs several parts at once (pg_dump, row counts on a second
 * connection, the table of contents check, globals): when one fails the others are stopped, and
 * what they report then ("could not import the requested snapshot", "canceling statement") is a
 * consequence, not the cause. A damaged page is always the cause worth naming: which relation,
 * which block, what was wrong, and what to do about it.
 */
import { OperationFailed, type OpsError } from '../errors.js';

export interface PartFailure {
  /** Which part failed: "pg_dump", "row counts", "table of contents", "globals", "interrupted", ... */
  part: string;
  message: string;
  /** Order in which failures were seen (0 first). */
  seq: number;
  /** Seen after the run had begun stopping its parts because of an earlier failure. */
  afterAbort: boolean;
  /** An error already worded for a person (no space, interrupted): reported as is. */
  error?: OpsError;
}

/** What another part's failure makes a healthy part report; never the cause when a cause is known. */
const FOLLOW_ON_RE =
  /could not import the requested snapshot|invalid snapshot identifier|canceling statement due to user request|terminated by user|terminated by signal|Connection terminated|server closed the connection unexpectedly|stopped because/i;

export interface PageCorruption {
  block: number;
  /** The file as the server names it: base/<db oid>/<filenode>[_fork]. */
  path: string;
  kind: 'invalid page' | 'short read';
  /** From "page verification failed, calculated checksum X but expected Y". */
  checksum?: { calculated: number; expected: number };
  detail?: string;
}

const INVALID_PAGE_RE = /invalid page in block (\d+) of relation ([^\s"]+)/;
const SHORT_READ_RE = /could not read block (\d+) in file "([^"]+)": (read only \d+ of \d+ bytes)/;
const CHECKSUM_RE = /page verification failed, calculated checksum (\d+) but expected (\d+)/;

/** A damaged page named in any of `texts` (errors and the warnings that preceded them). */
export function findPageCorruption(texts: string[]): PageCorruption | undefined {
  const all = texts.join('\n');
  const sum = CHECKSUM_RE.exec(all);
  const checksum = sum ? { calculated: Number(sum[1]), expected: Number(sum[2]) } : undefined;
  const inv = INVALID_PAGE_RE.exec(all);
  if (inv) return { block: Number(inv[1]), path: inv[2]!, kind: 'invalid page', checksum };
  const short = SHORT_READ_RE.exec(all);
  if (short) return { block: Number(short[1]), path: short[2]!, kind: 'short read', detail: short[3] };
  return undefined;
}

export interface RelationFile {
  /** Tablespace oid for pg_filenode_relation: 0 is the database's default, 1664 pg_global. */
  tablespace: number;
  filenode: number;
  fork: 'main' | 'fsm' | 'vm' | 'init';
}

/** base/16384/16385, base/16384/16385_vm, global/1262, pg_tblspc/16400/PG_15_x/16384/16385 */
export function parseRelationPath(path: string): RelationFile | undefined {
  const m = /^(?:base\/\d+|global|pg_tblspc\/(\d+)\/[^/]+\/\d+)\/(\d+)(?:_(fsm|vm|init))?(?:\.\d+)?$/.exec(
    path,
  );
  if (!m) return undefined;
  const tablespace = path.startsWith('global/') ? 1664 : m[1] ? Number(m[1]) : 0;
  return { tablespace, filenode: Number(m[2]), fork: (m[3] as RelationFile['fork']) ?? 'main' };
}

export function isFollowOn(f: PartFailure): boolean {
  return FOLLOW_ON_RE.test(f.message);
}

/**
 * The failure to report: a damaged page wherever it was seen; else an interruption; else the first
 * failure that is not a consequence of another (seen before the run was stopping, and not worded
 * as one); else the first failure at all.
 */
export function pickCause(failures: PartFailure[]): PartFailure | undefined {
  const bySeq = [...failures].sort((a, b) => a.seq - b.seq);
  return (
    bySeq.find((f) => findPageCorruption([f.message])) ??
    bySeq.find((f) => f.part === 'interrupted') ??
    bySeq.find((f) => !f.afterAbort && !isFollowOn(f)) ??
    bySeq.find((f) => !isFollowOn(f)) ??
    bySeq[0]
  );
}

export interface DamagedRelation {
  schema: string;
  name: string;
  /** relkind from pg_class: r table, t TOAST table, m materialized view, ... */
  kind: string;
  /** For a TOAST table: the table whose values it holds ("public.t"). */
  toastOf?: string | null;
}

const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The error for a damaged page: names the relation, the block and the failure; says what to do. */
export function pageCorruptionError(
  c: PageCorruption,
  relation: DamagedRelation | undefined,
  database: string,
  checksumFailuresSeen: boolean,
): OpsError {
  const qualified = relation ? `${relation.schema}.${relation.name}` : undefined;
  const table = relation?.toastOf ?? qualified;
  const what = !relation
    ? `a relation of database ${database} (file ${c.path}) is damaged`
    : relation.toastOf
      ? `table ${relation.toastOf} is damaged: its TOAST table ${qualified} (file ${c.path})`
      : `${relation.kind === 'm' ? 'materialized view' : 'table'} ${qualified} is damaged (file ${c.path})`;
  const why =
    c.kind === 'short read'
      ? `the file ends before block ${c.block} (${c.detail ?? 'short read'})`
      : c.checksum
        ? `block ${c.block} fails its checksum (calculated ${c.checksum.calculated}, stored ${c.checksum.expected})`
        : checksumFailuresSeen
          ? `block ${c.block} fails its checksum`
          : `block ${c.block} is an invalid page (its header is not a valid page header)`;
  const check = table
    ? `psql -d ${database} -c "CREATE EXTENSION IF NOT EXISTS amcheck; SELECT * FROM verify_heapam(${sqlLiteral(table)})"`
    : `psql -d ${database} -c "SELECT pg_filenode_relation(0, ${parseRelationPath(c.path)?.filenode ?? 0})::regclass"`;
  return new OperationFailed(
    'E_DATA_CORRUPTED',
    `${what}: ${why}. PostgreSQL refuses to read that page, so the database cannot be dumped; nothing was listed`,
    {
      database,
      relation: qualified ?? null,
      block: c.block,
      file: c.path,
      failure:
        c.kind === 'short read'
          ? 'short read'
          : c.checksum || checksumFailuresSeen
            ? 'checksum mismatch'
            : 'invalid page',
    },
    {
      hint:
        `Find every damaged page: ${check}. ` +
        `Then restore ${table ?? 'the damaged data'} from the last good backup (postgres-agent list-backups; restore it beside the live database with postgres-agent restore NAME --target-database ${database}_good and copy the rows back), ` +
        'and check the disk and memory of the node. Backups of this database keep failing until the page is repaired.',
    },
  );
}
