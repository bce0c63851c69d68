/**
 * Patroni's configuration, built from our settings. Pure: the agent writes the result as YAML into
 * its private runtime directory and reloads Patroni when it changes.
 *
 * Patroni splits configuration in two: the member's own file (addresses, credentials, local
 * parameters, tags) and the cluster-wide "dynamic" configuration kept in the store (timings,
 * failover rules, and the parameters every member must share because a standby cannot run with
 * less than its primary: max_connections and friends). Chart parameters are routed to the right one
 * here, so a `max_connections` in `postgresql.parameters` is not silently overridden by the value
 * Patroni puts on the command line.
 */
import type { AgentConfig } from '../config/schema.js';

export type ParamValue = string | number | boolean;

/** Patroni's scope: the cluster's name in the store, and on Kubernetes its leader Endpoints' name. */
export function scopeOf(config: {
  ha: Pick<AgentConfig['ha'], 'scope'>;
  agent: Pick<AgentConfig['agent'], 'release'>;
}): string {
  return config.ha.scope ?? `${config.agent.release}-postgres`.slice(0, 63).replace(/-+$/, '');
}

/** Parameters Patroni passes on the postmaster command line from the dynamic configuration only. */
export const CLUSTER_WIDE_PARAMETERS: ReadonlySet<string> = new Set([
  'max_connections',
  'max_wal_senders',
  'max_replication_slots',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'track_commit_timestamp',
  'wal_keep_size',
  'wal_level',
]);

/** Parameters Patroni owns outright (it sets them itself); never passed from our settings. */
export const PATRONI_OWNED_PARAMETERS: ReadonlySet<string> = new Set([
  'listen_addresses',
  'port',
  'cluster_name',
  'hot_standby',
  'wal_log_hints',
  'primary_conninfo',
  'primary_slot_name',
  'recovery_target_timeline',
  'synchronous_standby_names',
  'hba_file',
  'ident_file',
  'config_file',
  'data_directory',
]);

/**
 * Parameters postgres-agent sets itself from its own settings (sockets, SCRAM, logging to the agent,
 * the WAL archive and recovery from it, the bound on slot WAL, TLS) or leaves at Patroni's safe
 * default (wal_level replica). A fragment's value for one of them is dropped and reported, as for
 * Patroni's own: archiving, replication and authentication must not depend on a tuning file. The
 * chart refuses them at install (templates/_validate.tpl).
 */
export const AGENT_OWNED_PARAMETERS: ReadonlySet<string> = new Set([
  'unix_socket_directories',
  'password_encryption',
  'max_slot_wal_keep_size',
  'logging_collector',
  'log_destination',
  'archive_mode',
  'archive_command',
  'archive_timeout',
  'restore_command',
  'ssl',
  'ssl_cert_file',
  'ssl_key_file',
  'wal_level',
]);

/**
 * Cluster-wide parameters a fragment may raise but not lower: with fewer WAL senders or slots than
 * these, replicas, a re-clone and pgBackRest's backups lose their connections. A lower value is
 * dropped and reported, and ours applies.
 */
export const CLUSTER_WIDE_MINIMUMS: Readonly<Record<string, number>> = {
  max_wal_senders: 10,
  max_replication_slots: 10,
};

export interface Credentials {
  username: string;
  password: string;
}

export type DcsSettings =
  | { kind: 'etcd3'; hosts: string[] }
  | {
      kind: 'kubernetes';
      namespace: string;
      /** Labels every member pod carries (the StatefulSet's selector labels). */
      labels: Record<string, string>;
      /** Pod label Patroni sets to the member's role (master, replica). */
      roleLabel: string;
      /** Label carrying the scope, on the member pods and on the Endpoints Patroni writes. */
      scopeLabel: string;
      podIp: string;
      port: number;
    };

export interface DynamicSettings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maximumLagOnFailover: number;
  synchronous: boolean;
  failsafe: boolean;
  /** Cluster-wide parameters (CLUSTER_WIDE_PARAMETERS), already split from the local ones. */
  parameters: Record<string, ParamValue>;
}

export interface PatroniInputs {
  scope: string;
  name: string;
  dcs: DcsSettings;
  restApi: { listen: string; connectAddress: string; auth: Credentials };
  postgres: {
    listen: string;
    connectAddress: string;
    dataDir: string;
    binDir: string;
    /** Patroni's own libpq passfile (it writes the replication password there): a private path. */
    pgpass: string;
    superuser: Credentials;
    replication: Credentials;
    /** Local parameters (everything not cluster-wide), ours last so a fragment cannot override them. */
    parameters: Record<string, ParamValue>;
    hba: string[];
    ident: string[];
    /** Recovery settings of replicas (restore_command from the WAL archive). */
    recoveryConf?: Record<string, string>;
  };
  /** Command Patroni runs once after initdb, with the superuser connection string appended. */
  postBootstrap: string;
  dynamic: DynamicSettings;
  /** When true this member is never chosen by an automatic failover (failover: manual). */
  noFailover: boolean;
}

/** How every new cluster is initialized: checksums on, SCRAM only, UTF-8. */
export const INITDB_OPTIONS: readonly (string | Record<string, string>)[] = [
  'data-checksums',
  { encoding: 'UTF8' },
  { locale: 'C.UTF-8' },
  { auth: 'scram-sha-256' },
];

/** Patroni's cluster-wide configuration: what the leader writes at bootstrap and we keep in step. */
export function dynamicConfig(d: DynamicSettings): Record<string, unknown> {
  return {
    ttl: d.ttl,
    loop_wait: d.loopWait,
    retry_timeout: d.retryTimeout,
    maximum_lag_on_failover: d.maximumLagOnFailover,
    synchronous_mode: d.synchronous,
    // Strict mode would stop all writes when the last replica is down; we prefer availability and
    // say so in status (the synchronous standby is listed, or its absence).
    synchronous_mode_strict: false,
    failsafe_mode: d.failsafe,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters: { ...d.parameters },
    },
  };
}

/** The member's Patroni YAML document, as an object. */
export function patroniConfig(p: PatroniInputs): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    scope: p.scope,
    name: p.name,
    log: { level: 'INFO' },
    restapi: {
      listen: p.restApi.listen,
      connect_address: p.restApi.connectAddress,
      authentication: { username: p.restApi.auth.username, password: p.restApi.auth.password },
    },
  };
  if (p.dcs.kind === 'etcd3') doc.etcd3 = { hosts: p.dcs.hosts.join(',') };
  else
    doc.kubernetes = {
      namespace: p.dcs.namespace,
      labels: p.dcs.labels,
      role_label: p.dcs.roleLabel,
      scope_label: p.dcs.scopeLabel,
      // The leader lock lives on the Endpoints named after the scope, and the same update points
      // them at the leader's pod: a selector-less Service of that name routes to the leader only.
      use_endpoints: true,
      pod_ip: p.dcs.podIp,
      ports: [{ name: 'postgresql', port: p.dcs.port }],
    };
  doc.bootstrap = {
    dcs: dynamicConfig(p.dynamic),
    initdb: INITDB_OPTIONS,
    post_bootstrap: p.postBootstrap,
  };
  doc.postgresql = {
    listen: p.postgres.listen,
    connect_address: p.postgres.connectAddress,
    data_dir: p.postgres.dataDir,
    bin_dir: p.postgres.binDir,
    pgpass: p.postgres.pgpass,
    use_unix_socket: true,
    authentication: {
      superuser: { ...p.postgres.superuser },
      replication: { ...p.postgres.replication },
      rewind: { ...p.postgres.superuser },
    },
    parameters: { ...p.postgres.parameters },
    pg_hba: [...p.postgres.hba],
    pg_ident: [...p.postgres.ident],
    // Patroni writes these for replicas (postgresql.conf on PostgreSQL 12+): a replica that lapsed
    // past its slot reads the missing WAL from the archive instead of stopping.
    ...(p.postgres.recoveryConf ? { recovery_conf: { ...p.postgres.recoveryConf } } : {}),
    // Without a fast checkpoint a clone waits for a spread one (minutes on a quiet primary).
    basebackup: [{ checkpoint: 'fast' }],
    // A member whose history cannot be rewound onto the leader's is cloned again rather than left
    // stopped: the leader's data is the truth, and the old directory had diverged from it.
    remove_data_directory_on_rewind_failure: true,
    remove_data_directory_on_diverged_timelines: true,
  };
  doc.watchdog = { mode: 'off' };
  doc.tags = { nofailover: p.noFailover, noloadbalance: false, clonefrom: false, nosync: false };
  return doc;
}

/**
 * Splits chart parameters into the cluster-wide ones (dynamic configuration) and the member's own;
 * drops those Patroni or the agent own (they set them themselves) and cluster-wide ones below our
 * minimum, and reports them, so the caller can warn. What is returned can never override ours.
 */
export function splitParameters(all: Record<string, ParamValue>): {
  clusterWide: Record<string, ParamValue>;
  local: Record<string, ParamValue>;
  ignored: string[];
} {
  const clusterWide: Record<string, ParamValue> = {};
  const local: Record<string, ParamValue> = {};
  const ignored: string[] = [];
  for (const [k, v] of Object.entries(all)) {
    const key = k.toLowerCase();
    const minimum = CLUSTER_WIDE_MINIMUMS[key];
    if (PATRONI_OWNED_PARAMETERS.has(key) || AGENT_OWNED_PARAMETERS.has(key)) ignored.push(k);
    else if (minimum !== undefined && !(Number(v) >= minimum)) ignored.push(k);
    else if (CLUSTER_WIDE_PARAMETERS.has(key)) clusterWide[key] = v;
    else local[key] = v;
  }
  return { clusterWide, local, ignored };
}

/**
 * The changes that bring Patroni's stored dynamic configuration to the wanted one, as a body for
 * `PATCH /config` (null removes a parameter we no longer set), or undefined when it already matches.
 * Values are compared as strings: Patroni returns what it stored, which may be a number or a string.
 */
export function dynamicConfigPatch(
  current: Record<string, unknown>,
  wanted: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const same = (a: unknown, b: unknown) => normalize(a) === normalize(b);
  for (const [k, v] of Object.entries(wanted)) {
    if (k === 'postgresql') continue;
    if (!same(current[k], v)) patch[k] = v;
  }
  const cur = (current.postgresql ?? {}) as Record<string, unknown>;
  const want = wanted.postgresql as Record<string, unknown>;
  const pg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(want)) {
    if (k === 'parameters') continue;
    if (!same(cur[k], v)) pg[k] = v;
  }
  const curParams = (cur.parameters ?? {}) as Record<string, unknown>;
  const wantParams = (want.parameters ?? {}) as Record<string, unknown>;
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wantParams)) if (!same(curParams[k], v)) params[k] = v;
  for (const k of Object.keys(curParams)) if (!(k in wantParams)) params[k] = null;
  if (Object.keys(params).length) pg.parameters = params;
  if (Object.keys(pg).length) patch.postgresql = pg;
  return Object.keys(patch).length ? patch : undefined;
}

function normalize(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  // Values come from JSON (numbers or strings); numbers print the same either way.
  const s = (typeof v === 'string' ? v : JSON.stringify(v)).toLowerCase();
  if (s === 'true') return 'on';
  if (s === 'false') return 'off';
  return s;
}

/**
 * Reads a postgresql.conf fragment of `name = value` lines (the chart renders
 * `databases.postgres.postgresql.parameters` this way): comments and blank lines skipped, quotes
 * removed as PostgreSQL does. Include directives are refused: their content could not be routed.
 */
export function parseConfFragment(text: string): { parameters: Record<string, string>; errors: string[] } {
  const parameters: Record<string, string> = {};
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = stripComment(raw).trim();
    if (!line) return;
    // A value is one token: a quoted string ('' escapes a quote) or a bare word, as PostgreSQL reads it.
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=\s*|\s+)('(?:[^']|'')*'|[^\s'#]+)$/.exec(line);
    if (!m) {
      errors.push(`line ${i + 1}: "${raw.trim()}" is not "name = value"`);
      return;
    }
    const name = m[1]!.toLowerCase();
    if (name.startsWith('include')) {
      errors.push(`line ${i + 1}: ${name} is not supported here; list the settings themselves`);
      return;
    }
    parameters[name] = unquote(m[2]!.trim());
  });
  return { parameters, errors };
}

function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") quoted = !quoted;
    else if (c === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'"))
    return v.slice(1, -1).replace(/''/g, "'").replace(/\\\\/g, '\\');
  return v;
}
