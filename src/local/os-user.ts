/**
 * PostgreSQL refuses to run as root. When postgres-ops runs as root the local instances run as the
 * `postgres` OS user (Debian's packages create it) and own what they write.
 */
import { execFileSync } from 'node:child_process';
import { OperationFailed } from '../core/errors.js';

export interface OsUser {
  name: string;
  uid?: number;
  gid?: number;
}

let cached: OsUser | undefined;

export function postgresOsUser(): OsUser {
  if (cached) return cached;
  if (process.getuid?.() !== 0) return (cached = { name: 'current user' });
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return (cached = { name: 'postgres', uid, gid });
  } catch {
    throw new OperationFailed(
      'E_NO_POSTGRES_USER',
      'running as root, but there is no "postgres" OS user to run PostgreSQL as (it refuses root)',
      {},
      { hint: 'Install the server packages, which create it: sudo bash scripts/install-system-deps.sh' },
    );
  }
}

/** spawn() options that run a child as the postgres OS user (nothing when not root). */
export function asPostgres(): { uid?: number; gid?: number } {
  const u = postgresOsUser();
  return u.uid === undefined ? {} : { uid: u.uid, gid: u.gid };
}
