/**
 * PostgreSQL refuses to run as root. When postgres-ops runs as root the local instances run as the
 * `postgres` OS user (Debian's packages create it) and own what they write.
 */
import { postgresIdsWhenRoot } from '../runtime/os-user.js';

export interface OsUser {
  name: string;
  uid?: number;
  gid?: number;
}

let cached: OsUser | undefined;

export function postgresOsUser(): OsUser {
  if (cached) return cached;
  const ids = postgresIdsWhenRoot();
  return (cached = ids ? { name: 'postgres', ...ids } : { name: 'current user' });
}

/** spawn() options that run a child as the postgres OS user (nothing when not root). */
export function asPostgres(): { uid?: number; gid?: number } {
  const u = postgresOsUser();
  return u.uid === undefined ? {} : { uid: u.uid, gid: u.gid };
}
