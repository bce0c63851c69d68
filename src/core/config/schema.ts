/**
 * The contract between the Helm chart and postgres-agent: every environment variable the chart may
 * set on a container that runs the agent. One schema, a description and default on each key; the
 * chart test feeds every rendered container's env through `parseAgentEnv`, so the two cannot drift.
 *
 * Secrets arrive as files (`*_FILE`, mounted from a Secret) or, for local runs, as plain env vars.
 * They are read by the runtime, never logged, never put into meta of errors.
 */
import { z } from 'zod';
import { PROGRESS_SETTING_RE } from '../progress.js';

// An empty value is refused, not read as 0: PGOPS_HEALTH_PORT="" must not turn the probes off.
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/\S/, { error: 'is empty; expected a whole number (unset it to get the default)' })
    .pipe(
      z.coerce
        .number<string>({ error: 'expected a whole number' })
        .int({ error: 'expected a whole number' })
        .min(min, { error: `expected a number >= ${min}` })
        .max(max, { error: `expected a number <= ${max}` }),
    );

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const name63 = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'expected a lowercase DNS label (a-z, 0-9, -)' })
  .max(63);

/** A Kubernetes label key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
const labelKey = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    error: 'expected a label key (prefix/name)',
  });

const pgIdent = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
  error: 'expected a PostgreSQL name (letters, digits, _; max 63)',
});

/** Every key, grouped by the command that reads it. Keys not listed here are rejected. */
export const agentEnvShape = {
  // --- where PostgreSQL lives (every command)
  PGDATA: z
    .string()
    .min(1)
    .default('/var/lib/postgresql/data/pgdata')
    .describe('Data directory of the instance.'),
  PGOPS_PG_BIN_DIR: z
    .string()
    .optional()
    .describe(
      'Directory of PostgreSQL server binaries; found from PATH or /usr/lib/postgresql/<major>/bin when unset.',
    ),
  PGOPS_RELEASE: name63
    .default('pyairtable-stack')
    .describe('Helm release name; used in messages and object names.'),
  PGOPS_NAMESPACE: z.string().default('default').describe('Kubernetes namespace of the release.'),
  PGOPS_POD_NAME: z
    .string()
    .default('postgres-0')
    .describe("This pod's name (fieldRef metadata.name); a replica names its replication slot after it."),
  PGOPS_RUN_AS_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, { error: 'expected an OS user name' })
    .optional()
    .describe(
      'Started as root (local mode): switch to this OS user once the program is loaded, before touching any data (PostgreSQL refuses root). Pods run as a non-root user already and leave it unset.',
    ),
  PGOPS_MODE: z
    .enum(['kubernetes', 'local'])
    .default('kubernetes')
    .describe(
      "Where the agent runs: in the chart's pods (kubernetes) or for postgres-ops local mode (local). Only hints depend on it: they name the chart value or Secret, or the local environment and state folder.",
    ),
  PGOPS_LOG_FORMAT: z
    .enum(['json', 'text'])
    .default('json')
    .describe('Agent log format: JSON lines or plain text.'),
  PGOPS_DEBUG: bool
    .default(false)
    .describe(
      'Debug log lines and, on an error, its stack trace (what --debug does). postgres-ops --debug passes it to the agents it runs.',
    ),
  PGOPS_PROGRESS: z
    .string()
    .regex(PROGRESS_SETTING_RE, { error: 'expected auto, tty, log or off, optionally :SECONDS (log:60)' })
    .default('auto')
    .describe(
      'Progress of backup, restore and snapshot waits: tty (one rewritten line), log (a log line each interval), off, or auto (tty when stderr is a terminal and logs are text). An optional :SECONDS sets the interval (default 0.25 on a terminal, 5 in logs).',
    ),

  PGOPS_OPERATION_TOKEN: z
    .string()
    .optional()
    .describe(
      'Set by a running backup, restore, migration or promotion for the agent commands it starts itself (a migration runs its safety backup as postgres-agent backup), which then run within it instead of being refused as a second operation. Never set by hand.',
    ),

  // --- instance: the PostgreSQL server this container supervises
  PGOPS_PORT: int(1, 65535).default(5432).describe('Port PostgreSQL listens on.'),
  PGOPS_LISTEN_ADDRESSES: z
    .string()
    .default('*')
    .describe("listen_addresses for PostgreSQL; Patroni's REST API listens on the same address."),
  PGOPS_CONNECT_HOST: z
    .string()
    .optional()
    .describe(
      "Address other members and the leader record use to reach this member (default: PGOPS_POD_IP, else the pod's host name).",
    ),
  PGOPS_POD_IP: z.string().optional().describe("This pod's IP (fieldRef status.podIP)."),
  PGOPS_SOCKET_DIR: z
    .string()
    .default('/var/run/postgresql')
    .describe('Private runtime directory: the Unix socket, Patroni configuration and passfiles (0700).'),
  PGOPS_HEALTH_PORT: int(0, 65535)
    .default(8009)
    .describe("Port of the agent's health endpoint (0 disables it)."),
  PGOPS_HEALTH_ADDRESS: z
    .string()
    .regex(/^(\*|[0-9A-Za-z.:_-]+)$/, { error: 'expected * or an IP address or host name' })
    .default('*')
    .describe(
      'Address the health endpoint listens on: * (every interface, as in pods, where the kubelet probes the pod IP) or one address such as 127.0.0.1 (local mode: the endpoint answers with role, LSN and disk usage, so it stays on this machine).',
    ),
  PGOPS_CONFIG_FILE: z
    .string()
    .optional()
    .describe(
      "postgresql.conf fragment (name = value lines) mounted from the chart's ConfigMap; cluster-wide settings such as max_connections go to Patroni's dynamic configuration, the rest to the member's.",
    ),
  PGOPS_HBA_FILE: z
    .string()
    .optional()
    .describe('Extra pg_hba.conf lines (scram-sha-256 only) mounted from a ConfigMap.'),

  // --- high availability (Patroni)
  PGOPS_PATRONI_BIN: z.string().default('patroni').describe('The Patroni program (PATH is searched).'),
  PGOPS_SCOPE: z
    .string()
    .optional()
    .describe(
      'Patroni scope (cluster name); on Kubernetes also the name of the leader Endpoints and read-write Service. Default: <release>-postgres.',
    ),
  PGOPS_DCS: z
    .enum(['kubernetes', 'etcd3'])
    .default('kubernetes')
    .describe('Where Patroni keeps the leader record: the Kubernetes API or etcd (PGOPS_ETCD_HOSTS).'),
  PGOPS_ETCD_HOSTS: z
    .string()
    .default('')
    .describe('etcd client endpoints host:port, comma-separated (PGOPS_DCS=etcd3).'),
  PGOPS_K8S_LABELS: z
    .string()
    .default('')
    .describe(
      'Labels of the member pods, k=v comma-separated (PGOPS_DCS=kubernetes): how Patroni finds its members.',
    ),
  PGOPS_K8S_ROLE_LABEL: labelKey
    .default('role')
    .describe(
      "Pod label Patroni sets to its member's role (PGOPS_DCS=kubernetes): master on the leader, replica on running replicas, none while PostgreSQL is down. Services select replicas by it.",
    ),
  PGOPS_K8S_SCOPE_LABEL: labelKey
    .default('cluster-name')
    .describe(
      'Label holding the scope on the member pods and on the Endpoints Patroni writes (PGOPS_DCS=kubernetes); Patroni selects its members by it and PGOPS_K8S_LABELS.',
    ),
  PGOPS_RESTAPI_PORT: int(1, 65535).default(8008).describe("Port of Patroni's REST API."),
  PGOPS_RESTAPI_USER: z.string().default('patroni').describe("User of Patroni's REST API (changes need it)."),
  PGOPS_RESTAPI_PASSWORD: z.string().optional().describe('REST API password (local runs).'),
  PGOPS_RESTAPI_PASSWORD_FILE: z.string().optional().describe('File holding the REST API password.'),
  PGOPS_FAILOVER: z
    .enum(['automatic', 'manual'])
    .default('automatic')
    .describe(
      'automatic: Patroni promotes a healthy replica when the primary is gone; manual: nothing is promoted without postgres-ops promote.',
    ),
  PGOPS_SYNCHRONOUS: bool
    .default(false)
    .describe(
      'Synchronous replication: a commit is acknowledged once a replica has it, so a failover loses none.',
    ),
  PGOPS_FAILSAFE: bool
    .default(true)
    .describe(
      'Keep the primary writable while the leader store (Kubernetes API, etcd) is unreachable but every member answers.',
    ),
  PGOPS_HA_FILE: z
    .string()
    .optional()
    .describe(
      'JSON file with {"failover", "synchronous", "failsafe"} overriding the settings above, re-read while running: changing them never restarts a member.',
    ),
  PGOPS_HA_TTL: int(10, 3600)
    .default(30)
    .describe('Leader lease in seconds: how long a silent primary keeps the lead.'),
  PGOPS_HA_LOOP_WAIT: int(1, 300).default(10).describe("Seconds between Patroni's checks."),
  PGOPS_HA_RETRY_TIMEOUT: int(1, 300)
    .default(10)
    .describe('Seconds Patroni retries the store and PostgreSQL before acting on a failure.'),
  PGOPS_MAX_LAG_ON_FAILOVER: int(0)
    .default(1024 * 1024)
    .describe(
      'A replica further behind than this many bytes is never promoted automatically, and postgres-ops promote refuses it without --force.',
    ),
  PGOPS_MAX_LAG_BYTES: int(0)
    .default(16 * 1024 * 1024)
    .describe('A replica reports not-ready when it is further behind than this many bytes of WAL.'),
  PGOPS_SHUTDOWN_TIMEOUT_SECONDS: int(1)
    .default(60)
    .describe(
      'After SIGTERM, how long a fast shutdown may take before the agent escalates to an immediate one.',
    ),
  PGOPS_DATA_PVC: z.string().optional().describe('Name of the data PVC, quoted in the full-disk message.'),
  PGOPS_MAX_SLOT_WAL_KEEP_SIZE: z
    .string()
    .default('')
    .describe('max_slot_wal_keep_size; empty lets the agent size it from the data volume.'),
  PGOPS_TLS_DIR: z.string().optional().describe('Directory with tls.crt and tls.key; enables ssl when set.'),

  // --- point-in-time recovery: continuous WAL archive and physical backups (pgBackRest)
  PGOPS_PITR: bool
    .default(false)
    .describe(
      'Continuous WAL archive and physical backups with pgBackRest. Off: archive_command is `true` (archive_mode stays on, so turning it on needs no restart).',
    ),
  PGOPS_PGBACKREST_STANZA: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { error: 'expected letters, digits, _ . -' })
    .default('db')
    .describe("pgBackRest's stanza: the name of this cluster in the repositories."),
  PGOPS_ARCHIVE_TIMEOUT_SECONDS: int(0, 86400)
    .default(60)
    .describe(
      'archive_timeout: a quiet primary still switches to a new WAL segment, and so archives its last commits, at least this often (it bounds the recovery point).',
    ),
  PGOPS_PGBACKREST_REPO1_PATH: z
    .string()
    .default('')
    .describe(
      'Where repo1 lives when it is on this machine (local mode: <state>/pgbackrest; the repository pod: its volume). Empty on members that reach it over TLS.',
    ),
  PGOPS_PGBACKREST_REPO1_HOST: z
    .string()
    .default('')
    .describe(
      "Host name of the repository pod's pgBackRest TLS server, when repo1 is not on this machine (members on Kubernetes).",
    ),
  PGOPS_PGBACKREST_TLS_PORT: int(1, 65535)
    .default(8432)
    .describe("Port of pgBackRest's TLS servers (the repository pod's and every member's)."),
  PGOPS_PGBACKREST_TLS_DIR: z
    .string()
    .optional()
    .describe(
      "Directory with ca.crt, tls.crt and tls.key for pgBackRest's TLS server and client (Kubernetes). Unset: no TLS server runs.",
    ),
  PGOPS_PGBACKREST_TLS_CLIENT_CN: z
    .string()
    .default('pgbackrest-client')
    .describe("Common name of the client certificate pgBackRest's TLS servers admit (tls-server-auth)."),
  PGOPS_PGBACKREST_PG_HOSTS: z
    .string()
    .default('')
    .describe(
      "Members' host names, comma-separated, for the repository pod: pgBackRest backs up whichever of them is the primary.",
    ),
  PGOPS_PGBACKREST_RETENTION_FULL: int(1, 1000)
    .default(2)
    .describe(
      'Full physical backups kept in each repository, with every WAL segment they need (the recoverability window starts at the oldest).',
    ),
  PGOPS_PGBACKREST_PROCESS_MAX: int(1, 64)
    .default(2)
    .describe(
      'Parallel processes of archive-push and archive-get, physical backups and restores (copy and compression).',
    ),
  PGOPS_PGBACKREST_SPOOL_PATH: z
    .string()
    .optional()
    .describe(
      'Spool of the asynchronous archive, on the data volume next to PGDATA (default: <PGDATA>.pgbackrest-spool; never inside PGDATA, which a re-clone removes).',
    ),
  PGOPS_PGBACKREST_REPO2: bool
    .default(false)
    .describe(
      'A second repository (repo2) on the object store of the cross-region settings (PGOPS_SYNC_PROVIDER, PGOPS_SYNC_BUCKET, PGOPS_SYNC_ENDPOINT, PGOPS_SYNC_REGION, credentials), under <PGOPS_SYNC_PREFIX>pgbackrest.',
    ),
  PGOPS_PGBACKREST_REPO2_VERIFY_TLS: bool
    .default(true)
    .describe("Verify repo2's TLS certificate (turn off only for a test store with a self-signed one)."),
  PGOPS_PGBACKREST_REPO_POD: z
    .string()
    .default('')
    .describe(
      "The repository pod's name, where the scheduled physical backups and drills run (Kubernetes CronJobs exec into it).",
    ),
  PGOPS_DRILL_DIR: z
    .string()
    .default('')
    .describe(
      'Scratch folder where a recovery drill restores (default: a temporary folder); removed afterwards.',
    ),

  // --- roles and database (from the chart's Secret)
  PGOPS_SUPERUSER: pgIdent.default('postgres').describe('Name of the superuser role.'),
  PGOPS_SUPERUSER_PASSWORD: z
    .string()
    .optional()
    .describe('Superuser password (local runs; in pods use the _FILE form).'),
  PGOPS_SUPERUSER_PASSWORD_FILE: z.string().optional().describe('File holding the superuser password.'),
  PGOPS_REPLICATION_USER: pgIdent.default('replicator').describe('Role replicas connect as.'),
  PGOPS_REPLICATION_PASSWORD: z.string().optional().describe('Replication password (local runs).'),
  PGOPS_REPLICATION_PASSWORD_FILE: z.string().optional().describe('File holding the replication password.'),
  PGOPS_APP_USER: pgIdent
    .default('pyairtable')
    .describe('Application role, owner of the application database.'),
  PGOPS_APP_PASSWORD: z.string().optional().describe('Application password (local runs).'),
  PGOPS_APP_PASSWORD_FILE: z.string().optional().describe('File holding the application password.'),
  PGOPS_APP_DATABASE: pgIdent.default('pyairtable').describe('Application database created on first start.'),
  PGOPS_MONITOR_USER: pgIdent
    .default('pgops_monitor')
    .describe(
      'Role the metrics exporter connects as: a member of pg_monitor that may read pgops.backup_history, nothing else. Created and kept in step by the primary when its password is set.',
    ),
  PGOPS_MONITOR_PASSWORD: z.string().optional().describe('Monitoring role password (local runs).'),
  PGOPS_MONITOR_PASSWORD_FILE: z.string().optional().describe('File holding the monitoring role password.'),

  // --- jobs that connect to the primary (backup, verify, restore, migrate, snapshot)
  PGOPS_HOST: z
    .string()
    .default('127.0.0.1')
    .describe('Host the job connects to (the primary Service in a cluster).'),
  PGOPS_SSLMODE: z
    .enum(['disable', 'prefer', 'require'])
    .default('prefer')
    .describe(
      'TLS of the connections jobs make to PGOPS_HOST: require when the server enforces TLS (hostssl), prefer (libpq tools try TLS, the driver does not), or disable.',
    ),

  // --- backup, verify, prune, restore
  PGOPS_BACKUP_DIR: z
    .string()
    .default('/backups/postgres')
    .describe('Where backups and their manifests live.'),
  PGOPS_BACKUP_DATABASES: z
    .string()
    .default('')
    .describe('Comma-separated databases to back up; empty means the application database.'),
  PGOPS_BACKUP_COMPRESSION: int(0, 9).default(6).describe('pg_dump compression level (0-9).'),
  PGOPS_BACKUP_JOBS: int(1, 64)
    .default(1)
    .describe(
      'Parallel pg_dump jobs. 1 writes one custom-format archive; more dump tables in parallel (directory format, packed into the same one file NAME.dump). Each job is one more connection and about one more core.',
    ),
  PGOPS_BACKUP_RETENTION_DAYS: int(1)
    .default(7)
    .describe('Days to keep backups; the newest verified one is always kept.'),
  PGOPS_BACKUP_DEEP_VERIFY: bool
    .default(false)
    .describe('Also restore each new backup into a scratch database and compare row counts.'),
  PGOPS_RESTORE_FILE: z.string().optional().describe('Backup file or URL the restore Job restores.'),
  PGOPS_RESTORE_TARGET_DATABASE: z
    .string()
    .optional()
    .describe('Database to restore into; defaults to the one in the backup.'),
  PGOPS_RESTORE_SAFETY_BACKUP: bool
    .default(true)
    .describe('Take a backup of the database before replacing it.'),
  PGOPS_RESTORE_JOBS: int(1, 64).default(2).describe('Parallel jobs for pg_restore.'),
  PGOPS_RESTORE_KEEP_PREVIOUS: bool
    .default(false)
    .describe('Keep a replaced database as <db>__before_restore_<timestamp> instead of dropping it.'),

  // --- snapshots
  PGOPS_SNAPSHOT_CLASS: z.string().optional().describe('VolumeSnapshotClass for new snapshots.'),
  PGOPS_SNAPSHOT_PVC: z.string().optional().describe("PVC to snapshot (the primary's data PVC)."),
  PGOPS_SNAPSHOT_RETENTION_COUNT: int(1).default(7).describe('How many of our snapshots to keep.'),
  PGOPS_SNAPSHOT_TIMEOUT_SECONDS: int(1).default(600).describe('How long to wait for readyToUse.'),

  // --- cross-region sync
  PGOPS_SYNC_PROVIDER: z.enum(['gcs', 's3', 'azure']).optional().describe('Object store provider.'),
  PGOPS_SYNC_BUCKET: z.string().optional().describe('Bucket (GCS, S3) or container (Azure).'),
  PGOPS_SYNC_PREFIX: z.string().default('postgres/').describe('Object name prefix under the bucket.'),
  PGOPS_SYNC_ENDPOINT: z.string().optional().describe('Custom endpoint (S3-compatible stores, emulators).'),
  PGOPS_SYNC_REGION: z.string().optional().describe('Region (S3).'),
  PGOPS_SYNC_RETENTION_DAYS: int(0)
    .default(0)
    .describe('Delete our remote copies older than this; 0 keeps everything.'),

  // --- migrations
  PGOPS_MIGRATION_VERSION: z.string().optional().describe('Migration version to apply.'),
  PGOPS_MIGRATION_DESCRIPTION: z
    .string()
    .default('')
    .describe('Human description recorded in the history table.'),
  PGOPS_MIGRATION_DIR: z.string().default('/migrations').describe('Directory holding <version>/*.sql files.'),
  PGOPS_MIGRATION_SAFETY_BACKUP: bool.default(true).describe('Take a backup before applying a migration.'),
  PGOPS_MIGRATION_WAIT_SECONDS: int(0)
    .default(300)
    .describe(
      'How long migrate waits for the primary to accept connections (a fresh install starts it at the same time).',
    ),
} satisfies Record<string, z.ZodType>;

export const agentEnvSchema = z.object(agentEnvShape);
export type AgentEnv = z.infer<typeof agentEnvSchema>;
export type AgentEnvKey = keyof typeof agentEnvShape;

/** Env var names the agent recognises; other PGOPS_* names are mistakes. */
export const agentEnvKeys = Object.keys(agentEnvShape) as AgentEnvKey[];

/** Names outside our prefix that the agent and its tools also read (cloud SDKs, libpq). The object
 * store SDKs' own variables come first: local mode passes exactly these from the operator's
 * environment to a restore. */
export const objectStoreEnv = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'GOOGLE_CLOUD_PROJECT',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_ACCOUNT',
  'AZURE_STORAGE_KEY',
];

export interface ConfigIssue {
  key: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/**
 * Parses the agent's environment: every problem at once (`PGOPS_BACKUP_RETENTION_DAYS: expected a
 * number >= 1`). Unknown PGOPS_* names are errors: a typo must not silently fall back to a default.
 * Values are never echoed, since some are secrets.
 */
export function parseAgentEnv(env: Record<string, string | undefined>): ParseResult<AgentEnv> {
  const picked: Record<string, string> = {};
  const issues: ConfigIssue[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key in agentEnvShape) picked[key] = value;
    else if (key.startsWith('PGOPS_')) issues.push({ key, message: 'unknown setting (check the spelling)' });
  }
  const result = agentEnvSchema.safeParse(picked);
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push({ key: issue.path.join('.') || '(env)', message: issue.message });
    }
  }
  if (issues.length > 0 || !result.success) return { ok: false, issues };
  return { ok: true, value: result.data };
}

/** One line per issue, for an error message. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `${i.key}: ${i.message}`).join('\n');
}

/** Descriptions and defaults of every key, for docs and the generated JSON Schema. */
export function describeAgentEnv(): { key: string; description: string }[] {
  return agentEnvKeys.map((key) => ({ key, description: agentEnvShape[key].description ?? '' }));
}
