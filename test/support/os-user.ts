/**
 * PostgreSQL refuses to run as root. When the tests run as root they create data directories owned
 * by the `postgres` OS user and start processes with its uid/gid; as any other user they run as
 * that user.
 */
import { execFileSync } from 'node:child_process';
import { chownSync } from 'node:fs';
import { osUserIds } from '../../src/runtime/os-user.js';

export interface RunAs {
  uid?: number;
  gid?: number;
  name: string;
}

let cached: RunAs | undefined;

export function postgresUser(): RunAs {
  if (cached) return cached;
  if (process.getuid?.() !== 0) {
    cached = { name: execFileSync('id', ['-un']).toString().trim() };
    return cached;
  }
  const ids = osUserIds('postgres');
  if (!ids)
    throw new Error(
      'tests run as root but there is no "postgres" OS user: run scripts/install-system-deps.sh',
    );
  cached = { ...ids, name: 'postgres' };
  return cached;
}

/** Gives a path to the postgres OS user (no-op when not root). */
export function chownToPostgres(path: string) {
  const u = postgresUser();
  if (u.uid !== undefined && u.gid !== undefined) chownSync(path, u.uid, u.gid);
}
