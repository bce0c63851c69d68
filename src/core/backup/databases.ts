/** Which databases a backup dumps: PGOPS_BACKUP_DATABASES (comma-separated), else the application database. */
export function backupDatabases(list: string, appDatabase: string): string[] {
  const dbs = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return dbs.length ? [...new Set(dbs)] : [appDatabase];
}

/** The application database and the databases backups cover, from the agent's settings. */
export function databaseScope(config: { roles: { appDatabase: string }; backup: { databases: string } }): {
  application: string;
  backedUp: string[];
} {
  return {
    application: config.roles.appDatabase,
    backedUp: backupDatabases(config.backup.databases, config.roles.appDatabase),
  };
}
