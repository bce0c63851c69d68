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

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected a number >= ${min}` })
    .max(max, { error: `expected a number <= ${max}` });

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const name63 = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'expected a lowercase DNS label (a-z, 0-9, -)' })
  .max(63);

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
  PGOPS_LOG_FORMAT: z
    .enum(['json', 'text'])
    .default('json')
    .describe('Agent log format: JSON lines or plain text.'),
  PGOPS_PROGRESS: z
    .string()
    .regex(PROGRESS_SETTING_RE, { error: 'expected auto, tty, log or off, optionally :SECONDS (log:60)' })
    .default('auto')
    .describe(
      'Progress of backup, restore and snapshot waits: tty (one rewritten line), log (a log line each interval), off, or auto (tty when stderr is a terminal and logs are text). An optional :SECONDS sets the interval (default 0.25 on a terminal, 5 in logs).',
    ),

  // --- instance: the PostgreSQL server this container supervises
  PGOPS_ROLE: z
    .enum(['primary', 'replica'])
    .default('primary')
    .describe('What this instance is when its data directory is empty.'),
  PGOPS_PORT: int(1, 65535).default(5432).describe('Port PostgreSQL listens on.'),
  PGOPS_LISTEN_ADDRESSES: z.string().default('*').describe('listen_addresses for PostgreSQL.'),
  PGOPS_SOCKET_DIR: z.string().default('/var/run/postgresql').describe('Directory for the Unix socket.'),
  PGOPS_HEALTH_PORT: int(0, 65535)
    .default(8008)
    .describe("Port of the agent's health and metrics HTTP endpoint (0 disables it)."),
  PGOPS_CONFIG_FILE: z
    .string()
    .optional()
    .describe(
      "postgresql.conf fragment mounted from the chart's ConfigMap, included by the generated configuration.",
    ),
  PGOPS_HBA_FILE: z
    .string()
    .optional()
    .describe('Extra pg_hba.conf lines (scram-sha-256 only) mounted from a ConfigMap.'),
  PGOPS_PRIMARY_HOST: z
    .string()
    .optional()
    .describe('Host of the primary a replica clones from and streams from.'),
  PGOPS_PRIMARY_PORT: int(1, 65535).default(5432).describe('Port of the primary.'),
  PGOPS_PEERS: z
    .string()
    .default('')
    .describe(
      'Comma-separated host:port of the other members; an instance that finds a primary on a newer timeline among them never starts as a second primary (fencing).',
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

  // --- jobs that connect to the primary (backup, verify, restore, migrate, snapshot)
  PGOPS_HOST: z
    .string()
    .default('127.0.0.1')
    .describe('Host the job connects to (the primary Service in a cluster).'),

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

/** Names outside our prefix that the agent and its tools also read (cloud SDKs, libpq). */
export const passthroughEnv = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_ACCOUNT',
  'AZURE_STORAGE_KEY',
  'TZ',
  'HOME',
  'PATH',
  'NODE_OPTIONS',
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
