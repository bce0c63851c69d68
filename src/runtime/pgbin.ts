/**
 * Finds PostgreSQL's programs: an explicit directory, then Debian's /usr/lib/postgresql/<major>/bin
 * (newest first), then PATH. The official postgres image puts them on PATH.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../core/errors.js';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function debianBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a))
      .map((d) => `/usr/lib/postgresql/${d}/bin`);
  } catch {
    return [];
  }
}

/** The directory that holds `postgres` and its tools. */
export function findPgBinDir(explicit?: string): string {
  const candidates = [
    ...(explicit ? [explicit] : []),
    ...(process.env.PGOPS_PG_BIN_DIR ? [process.env.PGOPS_PG_BIN_DIR] : []),
    ...debianBinDirs(),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  ];
  for (const dir of candidates) {
    if (executable(join(dir, 'postgres')) && executable(join(dir, 'pg_ctl'))) return dir;
  }
  throw new UsageError(
    'E_NO_POSTGRES',
    'PostgreSQL server programs (postgres, pg_ctl) were not found',
    {},
    {
      hint: 'Install them (Debian: sudo apt-get install postgresql-15, or run scripts/install-system-deps.sh) or set PGOPS_PG_BIN_DIR.',
    },
  );
}

/** Full path of one PostgreSQL program. */
export function pgBin(name: string, explicitDir?: string): string {
  return join(findPgBinDir(explicitDir), name);
}
