/** Which databases a backup dumps: PGOPS_BACKUP_DATABASES (comma-separated), else the application database. */
export function backupDatabases(list: string, appDatabase: string): string[] {
  const dbs = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return dbs.length ? [...new Set(dbs)] : [appDatabase];
}

/** The application database and the databases backups cover, from the agent's settings. */
export function databaseScope(env: { PGOPS_APP_DATABASE: string; PGOPS_BACKUP_DATABASES: string }): {
  application: string;
  backedUp: string[];
} {
  return {
    application: env.PGOPS_APP_DATABASE,
    backedUp: backupDatabases(env.PGOPS_BACKUP_DATABASES, env.PGOPS_APP_DATABASE),
  };
}
