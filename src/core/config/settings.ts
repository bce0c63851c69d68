/**
 * Every setting of postgres-agent, once: its environment variable (the transport between the chart,
 * local mode and the agent), its place in the nested configuration the code reads
 * (`config.backup.retentionDays`), the chart value it comes from, its type and default, and its
 * meaning. schema.ts derives the parser, the nested type, the JSON Schema and the docs from this.
 *
 * `values` names the chart value the variable is copied from (types must agree:
 * test/chart/settings-schema.test.ts); with `derived` the chart computes the variable from that value
 * (a list joined, a Secret key mounted as a file) and only the docs use it. Settings without `values`
 * are pod facts (PGOPS_POD_NAME), chart-internal wiring (PGOPS_SOCKET_DIR) or local-mode settings.
 *
 * Secrets arrive as files (`*_FILE`, mounted from a Secret) or, for local runs, as plain env vars.
 * They are read by the runtime, never logged, never put into meta of errors.
 */
import { z } from 'zod';
import { PROGRESS_SETTING_RE } from '../progress.js';

/** One row of the table. */
export interface Setting<E extends string = string, S extends z.ZodType = z.ZodType> {
  env: E;
  schema: S;
  /** Path in the chart's values.yaml. */
  values?: string;
  /** The chart computes the variable from `values` rather than copying it. */
  derived?: true;
}

const setting = <const E extends string, S extends z.ZodType>(s: Setting<E, S>): Setting<E, S> => s;

// An empty value is refused, not read as 0: PGOPS_HEALTH_PORT="" must not turn the probes off.
// No maximum unless given, so the JSON Schema says what the chart's says.
const int = (min: number, max?: number) => {
  const n = z.coerce
    .number<string>({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected a number >= ${min}` });
  return z
    .string()
    .regex(/\S/, { error: 'is empty; expected a whole number (unset it to get the default)' })
    .pipe(max === undefined ? n : n.max(max, { error: `expected a number <= ${max}` }));
};

// A codec rather than a transform, so the JSON Schema of the parsed settings says boolean.
const bool = z.codec(
  z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' }),
  z.boolean(),
  { decode: (v) => v === 'true' || v === '1' || v === 'yes', encode: (b) => (b ? 'true' : 'false') },
);

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

/** max_slot_wal_keep_size as PostgreSQL takes it: -1 (no bound) or a whole number with an optional unit;
 * empty lets the agent size it from the volume. The chart's values.schema.json has the same. */
const WAL_SIZE_PATTERN = /^$|^-1$|^[0-9]+(kB|MB|GB|TB)?$/;

const pgIdent = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
  error: 'expected a PostgreSQL name (letters, digits, _; max 63)',
});

/** Every setting, grouped as the chart's values are. Env names not listed here are rejected. */
export const agentSettings = {
  // --- who and where the agent is, how it logs (every command)
  agent: {
    release: setting({
      env: 'PGOPS_RELEASE',
      schema: name63
        .default('pyairtable-stack')
        .describe('Helm release name; used in messages and object names.'),
    }),
    namespace: setting({
      env: 'PGOPS_NAMESPACE',
      schema: z.string().default('default').describe('Kubernetes namespace of the release.'),
    }),
    podName: setting({
      env: 'PGOPS_POD_NAME',
      schema: z
        .string()
        .default('postgres-0')
        .describe("This pod's name (fieldRef metadata.name); a replica names its replication slot after it."),
    }),
    runAsUser: setting({
      env: 'PGOPS_RUN_AS_USER',
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]*$/, { error: 'expected an OS user name' })
        .optional()
        .describe(
          'Started as root (local mode): switch to this OS user once the program is loaded, before touching any data (PostgreSQL refuses root). Pods run as a non-root user already and leave it unset.',
        ),
    }),
    mode: setting({
      env: 'PGOPS_MODE',
      schema: z
        .enum(['kubernetes', 'local'])
        .default('kubernetes')
        .describe(
          "Where the agent runs: in the chart's pods (kubernetes) or for postgres-ops local mode (local). Only hints depend on it: they name the chart value or Secret, or the local environment and state folder.",
        ),
    }),
    logFormat: setting({
      env: 'PGOPS_LOG_FORMAT',
      values: 'databases.postgres.logFormat',
      schema: z
        .enum(['json', 'text'])
        .default('json')
        .describe('Agent log format: JSON lines or plain text.'),
    }),
    debug: setting({
      env: 'PGOPS_DEBUG',
      schema: bool
        .default(false)
        .describe(
          'Debug log lines and, on an error, its stack trace (what --debug does). postgres-ops --debug passes it to the agents it runs.',
        ),
    }),
    progress: setting({
      env: 'PGOPS_PROGRESS',
      schema: z
        .string()
        .regex(PROGRESS_SETTING_RE, { error: 'expected auto, tty, log or off, optionally :SECONDS (log:60)' })
        .default('auto')
        .describe(
          'Progress of backup, restore and snapshot waits: tty (one rewritten line), log (a log line each interval), off, or auto (tty when stderr is a terminal and logs are text). An optional :SECONDS sets the interval (default 0.25 on a terminal, 5 in logs).',
        ),
    }),
    operationToken: setting({
      env: 'PGOPS_OPERATION_TOKEN',
      schema: z
        .string()
        .optional()
        .describe(
          'Set by a running backup, restore, migration or promotion for the agent commands it starts itself (a migration runs its safety backup as postgres-agent backup), which then run within it instead of being refused as a second operation. Never set by hand.',
        ),
    }),
    podIp: setting({
      env: 'PGOPS_POD_IP',
      schema: z.string().optional().describe("This pod's IP (fieldRef status.podIP)."),
    }),
  },
  // --- the PostgreSQL server a member container supervises
  instance: {
    dataDir: setting({
      env: 'PGDATA',
      schema: z
        .string()
        .min(1)
        .default('/var/lib/postgresql/data/pgdata')
        .describe('Data directory of the instance.'),
    }),
    binDir: setting({
      env: 'PGOPS_PG_BIN_DIR',
      schema: z
        .string()
        .optional()
        .describe(
          'Directory of PostgreSQL server binaries; found from PATH or /usr/lib/postgresql/<major>/bin when unset.',
        ),
    }),
    port: setting({
      env: 'PGOPS_PORT',
      schema: int(1, 65535).default(5432).describe('Port PostgreSQL listens on.'),
    }),
    listenAddresses: setting({
      env: 'PGOPS_LISTEN_ADDRESSES',
      schema: z
        .string()
        .default('*')
        .describe("listen_addresses for PostgreSQL; Patroni's REST API listens on the same address."),
    }),
    connectHost: setting({
      env: 'PGOPS_CONNECT_HOST',
      schema: z
        .string()
        .optional()
        .describe(
          "Address other members and the leader record use to reach this member (default: PGOPS_POD_IP, else the pod's host name).",
        ),
    }),
    socketDir: setting({
      env: 'PGOPS_SOCKET_DIR',
      schema: z
        .string()
        .default('/var/run/postgresql')
        .describe('Private runtime directory: the Unix socket, Patroni configuration and passfiles (0700).'),
    }),
    healthPort: setting({
      env: 'PGOPS_HEALTH_PORT',
      schema: int(0, 65535).default(8009).describe("Port of the agent's health endpoint (0 disables it)."),
    }),
    healthAddress: setting({
      env: 'PGOPS_HEALTH_ADDRESS',
      schema: z
        .string()
        .regex(/^(\*|[0-9A-Za-z.:_-]+)$/, { error: 'expected * or an IP address or host name' })
        .default('*')
        .describe(
          'Address the health endpoint listens on: * (every interface, as in pods, where the kubelet probes the pod IP) or one address such as 127.0.0.1 (local mode: the endpoint answers with role, LSN and disk usage, so it stays on this machine).',
        ),
    }),
    dataPvc: setting({
      env: 'PGOPS_DATA_PVC',
      schema: z.string().optional().describe('Name of the data PVC, quoted in the full-disk message.'),
    }),
  },
  // --- PostgreSQL settings of the members (databases.postgres.postgresql, tls)
  postgresql: {
    configFile: setting({
      env: 'PGOPS_CONFIG_FILE',
      values: 'databases.postgres.postgresql.parameters',
      derived: true,
      schema: z
        .string()
        .optional()
        .describe(
          "postgresql.conf fragment (name = value lines) mounted from the chart's ConfigMap; cluster-wide settings such as max_connections go to Patroni's dynamic configuration, the rest to the member's.",
        ),
    }),
    hbaFile: setting({
      env: 'PGOPS_HBA_FILE',
      values: 'databases.postgres.postgresql.extraHba',
      derived: true,
      schema: z
        .string()
        .optional()
        .describe('Extra pg_hba.conf lines (scram-sha-256 only) mounted from a ConfigMap.'),
    }),
    shutdownTimeoutSeconds: setting({
      env: 'PGOPS_SHUTDOWN_TIMEOUT_SECONDS',
      values: 'databases.postgres.postgresql.shutdownTimeoutSeconds',
      schema: int(1, 3600)
        .default(60)
        .describe(
          'After SIGTERM, how long a fast shutdown may take before the agent escalates to an immediate one.',
        ),
    }),
    maxSlotWalKeepSize: setting({
      env: 'PGOPS_MAX_SLOT_WAL_KEEP_SIZE',
      values: 'databases.postgres.postgresql.maxSlotWalKeepSize',
      schema: z
        .string()
        .regex(WAL_SIZE_PATTERN, {
          error: 'expected a size such as 2GB (kB, MB, GB, TB; no unit means MB), -1 for no bound, or empty',
        })
        .default('')
        .describe('max_slot_wal_keep_size; empty lets the agent size it from the data volume.'),
    }),
    tlsDir: setting({
      env: 'PGOPS_TLS_DIR',
      values: 'databases.postgres.tls.enabled',
      derived: true,
      schema: z.string().optional().describe('Directory with tls.crt and tls.key; enables ssl when set.'),
    }),
  },
  // --- high availability (Patroni); databases.postgres.replication
  ha: {
    patroniBin: setting({
      env: 'PGOPS_PATRONI_BIN',
      schema: z.string().default('patroni').describe('The Patroni program (PATH is searched).'),
    }),
    scope: setting({
      env: 'PGOPS_SCOPE',
      schema: z
        .string()
        .optional()
        .describe(
          'Patroni scope (cluster name); on Kubernetes also the name of the leader Endpoints and read-write Service. Default: <release>-postgres.',
        ),
    }),
    dcs: setting({
      env: 'PGOPS_DCS',
      schema: z
        .enum(['kubernetes', 'etcd3'])
        .default('kubernetes')
        .describe('Where Patroni keeps the leader record: the Kubernetes API or etcd (PGOPS_ETCD_HOSTS).'),
    }),
    etcdHosts: setting({
      env: 'PGOPS_ETCD_HOSTS',
      schema: z
        .string()
        .default('')
        .describe('etcd client endpoints host:port, comma-separated (PGOPS_DCS=etcd3).'),
    }),
    kubernetesLabels: setting({
      env: 'PGOPS_K8S_LABELS',
      schema: z
        .string()
        .default('')
        .describe(
          'Labels of the member pods, k=v comma-separated (PGOPS_DCS=kubernetes): how Patroni finds its members.',
        ),
    }),
    roleLabel: setting({
      env: 'PGOPS_K8S_ROLE_LABEL',
      schema: labelKey
        .default('role')
        .describe(
          "Pod label Patroni sets to its member's role (PGOPS_DCS=kubernetes): master on the leader, replica on running replicas, none while PostgreSQL is down. Services select replicas by it.",
        ),
    }),
    scopeLabel: setting({
      env: 'PGOPS_K8S_SCOPE_LABEL',
      schema: labelKey
        .default('cluster-name')
        .describe(
          'Label holding the scope on the member pods and on the Endpoints Patroni writes (PGOPS_DCS=kubernetes); Patroni selects its members by it and PGOPS_K8S_LABELS.',
        ),
    }),
    restApiPort: setting({
      env: 'PGOPS_RESTAPI_PORT',
      schema: int(1, 65535).default(8008).describe("Port of Patroni's REST API."),
    }),
    restApiUser: setting({
      env: 'PGOPS_RESTAPI_USER',
      schema: z.string().default('patroni').describe("User of Patroni's REST API (changes need it)."),
    }),
    restApiPassword: setting({
      env: 'PGOPS_RESTAPI_PASSWORD',
      schema: z.string().optional().describe('REST API password (local runs).'),
    }),
    restApiPasswordFile: setting({
      env: 'PGOPS_RESTAPI_PASSWORD_FILE',
      values: 'databases.postgres.auth.restapiPasswordKey',
      derived: true,
      schema: z.string().optional().describe('File holding the REST API password.'),
    }),
    failover: setting({
      env: 'PGOPS_FAILOVER',
      values: 'databases.postgres.replication.failover',
      schema: z
        .enum(['automatic', 'manual'])
        .default('automatic')
        .describe(
          'automatic: Patroni promotes a healthy replica when the primary is gone; manual: nothing is promoted without postgres-ops promote.',
        ),
    }),
    synchronous: setting({
      env: 'PGOPS_SYNCHRONOUS',
      values: 'databases.postgres.replication.synchronous',
      schema: bool
        .default(false)
        .describe(
          'Synchronous replication: a commit is acknowledged once a replica has it, so a failover loses none.',
        ),
    }),
    failsafe: setting({
      env: 'PGOPS_FAILSAFE',
      values: 'databases.postgres.replication.failsafe',
      schema: bool
        .default(true)
        .describe(
          'Keep the primary writable while the leader store (Kubernetes API, etcd) is unreachable but every member answers.',
        ),
    }),
    haFile: setting({
      env: 'PGOPS_HA_FILE',
      schema: z
        .string()
        .optional()
        .describe(
          'JSON file with {"failover", "synchronous", "failsafe"} overriding the settings above, re-read while running: changing them never restarts a member.',
        ),
    }),
    ttl: setting({
      env: 'PGOPS_HA_TTL',
      values: 'databases.postgres.replication.ttl',
      schema: int(10, 3600)
        .default(30)
        .describe('Leader lease in seconds: how long a silent primary keeps the lead.'),
    }),
    loopWait: setting({
      env: 'PGOPS_HA_LOOP_WAIT',
      values: 'databases.postgres.replication.loopWait',
      schema: int(1, 300).default(10).describe("Seconds between Patroni's checks."),
    }),
    retryTimeout: setting({
      env: 'PGOPS_HA_RETRY_TIMEOUT',
      values: 'databases.postgres.replication.retryTimeout',
      schema: int(1, 300)
        .default(10)
        .describe('Seconds Patroni retries the store and PostgreSQL before acting on a failure.'),
    }),
    maxLagOnFailover: setting({
      env: 'PGOPS_MAX_LAG_ON_FAILOVER',
      values: 'databases.postgres.replication.maxLagOnFailover',
      schema: int(0)
        .default(1024 * 1024)
        .describe(
          'A replica further behind than this many bytes is never promoted automatically, and postgres-ops promote refuses it without --force.',
        ),
    }),
    maxLagBytes: setting({
      env: 'PGOPS_MAX_LAG_BYTES',
      values: 'databases.postgres.replication.maxLagBytes',
      schema: int(0)
        .default(16 * 1024 * 1024)
        .describe('A replica reports not-ready when it is further behind than this many bytes of WAL.'),
    }),
  },
  // --- point-in-time recovery: continuous WAL archive and physical backups (pgBackRest)
  pitr: {
    enabled: setting({
      env: 'PGOPS_PITR',
      values: 'databases.postgres.pitr.enabled',
      schema: bool
        .default(false)
        .describe(
          'Continuous WAL archive and physical backups with pgBackRest. Off: archive_command is `true` (archive_mode stays on, so turning it on needs no restart).',
        ),
    }),
    stanza: setting({
      env: 'PGOPS_PGBACKREST_STANZA',
      schema: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+$/, { error: 'expected letters, digits, _ . -' })
        .default('db')
        .describe("pgBackRest's stanza: the name of this cluster in the repositories."),
    }),
    archiveTimeoutSeconds: setting({
      env: 'PGOPS_ARCHIVE_TIMEOUT_SECONDS',
      values: 'databases.postgres.pitr.archiveTimeoutSeconds',
      schema: int(0, 86400)
        .default(60)
        .describe(
          'archive_timeout: a quiet primary still switches to a new WAL segment, and so archives its last commits, at least this often (it bounds the recovery point).',
        ),
    }),
    repo1Path: setting({
      env: 'PGOPS_PGBACKREST_REPO1_PATH',
      schema: z
        .string()
        .default('')
        .describe(
          'Where repo1 lives when it is on this machine (local mode: <state>/pgbackrest; the repository pod: its volume). Empty on members that reach it over TLS.',
        ),
    }),
    repo1Host: setting({
      env: 'PGOPS_PGBACKREST_REPO1_HOST',
      schema: z
        .string()
        .default('')
        .describe(
          "Host name of the repository pod's pgBackRest TLS server, when repo1 is not on this machine (members on Kubernetes).",
        ),
    }),
    tlsPort: setting({
      env: 'PGOPS_PGBACKREST_TLS_PORT',
      schema: int(1, 65535)
        .default(8432)
        .describe("Port of pgBackRest's TLS servers (the repository pod's and every member's)."),
    }),
    tlsDir: setting({
      env: 'PGOPS_PGBACKREST_TLS_DIR',
      values: 'databases.postgres.pitr.tls.existingSecret',
      derived: true,
      schema: z
        .string()
        .optional()
        .describe(
          "Directory with ca.crt, tls.crt and tls.key for pgBackRest's TLS server and client (Kubernetes). Unset: no TLS server runs.",
        ),
    }),
    tlsClientCn: setting({
      env: 'PGOPS_PGBACKREST_TLS_CLIENT_CN',
      schema: z
        .string()
        .default('pgbackrest-client')
        .describe("Common name of the client certificate pgBackRest's TLS servers admit (tls-server-auth)."),
    }),
    pgHosts: setting({
      env: 'PGOPS_PGBACKREST_PG_HOSTS',
      values: 'databases.postgres.replication.replicas',
      derived: true,
      schema: z
        .string()
        .default('')
        .describe(
          "Members' host names, comma-separated, for the repository pod: pgBackRest backs up whichever of them is the primary.",
        ),
    }),
    retentionFull: setting({
      env: 'PGOPS_PGBACKREST_RETENTION_FULL',
      values: 'databases.postgres.pitr.retentionFull',
      schema: int(1, 1000)
        .default(2)
        .describe(
          'Full physical backups kept in each repository, with every WAL segment they need (the recoverability window starts at the oldest).',
        ),
    }),
    processMax: setting({
      env: 'PGOPS_PGBACKREST_PROCESS_MAX',
      values: 'databases.postgres.pitr.processMax',
      schema: int(1, 64)
        .default(2)
        .describe(
          'Parallel processes of archive-push and archive-get, physical backups and restores (copy and compression).',
        ),
    }),
    spoolPath: setting({
      env: 'PGOPS_PGBACKREST_SPOOL_PATH',
      schema: z
        .string()
        .optional()
        .describe(
          'Spool of the asynchronous archive, on the data volume next to PGDATA (default: <PGDATA>.pgbackrest-spool; never inside PGDATA, which a re-clone removes).',
        ),
    }),
    repo2: setting({
      env: 'PGOPS_PGBACKREST_REPO2',
      values: 'databases.postgres.pitr.repo2',
      schema: bool
        .default(false)
        .describe(
          'A second repository (repo2) on the object store of the cross-region settings (PGOPS_SYNC_PROVIDER, PGOPS_SYNC_BUCKET, PGOPS_SYNC_ENDPOINT, PGOPS_SYNC_REGION, credentials), under <PGOPS_SYNC_PREFIX>pgbackrest.',
        ),
    }),
    repo2VerifyTls: setting({
      env: 'PGOPS_PGBACKREST_REPO2_VERIFY_TLS',
      schema: bool
        .default(true)
        .describe("Verify repo2's TLS certificate (turn off only for a test store with a self-signed one)."),
    }),
    repoPod: setting({
      env: 'PGOPS_PGBACKREST_REPO_POD',
      schema: z
        .string()
        .default('')
        .describe(
          "The repository pod's name, where the scheduled physical backups and drills run (Kubernetes CronJobs exec into it).",
        ),
    }),
    drillDir: setting({
      env: 'PGOPS_DRILL_DIR',
      schema: z
        .string()
        .default('')
        .describe(
          'Scratch folder where a recovery drill restores (default: a temporary folder); removed afterwards.',
        ),
    }),
  },
  // --- roles and database (from the chart's Secret)
  roles: {
    superuser: setting({
      env: 'PGOPS_SUPERUSER',
      schema: pgIdent.default('postgres').describe('Name of the superuser role.'),
    }),
    superuserPassword: setting({
      env: 'PGOPS_SUPERUSER_PASSWORD',
      schema: z.string().optional().describe('Superuser password (local runs; in pods use the _FILE form).'),
    }),
    superuserPasswordFile: setting({
      env: 'PGOPS_SUPERUSER_PASSWORD_FILE',
      values: 'databases.postgres.auth.superuserPasswordKey',
      derived: true,
      schema: z.string().optional().describe('File holding the superuser password.'),
    }),
    replicationUser: setting({
      env: 'PGOPS_REPLICATION_USER',
      schema: pgIdent.default('replicator').describe('Role replicas connect as.'),
    }),
    replicationPassword: setting({
      env: 'PGOPS_REPLICATION_PASSWORD',
      schema: z.string().optional().describe('Replication password (local runs).'),
    }),
    replicationPasswordFile: setting({
      env: 'PGOPS_REPLICATION_PASSWORD_FILE',
      values: 'databases.postgres.auth.replicationPasswordKey',
      derived: true,
      schema: z.string().optional().describe('File holding the replication password.'),
    }),
    appUser: setting({
      env: 'PGOPS_APP_USER',
      values: 'databases.postgres.username',
      schema: pgIdent.default('pyairtable').describe('Application role, owner of the application database.'),
    }),
    appPassword: setting({
      env: 'PGOPS_APP_PASSWORD',
      schema: z.string().optional().describe('Application password (local runs).'),
    }),
    appPasswordFile: setting({
      env: 'PGOPS_APP_PASSWORD_FILE',
      values: 'databases.postgres.auth.passwordKey',
      derived: true,
      schema: z.string().optional().describe('File holding the application password.'),
    }),
    appDatabase: setting({
      env: 'PGOPS_APP_DATABASE',
      values: 'databases.postgres.database',
      schema: pgIdent.default('pyairtable').describe('Application database created on first start.'),
    }),
    monitorUser: setting({
      env: 'PGOPS_MONITOR_USER',
      schema: pgIdent
        .default('pgops_monitor')
        .describe(
          'Role the metrics exporter connects as: a member of pg_monitor that may read pgops.backup_history, nothing else. Created and kept in step by the primary when its password is set.',
        ),
    }),
    monitorPassword: setting({
      env: 'PGOPS_MONITOR_PASSWORD',
      schema: z.string().optional().describe('Monitoring role password (local runs).'),
    }),
    monitorPasswordFile: setting({
      env: 'PGOPS_MONITOR_PASSWORD_FILE',
      values: 'databases.postgres.auth.monitorPasswordKey',
      derived: true,
      schema: z.string().optional().describe('File holding the monitoring role password.'),
    }),
  },
  // --- jobs that connect to the primary (backup, verify, restore, migrate, snapshot)
  connection: {
    host: setting({
      env: 'PGOPS_HOST',
      schema: z
        .string()
        .default('127.0.0.1')
        .describe('Host the job connects to (the primary Service in a cluster).'),
    }),
    sslmode: setting({
      env: 'PGOPS_SSLMODE',
      values: 'databases.postgres.tls.enabled',
      derived: true,
      schema: z
        .enum(['disable', 'prefer', 'require'])
        .default('prefer')
        .describe(
          'TLS of the connections jobs make to PGOPS_HOST: require when the server enforces TLS (hostssl), prefer (libpq tools try TLS, the driver does not), or disable.',
        ),
    }),
  },
  // --- backup, verify, prune
  backup: {
    dir: setting({
      env: 'PGOPS_BACKUP_DIR',
      schema: z.string().default('/backups/postgres').describe('Where backups and their manifests live.'),
    }),
    databases: setting({
      env: 'PGOPS_BACKUP_DATABASES',
      values: 'databases.postgres.backup.databases',
      derived: true,
      schema: z
        .string()
        .default('')
        .describe('Comma-separated databases to back up; empty means the application database.'),
    }),
    compression: setting({
      env: 'PGOPS_BACKUP_COMPRESSION',
      values: 'databases.postgres.backup.compression',
      schema: int(0, 9).default(6).describe('pg_dump compression level (0-9).'),
    }),
    jobs: setting({
      env: 'PGOPS_BACKUP_JOBS',
      values: 'databases.postgres.backup.jobs',
      schema: int(1, 64)
        .default(1)
        .describe(
          'Parallel pg_dump jobs. 1 writes one custom-format archive; more dump tables in parallel (directory format, packed into the same one file NAME.dump). Each job is one more connection and about one more core.',
        ),
    }),
    retentionDays: setting({
      env: 'PGOPS_BACKUP_RETENTION_DAYS',
      values: 'databases.postgres.backup.retentionDays',
      schema: int(1).default(7).describe('Days to keep backups; the newest verified one is always kept.'),
    }),
    deepVerify: setting({
      env: 'PGOPS_BACKUP_DEEP_VERIFY',
      values: 'databases.postgres.backup.deepVerify',
      schema: bool
        .default(false)
        .describe('Also restore each new backup into a scratch database and compare row counts.'),
    }),
  },
  // --- restore
  restore: {
    file: setting({
      env: 'PGOPS_RESTORE_FILE',
      values: 'databases.postgres.restore.backupFile',
      schema: z
        .string()
        .regex(/^\S*$/, { error: 'expected a backup name, file or URL without spaces' })
        .optional()
        .describe('Backup file or URL the restore Job restores.'),
    }),
    targetDatabase: setting({
      env: 'PGOPS_RESTORE_TARGET_DATABASE',
      values: 'databases.postgres.restore.targetDatabase',
      schema: z
        .string()
        .regex(/^$|^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
          error:
            'expected a PostgreSQL name (letters, digits, _; max 63), or empty for the one in the backup',
        })
        .optional()
        .describe('Database to restore into; defaults to the one in the backup.'),
    }),
    safetyBackup: setting({
      env: 'PGOPS_RESTORE_SAFETY_BACKUP',
      values: 'databases.postgres.restore.safetyBackup',
      schema: bool.default(true).describe('Take a backup of the database before replacing it.'),
    }),
    jobs: setting({
      env: 'PGOPS_RESTORE_JOBS',
      values: 'databases.postgres.restore.jobs',
      schema: int(1, 64).default(2).describe('Parallel jobs for pg_restore.'),
    }),
    keepPrevious: setting({
      env: 'PGOPS_RESTORE_KEEP_PREVIOUS',
      values: 'databases.postgres.restore.keepPrevious',
      schema: bool
        .default(false)
        .describe('Keep a replaced database as <db>__before_restore_<timestamp> instead of dropping it.'),
    }),
  },
  // --- volume snapshots
  snapshot: {
    volumeSnapshotClass: setting({
      env: 'PGOPS_SNAPSHOT_CLASS',
      values: 'databases.postgres.snapshots.volumeSnapshotClass',
      schema: z.string().optional().describe('VolumeSnapshotClass for new snapshots.'),
    }),
    pvc: setting({
      env: 'PGOPS_SNAPSHOT_PVC',
      schema: z.string().optional().describe("PVC to snapshot (the primary's data PVC)."),
    }),
    retentionCount: setting({
      env: 'PGOPS_SNAPSHOT_RETENTION_COUNT',
      values: 'databases.postgres.snapshots.retentionCount',
      schema: int(1).default(7).describe('How many of our snapshots to keep.'),
    }),
    timeoutSeconds: setting({
      env: 'PGOPS_SNAPSHOT_TIMEOUT_SECONDS',
      values: 'databases.postgres.snapshots.timeoutSeconds',
      schema: int(1).default(600).describe('How long to wait for readyToUse.'),
    }),
  },
  // --- cross-region copies
  sync: {
    provider: setting({
      env: 'PGOPS_SYNC_PROVIDER',
      values: 'databases.postgres.crossRegion.provider',
      schema: z.enum(['gcs', 's3', 'azure']).optional().describe('Object store provider.'),
    }),
    bucket: setting({
      env: 'PGOPS_SYNC_BUCKET',
      values: 'databases.postgres.crossRegion.bucket',
      schema: z.string().optional().describe('Bucket (GCS, S3) or container (Azure).'),
    }),
    prefix: setting({
      env: 'PGOPS_SYNC_PREFIX',
      values: 'databases.postgres.crossRegion.prefix',
      schema: z.string().default('postgres/').describe('Object name prefix under the bucket.'),
    }),
    endpoint: setting({
      env: 'PGOPS_SYNC_ENDPOINT',
      values: 'databases.postgres.crossRegion.endpoint',
      schema: z
        .string()
        .regex(/^$|^https?:\/\/\S+$/, { error: 'expected an http:// or https:// URL' })
        .optional()
        .describe('Custom endpoint (S3-compatible stores, emulators).'),
    }),
    region: setting({
      env: 'PGOPS_SYNC_REGION',
      values: 'databases.postgres.crossRegion.region',
      schema: z.string().optional().describe('Region (S3).'),
    }),
    retentionDays: setting({
      env: 'PGOPS_SYNC_RETENTION_DAYS',
      values: 'databases.postgres.crossRegion.retentionDays',
      schema: int(0).default(0).describe('Delete our remote copies older than this; 0 keeps everything.'),
    }),
  },
  // --- migrations
  migration: {
    version: setting({
      env: 'PGOPS_MIGRATION_VERSION',
      values: 'databases.postgres.migration.version',
      schema: z.string().optional().describe('Migration version to apply.'),
    }),
    description: setting({
      env: 'PGOPS_MIGRATION_DESCRIPTION',
      values: 'databases.postgres.migration.description',
      schema: z.string().default('').describe('Human description recorded in the history table.'),
    }),
    dir: setting({
      env: 'PGOPS_MIGRATION_DIR',
      values: 'databases.postgres.migration.configMap',
      derived: true,
      schema: z.string().default('/migrations').describe('Directory holding <version>/*.sql files.'),
    }),
    safetyBackup: setting({
      env: 'PGOPS_MIGRATION_SAFETY_BACKUP',
      values: 'databases.postgres.migration.safetyBackup',
      schema: bool.default(true).describe('Take a backup before applying a migration.'),
    }),
    waitSeconds: setting({
      env: 'PGOPS_MIGRATION_WAIT_SECONDS',
      schema: int(0)
        .default(300)
        .describe(
          'How long migrate waits for the primary to accept connections (a fresh install starts it at the same time).',
        ),
    }),
  },
};
