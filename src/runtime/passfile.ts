/** Writing libpq passfiles: the one way passwords reach the PostgreSQL programs we run. */
import { chownSync, writeFileSync } from 'node:fs';
import { passfileLine } from '../core/pg/conninfo.js';
import type { OsIds } from './os-user.js';

/**
 * Writes a 0600 passfile matching any host, port and database for `user` (created 0600, never
 * readable by others in between), owned by `owner` when given (a program run as that user reads it).
 */
export function writePassfile(file: string, user: string, password: string, owner?: OsIds): string {
  writeFileSync(file, passfileLine('*', '*', '*', user, password) + '\n', { mode: 0o600 });
  if (owner) chownSync(file, owner.uid, owner.gid);
  return file;
}
