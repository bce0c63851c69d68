/**
 * PostgreSQL refuses to run as root. When we run as root, its programs run as the `postgres` OS user
 * (Debian's server packages create it). The one place that looks OS users up.
 */
import { execFileSync } from 'node:child_process';
import { UsageError } from '../core/errors.js';

export interface OsIds {
  uid: number;
  gid: number;
}

const cache = new Map<string, OsIds | undefined>();

/** uid and primary gid of an OS user; undefined when there is no such user. */
export function osUserIds(name: string): OsIds | undefined {
  if (!cache.has(name)) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      cache.set(name, { uid, gid });
    } catch {
      cache.set(name, undefined);
    }
  }
  return cache.get(name);
}

/** The ids to run PostgreSQL's programs with: the postgres OS user as root, ourselves (undefined) otherwise. */
export function postgresIdsWhenRoot(): OsIds | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = osUserIds('postgres');
  if (!ids)
    throw new UsageError(
      'E_NO_POSTGRES_USER',
      'running as root, but there is no "postgres" OS user to run PostgreSQL as (it refuses root)',
      {},
      { hint: 'Install the server packages, which create it: bash scripts/install-system-deps.sh' },
    );
  return ids;
}
