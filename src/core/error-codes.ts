/**
 * Every error code postgres-ops and postgres-agent report, with the exit status it comes with and
 * what it means. Scripts match on these codes (`-o json` prints `{"error":{"code",...}}`), so a code
 * is never renamed or given another exit status. The error classes in `errors.ts` accept only codes
 * registered here with their own exit status; `docs/errors.md` is generated from this table
 * (`npx tsx scripts/errors-doc.ts`).
 *
 * `relayed`: the code also reports a failure of a `postgres-agent` run elsewhere (a pod, a Job, a
 * child process), and then exits with that agent's own status (1, 2 or 3).
 */
export type ExitCode = 1 | 2 | 3;

export interface ErrorCodeEntry {
  readonly exit: ExitCode;
  readonly meaning: string;
  readonly relayed?: true;
}

export const errorCodes = {
  E_AGENT: {
    exit: 1,
    relayed: true,
    meaning: 'a postgres-agent run (a Job, or the local agent) failed or printed no result',
  },
  E_AGENT_NOT_RUNNING: { exit: 1, meaning: 'the agent of the promotion candidate is not running' },
  E_AGENT_OUTPUT: {
    exit: 1,
    meaning:
      'a postgres-agent command succeeded but its JSON result lacks what this postgres-ops reads (another version)',
  },
  E_ARCHIVE_BEHIND: { exit: 1, meaning: 'a WAL segment was not archived in time; the archive is behind' },
  E_AZURE_CREDENTIALS: { exit: 2, meaning: 'no Azure Blob credentials are set' },
  E_BACKUP: { exit: 1, meaning: 'a backup failed; nothing was listed for it' },
  E_BACKUP_DIR: {
    exit: 2,
    meaning: 'the backup directory (PGOPS_BACKUP_DIR) does not exist or cannot be read',
  },
  E_BACKUP_EXISTS: { exit: 2, meaning: 'a backup of that name exists; backups are never overwritten' },
  E_BACKUP_FILE_MISSING: {
    exit: 1,
    meaning: 'a file a backup manifest names is missing, so it was not copied',
  },
  E_BACKUP_MISSING: { exit: 1, meaning: 'the backup finished but is not listed' },
  E_BACKUP_NAME: { exit: 2, meaning: 'the backup name has characters or a length that is not allowed' },
  E_BACKUP_NOT_FOUND: { exit: 2, meaning: 'the backup file to restore or verify does not exist' },
  E_BACKUP_RUNNING: { exit: 1, meaning: 'another backup of this cluster is running' },
  E_BAD_LOCAL_STATE: { exit: 2, meaning: "the local state folder's state file cannot be read" },
  E_BAD_TARGET: { exit: 2, meaning: 'a point-in-time target (--time, --lsn, ...) is malformed' },
  E_BUSY: {
    exit: 3,
    meaning:
      'another backup, restore, migration, promotion or local command holds the cluster; nothing was started',
  },
  E_CHECKSUM: {
    exit: 3,
    meaning: 'the backup does not match the sha256 in its manifest; it was not restored',
  },
  E_CLUSTER_RESTORE: {
    exit: 1,
    meaning: 'member 0 could not restore the cluster; it started again on its previous data',
  },
  E_CLUSTER_RESTORE_TIMEOUT: {
    exit: 1,
    meaning: 'a whole-cluster restore step did not finish in time; rerunning the same restore resumes it',
  },
  E_CONFIG: { exit: 2, meaning: "the agent's settings (PGOPS_*) have unknown names or bad values" },
  E_CONFIG_FRAGMENT: { exit: 2, meaning: 'the PostgreSQL settings fragment has lines that are not settings' },
  E_CONFIRM: { exit: 3, meaning: 'a restore that replaces data was not confirmed' },
  E_CONNECT: { exit: 1, meaning: 'cannot connect to PostgreSQL' },
  E_CRONJOB_SHAPE: {
    exit: 1,
    meaning: 'the CronJob has no container running the expected postgres-agent role',
  },
  E_DATABASE_NAME: { exit: 2, meaning: 'the database name is not allowed' },
  E_DATA_CORRUPTED: { exit: 1, meaning: 'PostgreSQL found a damaged page, so the database cannot be dumped' },
  E_DATA_LOST: {
    exit: 3,
    meaning: 'the data directories of a local cluster are gone; starting would create an empty cluster',
  },
  E_DECLINED: { exit: 3, meaning: 'the person at the terminal did not confirm a destructive command' },
  E_DRILL_FAILED: { exit: 1, meaning: 'the recovery drill failed' },
  E_ETCD: { exit: 1, meaning: "the cluster's keys in the local etcd could not be cleared" },
  E_ETCD_START: { exit: 1, meaning: 'the local etcd did not start' },
  E_EXEC: { exit: 1, meaning: 'a program (pg_dump, pg_restore, psql, ...) could not be run' },
  E_EXEC_CLOSED: {
    exit: 1,
    meaning: 'the connection to a pod closed before the command there reported its exit status',
  },
  E_EXEC_TIMEOUT: {
    exit: 1,
    meaning: 'a command in a pod did not finish in time; it may still be running there',
  },
  E_FAILED: {
    exit: 1,
    meaning: 'an operation failed with an unexpected error; the message says what was being done',
  },
  E_FENCE_NOT_LIFTED: { exit: 1, meaning: 'Patroni did not take the new configuration in time' },
  E_FOREIGN_DATA: { exit: 2, meaning: 'PGDATA is not empty and is not a PostgreSQL data directory' },
  E_HA_FILE: { exit: 2, meaning: 'the high-availability settings file is not valid' },
  E_HA_TIMINGS: { exit: 2, meaning: "Patroni's loop wait and retry timeout do not fit in the leader lease" },
  E_HBA_METHOD: { exit: 2, meaning: 'pg_hba lines use an authentication method that is not allowed' },
  E_INSTANCE_EXITED: { exit: 1, meaning: 'a local member stopped while starting' },
  E_INSTANCE_TIMEOUT: { exit: 1, meaning: 'the local members were not ready in time' },
  E_INTERNAL: { exit: 1, meaning: 'an unexpected error (a bug): run again with --debug for the stack trace' },
  E_INTERRUPTED: {
    exit: 1,
    meaning: 'interrupted by a signal; temporary files were removed and nothing was listed',
  },
  E_JOB_FAILED: { exit: 1, meaning: 'a Kubernetes Job failed' },
  E_JOB_OUTPUT: { exit: 1, meaning: "a Kubernetes Job's result could not be read" },
  E_JOB_TIMEOUT: { exit: 1, meaning: 'a Kubernetes Job did not finish in time; it may still be running' },
  E_KUBE: { exit: 1, meaning: 'the Kubernetes API answered with an error' },
  E_KUBE_FORBIDDEN: { exit: 1, meaning: 'the Kubernetes API refused the request (RBAC)' },
  E_KUBE_NOT_FOUND: { exit: 1, meaning: 'a Kubernetes object the operation needs was not found' },
  E_KUBE_UNAUTHORIZED: { exit: 1, meaning: 'not authenticated to the Kubernetes API' },
  E_LEADER_MOVED: { exit: 1, meaning: 'the leader changed during a snapshot; nothing was snapshotted' },
  E_LOCAL_CHECKSUM: {
    exit: 1,
    meaning: 'a local backup file does not match its manifest, so it was not uploaded',
  },
  E_LOCAL_RESTORE: { exit: 1, meaning: 'copying a local snapshot into place failed' },
  E_LOCAL_SNAPSHOT: { exit: 1, meaning: 'taking a local snapshot failed' },
  E_MIGRATION_CHANGED: { exit: 3, meaning: "an applied migration's files changed; it is not applied again" },
  E_MIGRATION_EMPTY: { exit: 2, meaning: 'the migration version has no .sql files' },
  E_MIGRATION_FILE: { exit: 2, meaning: 'a migration file name is not allowed' },
  E_MIGRATION_NOT_FOUND: { exit: 2, meaning: 'there are no migration files for the version' },
  E_MIGRATION_ORDER: {
    exit: 2,
    meaning: 'a migration file that runs outside the transaction sorts before one that runs inside it',
  },
  E_MIGRATION_STATEMENT: { exit: 1, meaning: 'a migration statement failed; the version was rolled back' },
  E_MIGRATION_TX_CONTROL: { exit: 2, meaning: 'a migration file opens or ends a transaction itself' },
  E_MIGRATION_VERSION: { exit: 2, meaning: 'no migration version was given, or it is malformed' },
  E_NOTHING_TO_UNDO: { exit: 2, meaning: 'there is no point-in-time restore to undo' },
  E_NOT_A_BACKUP: { exit: 2, meaning: 'the file is not a backup' },
  E_NOT_FOUND: { exit: 2, meaning: 'the Kubernetes object named (namespace, release, pod) does not exist' },
  E_NOT_IN_CLUSTER: { exit: 2, meaning: 'the backup file is not on the backup volume' },
  E_NOT_RUNNING: { exit: 1, meaning: 'the member is not running' },
  E_NOT_SUPPORTED: {
    exit: 2,
    meaning: 'the command or option is not available in this mode (Kubernetes or local)',
  },
  E_NO_AGENT: { exit: 1, meaning: 'postgres-agent is not built' },
  E_NO_BACKUPS: { exit: 2, meaning: 'there are no backups to verify' },
  E_NO_CLUSTER: { exit: 1, meaning: 'no Kubernetes API server answers' },
  E_NO_CRONJOB: { exit: 2, meaning: 'the CronJob does not exist in the namespace' },
  E_NO_DATABASES: { exit: 2, meaning: 'there is no database to back up' },
  E_NO_ETCD: { exit: 2, meaning: 'etcd is not installed (local mode needs it)' },
  E_NO_KUBECTL: { exit: 1, meaning: 'kubectl could not be run' },
  E_NO_LEADER: { exit: 1, meaning: 'no member holds the leader lock' },
  E_NO_LOCAL_STATE: { exit: 2, meaning: 'the folder holds no postgres-ops local state' },
  E_NO_OBJECT_STORE: { exit: 2, meaning: "the object store's settings are needed but the release has none" },
  E_NO_OS_USER: { exit: 1, meaning: 'the OS user to switch to does not exist' },
  E_NO_PASSWORD: { exit: 2, meaning: 'a password setting is not set' },
  E_NO_POD: { exit: 1, meaning: 'the pod or its container was not found' },
  E_NO_POD_IP: { exit: 2, meaning: 'PGOPS_POD_IP is not set' },
  E_NO_POSTGRES: { exit: 2, meaning: 'the PostgreSQL 15 binaries were not found' },
  E_NO_POSTGRES_USER: {
    exit: 2,
    meaning: 'running as root without a "postgres" OS user to run PostgreSQL as',
  },
  E_NO_PRIMARY: { exit: 1, meaning: 'no running leader' },
  E_NO_RELEASE: { exit: 2, meaning: 'the release has no PostgreSQL in the namespace' },
  E_NO_REPOSITORY: { exit: 2, meaning: 'no pgBackRest repository is on this machine' },
  E_NO_ROOM: {
    exit: 3,
    meaning: 'the volume lacks room for the restored copy beside the live data; nothing was changed',
  },
  E_NO_SPACE: { exit: 1, meaning: 'no space left on the backup volume' },
  E_NO_SUCH_BACKUP: { exit: 2, meaning: 'there is no backup of that name or file' },
  E_NO_SUCH_DATABASE: { exit: 2, meaning: 'there is no database of that name' },
  E_NO_SUCH_INSTANCE: { exit: 2, meaning: 'there is no local instance of that name' },
  E_NO_SUCH_MEMBER: { exit: 2, meaning: 'the promotion candidate is not a member of the cluster' },
  E_NO_SUCH_REPLICA: { exit: 2, meaning: 'there is no member of that name' },
  E_NO_SUCH_SNAPSHOT: { exit: 2, meaning: 'there is no snapshot of that name' },
  E_NO_TARGET: { exit: 1, meaning: 'no running member to connect to' },
  E_OBJECTSTORE_FILE: {
    exit: 2,
    meaning: 'the object store environment file has a line that is not KEY=VALUE',
  },
  E_PATRONI_REFUSED: { exit: 3, meaning: 'Patroni refused the switchover or failover' },
  E_PATRONI_UNREACHABLE: { exit: 1, meaning: 'Patroni on this member does not answer' },
  E_PGBACKREST: { exit: 1, meaning: 'a pgBackRest command failed' },
  E_PGBACKREST_SERVER: { exit: 2, meaning: 'the pgBackRest repository server exited' },
  E_PGDATA_MOUNT_POINT: {
    exit: 2,
    meaning: 'PGDATA is itself a mount point, which a re-clone cannot replace',
  },
  E_PG_DUMP: { exit: 1, meaning: 'pg_dump failed' },
  E_PHYSICAL_BACKUP: { exit: 1, meaning: 'a physical (pgBackRest) backup failed' },
  E_PITR_OFF: { exit: 2, meaning: 'the command needs point-in-time recovery, which is off' },
  E_PLAIN_CONNECT: { exit: 2, meaning: 'a plain SQL backup switches to another database' },
  E_PLAIN_META_COMMAND: {
    exit: 3,
    meaning: 'a plain SQL backup holds a psql meta-command that would run on this machine',
  },
  E_PROMOTE: { exit: 1, relayed: true, meaning: 'the promotion in the candidate pod failed' },
  E_PROMOTE_ELSEWHERE: { exit: 2, meaning: 'with manual failover, promote runs in the candidate pod' },
  E_PROMOTE_FAILED: { exit: 1, meaning: 'the switchover or failover did not complete' },
  E_PROMOTE_REFUSED: {
    exit: 3,
    meaning: 'promoting the candidate could lose writes (it lags or does not stream); --force accepts that',
  },
  E_PROMOTE_TIMEOUT: { exit: 1, meaning: 'the new leader did not accept writes in time' },
  E_PSQL: { exit: 1, meaning: 'psql exited with an error' },
  E_QUERY: { exit: 1, meaning: 'a query in a member failed' },
  E_RECOVERY: { exit: 1, meaning: 'the restored copy stopped during WAL recovery' },
  E_REMOTE_CHECKSUM: { exit: 3, meaning: "a remote object does not match its manifest's sha256" },
  E_REMOTE_CONFIG: { exit: 2, meaning: 'a backup URL was given without object store settings' },
  E_REMOTE_MANIFEST: { exit: 3, meaning: "a remote backup's manifest is not valid" },
  E_REMOTE_NOT_FOUND: { exit: 2, meaning: 'there is no backup of that name in the object store' },
  E_REMOTE_UNSUPPORTED: { exit: 2, meaning: 'this build cannot read remote backups' },
  E_REMOTE_URL: { exit: 2, meaning: 'the backup URL is malformed or of a scheme that is not read' },
  E_REPO2_SETTINGS: {
    exit: 2,
    meaning: 'the second pgBackRest repository is on but the object store is not set',
  },
  E_REPO_HOST_SETTINGS: { exit: 2, meaning: 'the pgBackRest repository host lacks settings' },
  E_REPO_POD: {
    exit: 1,
    relayed: true,
    meaning: 'postgres-agent in the pgBackRest repository pod failed or printed no result',
  },
  E_RESTORE: { exit: 1, meaning: 'pg_restore or psql failed while restoring; the target was not changed' },
  E_RESTORED_COPY_MISSING: { exit: 1, meaning: 'the restored data directory to switch to is missing' },
  E_RESTORE_INPUT: { exit: 1, meaning: 'the backup file is damaged or truncated; nothing was changed' },
  E_RESTORE_REQUEST: {
    exit: 1,
    meaning: 'the restore request ConfigMap holds something this agent cannot read',
  },
  E_RESTORE_UNDER_WAY: {
    exit: 2,
    meaning: 'another whole-cluster restore is under way; finish or abandon it first',
  },
  E_RESTORING_EXISTS: {
    exit: 3,
    meaning: 'a database with the name a restore works in exists and is not ours',
  },
  E_ROW_COUNTS: { exit: 1, meaning: "counting rows in the dump's snapshot failed" },
  E_SAFETY_BACKUP: {
    exit: 1,
    meaning: 'the safety backup taken before a change failed, so nothing was changed',
  },
  E_SECRET_FILE: { exit: 2, meaning: 'a *_FILE setting names a file that cannot be read' },
  E_SNAPSHOT_EXISTS: { exit: 2, meaning: 'a snapshot of that name exists' },
  E_SNAPSHOT_FAILED: { exit: 1, meaning: 'the VolumeSnapshot failed' },
  E_SNAPSHOT_GONE: { exit: 1, meaning: 'the VolumeSnapshot disappeared while waiting for it' },
  E_SNAPSHOT_INVALID: { exit: 2, meaning: 'the API server rejected the VolumeSnapshot' },
  E_SNAPSHOT_NAME: { exit: 2, meaning: 'the snapshot name is not a valid Kubernetes object name' },
  E_SNAPSHOT_RETENTION: { exit: 1, meaning: 'the snapshot is ready but retention could not delete old ones' },
  E_SNAPSHOT_SHAPE: {
    exit: 1,
    meaning:
      'the API server answered with a snapshot object this postgres-ops does not read (another API version)',
  },
  E_SNAPSHOT_TIMEOUT: { exit: 1, meaning: 'the VolumeSnapshot was not ready in time' },
  E_SNAPSHOT_UNKNOWN: { exit: 2, meaning: 'there is no complete local snapshot of that name' },
  E_STATE_DIR_UNREACHABLE: { exit: 2, meaning: 'the postgres OS user cannot enter the local state folder' },
  E_STATE_UPGRADE: { exit: 2, meaning: 'the local state was written by an earlier postgres-ops' },
  E_STORE: { exit: 1, meaning: 'the object store answered with an error' },
  E_STORE_AUTH: { exit: 1, meaning: 'the object store denied access' },
  E_STORE_NOT_FOUND: { exit: 1, meaning: 'the bucket or object was not found' },
  E_STORE_UNAVAILABLE: { exit: 1, meaning: 'the object store did not answer after retries' },
  E_STORE_VERIFY: { exit: 1, meaning: 'an uploaded object does not match the local file' },
  E_SWAP: { exit: 1, meaning: 'the restored database could not be swapped in; the target was not changed' },
  E_SWITCH_USER: { exit: 1, meaning: 'could not switch to the OS user' },
  E_SYNC_CONFIG: { exit: 2, meaning: 'the object store is not configured' },
  E_SYNC_FAILED: { exit: 1, meaning: 'some backups could not be copied to the object store' },
  E_TARGET_AFTER_ARCHIVE: { exit: 3, meaning: 'the point-in-time target is after the last archived commit' },
  E_TARGET_BEFORE_WINDOW: {
    exit: 3,
    meaning: 'the point-in-time target is before the recoverability window',
  },
  E_TARGET_DIR: { exit: 2, meaning: 'the directory to restore into is not empty' },
  E_TARGET_EXISTS: { exit: 3, meaning: 'the target database exists and --replace was not given' },
  E_TARGET_IN_FUTURE: { exit: 3, meaning: 'the point-in-time target has not been written yet' },
  E_TARGET_NOT_EMPTY: { exit: 3, meaning: 'the directory to restore a snapshot into is not empty' },
  E_UNCONFIRMED: { exit: 3, meaning: 'a destructive command without --yes and without a terminal to ask on' },
  E_UNDO: { exit: 1, meaning: 'undoing the point-in-time restore could put nothing back' },
  E_UNREADABLE_FILE: { exit: 2, meaning: 'a setting names a file that cannot be read' },
  E_USAGE: {
    exit: 2,
    meaning: 'a flag or argument is missing, unknown, malformed or combined with a conflicting one',
  },
  E_VERIFY: {
    exit: 1,
    meaning: 'a backup failed verification (its table of contents, or a restore into a scratch database)',
  },
} as const satisfies Record<`E_${string}`, ErrorCodeEntry>;

export type ErrorCode = keyof typeof errorCodes;

type CodesExiting<X extends ExitCode> = {
  [C in ErrorCode]: (typeof errorCodes)[C]['exit'] extends X ? C : never;
}[ErrorCode];
/** Codes of `OperationFailed` (exit 1). */
export type FailureCode = CodesExiting<1>;
/** Codes of `UsageError` (exit 2). */
export type UsageCode = CodesExiting<2>;
/** Codes of `SafetyRefusal` (exit 3). */
export type RefusalCode = CodesExiting<3>;

/**
 * A code relayed from a postgres-agent run elsewhere. An agent of another version may report a
 * code this build does not register; it is passed on as it came, so scripts see the agent's code.
 */
export type RelayedCode = string & { readonly relayedFromAgent: true };

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code);
}

/** The code an agent reported, kept as it came (registered or not), or `fallback` when it gave none. */
export function relayedCode(code: string | undefined, fallback: ErrorCode): ErrorCode | RelayedCode {
  if (code === undefined) return fallback;
  return isErrorCode(code) ? code : (code as RelayedCode);
}
