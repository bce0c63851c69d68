/**
 * What a restore that was killed part way leaves behind, told from pg_database alone (pure), and
 * the statements that put things back. A restore fences the target (ALLOW_CONNECTIONS false) only
 * once `<db>__restoring` is complete, and swaps the two by renaming in one transaction; killed in
 * between, the target keeps its data but refuses every connection. Repairing means returning to
 * the state before the restore: the target open again, the unfinished copy dropped.
 */
import type { z } from 'zod';
import { quoteIdent } from '../pg/conninfo.js';
import type { leftoverKindSchema } from './results.js';
import { fitIdent } from './names.js';

export interface DatabaseRow {
  datname: string;
  datallowconn: boolean;
  datistemplate: boolean;
  /** The database's comment: a restore marks its `__restoring` copy (restoringMark). */
  comment?: string | null;
}

const MARK = 'pgops: unfinished restore of ';

/** The comment a restore puts on the `__restoring` copy it creates (cleared when swapped in). */
export function restoringMark(target: string): string {
  return `${MARK}${target}`;
}

export type LeftoverKind = z.output<typeof leftoverKindSchema>;

export interface RestoreLeftover {
  kind: LeftoverKind;
  database: string;
  /** The `__restoring` database involved, if any. */
  copy: string | null;
  /** What a person reads. */
  message: string;
  /** Statements that repair it, run by `postgres-agent repair` (and by a restore or `local up`). */
  repair: string[];
  /** Whether repairing is automatic (only what a restore of ours left and is safe to undo). */
  automatic: boolean;
}

const RESTORING = '__restoring';
const REPLACED = /__before_restore_\d{8}_\d{6}$/;

/** Leftovers of interrupted restores among `rows` (pg_database), most severe first. */
export function findRestoreLeftovers(rows: DatabaseRow[]): RestoreLeftover[] {
  const copies = new Set(rows.filter((r) => r.datname.endsWith(RESTORING)).map((r) => r.datname));
  const out: RestoreLeftover[] = [];
  const explained = new Set<string>();
  // Only a copy carrying our mark is ours to drop: a database a person named `x__restoring` is not.
  const ours = (copy: string) => rows.find((r) => r.datname === copy)?.comment?.startsWith(MARK) === true;
  for (const r of rows) {
    if (r.datname.endsWith(RESTORING) || r.datistemplate || r.datname === 'template0') continue;
    const copy = fitIdent(r.datname, RESTORING);
    if (!r.datallowconn && copies.has(copy)) {
      explained.add(copy);
      out.push({
        kind: 'fenced',
        database: r.datname,
        copy,
        message: `database ${r.datname} refuses all connections: a restore was interrupted between fencing it and swapping ${copy} in; its data is intact`,
        repair: [
          `ALTER DATABASE ${quoteIdent(r.datname)} ALLOW_CONNECTIONS true`,
          `DROP DATABASE IF EXISTS ${quoteIdent(copy)} WITH (FORCE)`,
        ],
        automatic: ours(copy),
      });
    } else if (!r.datallowconn && REPLACED.test(r.datname)) {
      out.push({
        kind: 'replaced-copy',
        database: r.datname,
        copy: null,
        message: `database ${r.datname} is the data a restore replaced, left because that restore was interrupted before dropping it; drop it when you no longer need it`,
        repair: [`DROP DATABASE ${quoteIdent(r.datname)}`],
        automatic: false,
      });
    } else if (!r.datallowconn) {
      out.push({
        kind: 'refuses-connections',
        database: r.datname,
        copy: null,
        message: `database ${r.datname} refuses all connections (datallowconn is false)`,
        repair: [`ALTER DATABASE ${quoteIdent(r.datname)} ALLOW_CONNECTIONS true`],
        automatic: false,
      });
    }
  }
  for (const copy of [...copies].sort()) {
    if (explained.has(copy)) continue;
    const target = rows.find(
      (r) => !r.datname.endsWith(RESTORING) && fitIdent(r.datname, RESTORING) === copy,
    );
    const base = target?.datname ?? copy.slice(0, -RESTORING.length);
    out.push({
      kind: 'unfinished-copy',
      database: base,
      copy,
      message: `database ${copy} is left from a restore of ${base} that was interrupted${target ? `; ${base} itself was not changed` : ''}`,
      repair: [`DROP DATABASE IF EXISTS ${quoteIdent(copy)} WITH (FORCE)`],
      automatic: ours(copy),
    });
  }
  const rank: Record<LeftoverKind, number> = {
    fenced: 0,
    'refuses-connections': 1,
    'unfinished-copy': 2,
    'replaced-copy': 3,
  };
  return out.sort((a, b) => rank[a.kind] - rank[b.kind] || a.database.localeCompare(b.database));
}

/** pg_database as findRestoreLeftovers reads it (read-only). */
export const DATABASES_SQL = `SELECT datname, datallowconn, datistemplate,
  shobj_description(oid, 'pg_database') AS comment FROM pg_database ORDER BY datname`;
