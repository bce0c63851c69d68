/**
 * Where local mode keeps its state and whether the postgres OS user can reach it: a checkout under
 * /root (mode 0700) is the usual trap, solved by keeping the state under /var/lib/postgres-ops and
 * linking it from the checkout.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OpsError, UsageError } from '../core/errors.js';
import type { Output } from '../core/output.js';
import { findPgBinDir } from '../runtime/pgbin.js';
import { postgresOsUser } from './os-user.js';

/** The server programs, or the exact line that installs them. */
export function requirePgBinDir(): string {
  try {
    return findPgBinDir();
  } catch (err) {
    if (err instanceof OpsError)
      throw new UsageError(
        'E_NO_POSTGRES',
        `${err.message}; local mode runs PostgreSQL on this machine`,
        {},
        {
          hint: 'Install them: sudo bash scripts/install-system-deps.sh (or set PGOPS_PG_BIN_DIR to their directory)',
        },
      );
    throw err;
  }
}

/** The first directory above `root` the postgres OS user cannot enter (only when running as root). */
function unreachableAncestor(root: string): { dir: string; mode: number } | undefined {
  const u = postgresOsUser();
  if (u.uid === undefined) return undefined;
  for (let dir = dirname(resolve(root)); ; dir = dirname(dir)) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      st = undefined;
    }
    const ok =
      !st || (st.mode & 0o001) !== 0 || st.uid === u.uid || (st.gid === u.gid && (st.mode & 0o010) !== 0);
    if (st && !ok) return { dir, mode: st.mode & 0o777 };
    if (dir === dirname(dir)) return undefined;
  }
}

/**
 * As root, the instances run as the postgres OS user, who must be able to reach the state folder:
 * a checkout under /root (mode 0700) is the usual trap. Said before anything is created.
 */
export function requireTraversable(root: string) {
  const bad = unreachableAncestor(root);
  if (bad)
    throw new UsageError(
      'E_STATE_DIR_UNREACHABLE',
      `the postgres OS user cannot enter ${bad.dir} (mode ${bad.mode.toString(8)}), so PostgreSQL could not use ${resolve(root)}`,
      { dir: bad.dir },
      {
        hint: `Use a state folder it can reach, e.g. --state-dir /var/tmp/postgres-ops, or: chmod o+x ${bad.dir}`,
      },
    );
}

/** Where the state of a checkout lives when the postgres OS user cannot reach the checkout. */
export const SHARED_STATE_PARENT = '/var/lib/postgres-ops';

/**
 * The default state folder `.postgres-ops/` of a checkout the postgres OS user cannot reach (under
 * /root): the state goes to /var/lib/postgres-ops/<checkout>-<hash> and `.postgres-ops` becomes a
 * link to it, so the folder is still found from the checkout and `local destroy` removes both.
 * Returns the folder to use (the real one).
 */
export function placeDefaultStateDir(link: string, out: Output): string {
  if (!unreachableAncestor(link)) return link;
  // A real folder there already holds state: leave it (requireTraversable then says what to do).
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) return link;
  const checkout = dirname(resolve(link));
  const slug = `${basename(checkout).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(checkout).digest('hex').slice(0, 8)}`;
  const target = join(SHARED_STATE_PARENT, slug);
  mkdirSync(target, { recursive: true, mode: 0o755 });
  chmodSync(SHARED_STATE_PARENT, 0o755);
  chmodSync(target, 0o755);
  let current: string | undefined;
  try {
    current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : undefined;
  } catch {
    current = undefined;
  }
  if (current !== target) {
    if (current !== undefined) unlinkSync(link);
    symlinkSync(target, link);
  }
  out.line(
    `state folder: ${link} -> ${target} (the postgres OS user cannot enter ${unreachableAncestor(link)?.dir})`,
  );
  return target;
}

/** A link left by placeDefaultStateDir whose folder was destroyed. */
export function removeDanglingStateLink(link: string) {
  try {
    if (lstatSync(link).isSymbolicLink() && !existsSync(link)) unlinkSync(link);
  } catch {
    /* nothing there */
  }
}
