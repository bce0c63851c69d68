import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup, removeDirSync } from './cleanup.js';
import { chownToPostgres } from './os-user.js';

/**
 * A fresh temp directory, removed at cleanup. World-traversable so that the postgres OS user can
 * reach directories it owns inside it.
 */
export function tempDir(prefix = 'pgops-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  onCleanup(
    `rm ${dir}`,
    () => removeDirSync(dir),
    () => removeDirSync(dir),
  );
  return dir;
}

/** A directory inside `parent` owned by the postgres OS user (mode 0700, as PostgreSQL wants). */
export function postgresOwnedDir(parent: string, name: string, mode = 0o700): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  chownToPostgres(dir);
  return dir;
}
