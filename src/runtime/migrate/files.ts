/**
 * Reads a version's SQL files from `<dir>/<version>/`. In a pod that directory is a ConfigMap
 * volume: its files are symlinks into a hidden `..data` directory, so entries are stat-ed (not
 * lstat-ed) and hidden names are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { isMigrationFileName, type MigrationFile } from '../../core/migrate/files.js';

function versionsIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
      .sort();
  } catch {
    return [];
  }
}

export function readMigrationFiles(dir: string, version: string): { dir: string; files: MigrationFile[] } {
  const versionDir = join(dir, version);
  let names: string[];
  try {
    names = readdirSync(versionDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const known = versionsIn(dir);
    throw new UsageError(
      'E_MIGRATION_NOT_FOUND',
      `no migration files for version ${version}: cannot read ${versionDir} (${code ?? String(err)})`,
      { version, dir: versionDir, available: known },
      {
        hint: known.length
          ? `Versions found in ${dir}: ${known.join(', ')}. Check the version asked for, or the migrations directory.`
          : `Ship the files in helm/pyairtable-stack/files/migrations/${version}/ (or databases.postgres.migration.configMap) so they are mounted at ${versionDir}.`,
      },
    );
  }
  const files: MigrationFile[] = [];
  for (const name of names.filter(isMigrationFileName)) {
    const path = join(versionDir, name);
    if (!statSync(path).isFile()) continue;
    files.push({ name, text: readFileSync(path, 'utf8') });
  }
  return { dir: versionDir, files };
}
