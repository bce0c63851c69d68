/**
 * Reads what the member's Patroni configuration is made of (settings, mounted files, passwords) and
 * hands it to the pure builder in src/core/ha. Read again on every reload, so a changed Secret or
 * ConfigMap applies without a restart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { nestConfig, type AgentEnv } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import {
  CLUSTER_WIDE_MINIMUMS,
  parseConfFragment,
  scopeOf,
  splitParameters,
  type DcsSettings,
  type DynamicSettings,
  type ParamValue,
  type PatroniInputs,
} from '../../core/ha/patroni-config.js';
import { defaultSlotWalKeepSize, hbaRules, validateExtraHba } from '../../core/instance/settings.js';
import { requireSecret } from '../secrets.js';
import { memberArchiveSettings } from '../pitr/config.js';
import { volumeStats } from './datadir.js';

export interface MemberPaths {
  /** Private (0700) directory for Patroni's YAML and passfiles. */
  privateDir: string;
  patroniYaml: string;
  patroniPgpass: string;
  /** File `postgres-agent promote` writes to let this member be promoted in manual mode. */
  allowFailover: string;
  agentPid: string;
}

export function memberPaths(env: AgentEnv): MemberPaths {
  const privateDir = join(env.PGOPS_SOCKET_DIR, 'pgops');
  return {
    privateDir,
    patroniYaml: join(privateDir, 'patroni.yml'),
    patroniPgpass: join(privateDir, 'patroni.pgpass'),
    allowFailover: join(privateDir, 'allow-failover'),
    agentPid: join(privateDir, 'agent.pid'),
  };
}

/** The address other members reach this one at. */
export function connectHost(env: AgentEnv): string {
  return env.PGOPS_CONNECT_HOST ?? env.PGOPS_POD_IP ?? hostname();
}

export interface MemberConfigFiles {
  /** Chart parameters from PGOPS_CONFIG_FILE, not yet split. */
  parameters: Record<string, ParamValue>;
  extraHba: string[];
}

/** Mounted files; every problem is a UsageError naming the file and the line. */
export function readMemberFiles(env: AgentEnv): MemberConfigFiles {
  let parameters: Record<string, ParamValue> = {};
  if (env.PGOPS_CONFIG_FILE) {
    const text = readMounted(env.PGOPS_CONFIG_FILE, 'PGOPS_CONFIG_FILE');
    const parsed = parseConfFragment(text);
    if (parsed.errors.length)
      throw new UsageError(
        'E_CONFIG_FRAGMENT',
        `${env.PGOPS_CONFIG_FILE} has lines that are not PostgreSQL settings:\n${parsed.errors.join('\n')}`,
        { file: env.PGOPS_CONFIG_FILE },
        { hint: 'Fix databases.postgres.postgresql.parameters (name: value pairs) and upgrade the release.' },
      );
    parameters = parsed.parameters;
  }
  const extraHba = env.PGOPS_HBA_FILE
    ? validateExtraHba(readMounted(env.PGOPS_HBA_FILE, 'PGOPS_HBA_FILE'), env.PGOPS_HBA_FILE)
    : [];
  return { parameters, extraHba };
}

function readMounted(path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      'E_UNREADABLE_FILE',
      `${key} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was started or changed`,
      { key, path },
      {
        hint: `Check the ConfigMap mount at ${path} and that the postgres user can read it, or unset ${key}.`,
      },
    );
  }
}

export function dcsSettings(env: AgentEnv): DcsSettings {
  if (env.PGOPS_DCS === 'etcd3') {
    const hosts = env.PGOPS_ETCD_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    if (hosts.length === 0)
      throw new UsageError(
        'E_NO_ETCD',
        'PGOPS_DCS=etcd3 but PGOPS_ETCD_HOSTS is empty: Patroni needs an etcd to keep the leader record',
        {},
        { hint: 'Set PGOPS_ETCD_HOSTS=host:port (local mode starts an etcd and sets it).' },
      );
    return { kind: 'etcd3', hosts };
  }
  const labels: Record<string, string> = {};
  for (const pair of env.PGOPS_K8S_LABELS.split(',').filter(Boolean)) {
    const [k, ...v] = pair.split('=');
    labels[k!.trim()] = v.join('=').trim();
  }
  if (!env.PGOPS_POD_IP)
    throw new UsageError(
      'E_NO_POD_IP',
      'PGOPS_POD_IP is not set: on Kubernetes Patroni points the leader Endpoints at the pod IP',
      {},
      { hint: 'Set PGOPS_POD_IP from the downward API (fieldRef status.podIP).' },
    );
  return {
    kind: 'kubernetes',
    namespace: env.PGOPS_NAMESPACE,
    labels,
    roleLabel: env.PGOPS_K8S_ROLE_LABEL,
    scopeLabel: env.PGOPS_K8S_SCOPE_LABEL,
    podIp: env.PGOPS_POD_IP,
    port: env.PGOPS_PORT,
  };
}

/**
 * The settings we enforce on every member, after the chart's: sockets, authentication, logging to
 * the agent, the bound on WAL a slot may hold, TLS.
 */
export function enforcedParameters(env: AgentEnv): Record<string, ParamValue> {
  const keep = env.PGOPS_MAX_SLOT_WAL_KEEP_SIZE || defaultSlotWalKeepSize(volumeStats(env.PGDATA).sizeBytes);
  const p: Record<string, ParamValue> = {
    unix_socket_directories: env.PGOPS_SOCKET_DIR,
    password_encryption: 'scram-sha-256',
    max_slot_wal_keep_size: keep,
    // PostgreSQL's log goes to Patroni's stderr and from there through the agent (full-disk and
    // lost-WAL detection read it).
    logging_collector: false,
    log_destination: 'stderr',
    // Always on, so that turning point-in-time recovery on later needs no restart; the command is
    // `true` while it is off.
    archive_mode: 'on',
    archive_command: memberArchiveSettings(nestConfig(env)).archiveCommand,
    archive_timeout: `${env.PGOPS_ARCHIVE_TIMEOUT_SECONDS}s`,
  };
  if (env.PGOPS_TLS_DIR) {
    p.ssl = true;
    p.ssl_cert_file = `${env.PGOPS_TLS_DIR}/tls.crt`;
    p.ssl_key_file = `${env.PGOPS_TLS_DIR}/tls.key`;
  }
  return p;
}

export function dynamicSettings(env: AgentEnv, clusterWide: Record<string, ParamValue>): DynamicSettings {
  return {
    ttl: env.PGOPS_HA_TTL,
    loopWait: env.PGOPS_HA_LOOP_WAIT,
    retryTimeout: env.PGOPS_HA_RETRY_TIMEOUT,
    maximumLagOnFailover: env.PGOPS_MAX_LAG_ON_FAILOVER,
    synchronous: env.PGOPS_SYNCHRONOUS,
    failsafe: env.PGOPS_FAILSAFE,
    parameters: { wal_keep_size: '128MB', ...CLUSTER_WIDE_MINIMUMS, ...clusterWide },
  };
}

export function checkTimings(env: AgentEnv) {
  // Patroni's own rule: a leader must renew its lease, with retries, before the lease ends.
  if (env.PGOPS_HA_LOOP_WAIT + 2 * env.PGOPS_HA_RETRY_TIMEOUT > env.PGOPS_HA_TTL)
    throw new UsageError(
      'E_HA_TIMINGS',
      `loop wait (${env.PGOPS_HA_LOOP_WAIT}s) + 2 x retry timeout (${env.PGOPS_HA_RETRY_TIMEOUT}s) exceeds the leader lease (${env.PGOPS_HA_TTL}s): the primary could lose its lease while still retrying`,
      {},
      { hint: 'Raise PGOPS_HA_TTL or lower PGOPS_HA_LOOP_WAIT / PGOPS_HA_RETRY_TIMEOUT.' },
    );
}

/** The OS user this process runs as, for the peer mapping of the agent's own local connections. */
export function osUserName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined; // an arbitrary uid without a passwd entry: password authentication only
  }
}

export function memberInputs(
  env: AgentEnv,
  files: MemberConfigFiles,
  opts: { postBootstrap: string; noFailover: boolean; binDir: string },
): { inputs: PatroniInputs; ignoredParameters: string[] } {
  const paths = memberPaths(env);
  const { clusterWide, local, ignored } = splitParameters(files.parameters);
  const host = connectHost(env);
  const listenHost = env.PGOPS_LISTEN_ADDRESSES === '*' ? '0.0.0.0' : env.PGOPS_LISTEN_ADDRESSES;
  const superuser = {
    username: env.PGOPS_SUPERUSER,
    password: requireSecret(env, 'PGOPS_SUPERUSER_PASSWORD', "for Patroni's connections"),
  };
  const osUser = osUserName();
  const { restoreCommand } = memberArchiveSettings(nestConfig(env));
  const inputs: PatroniInputs = {
    scope: scopeOf(nestConfig(env)),
    name: env.PGOPS_POD_NAME,
    dcs: dcsSettings(env),
    restApi: {
      listen: `${listenHost}:${env.PGOPS_RESTAPI_PORT}`,
      connectAddress: `${host}:${env.PGOPS_RESTAPI_PORT}`,
      auth: {
        username: env.PGOPS_RESTAPI_USER,
        password: requireSecret(env, 'PGOPS_RESTAPI_PASSWORD', "to protect Patroni's REST API"),
      },
    },
    postgres: {
      listen: `${env.PGOPS_LISTEN_ADDRESSES}:${env.PGOPS_PORT}`,
      connectAddress: `${host}:${env.PGOPS_PORT}`,
      dataDir: env.PGDATA,
      binDir: opts.binDir,
      pgpass: paths.patroniPgpass,
      superuser,
      replication: {
        username: env.PGOPS_REPLICATION_USER,
        password: requireSecret(env, 'PGOPS_REPLICATION_PASSWORD', 'for streaming replication'),
      },
      parameters: { ...local, ...enforcedParameters(env) },
      hba: hbaRules({
        superuser: env.PGOPS_SUPERUSER,
        replicationUser: env.PGOPS_REPLICATION_USER,
        extraLines: files.extraHba,
        peerMap: osUser ? 'pgops' : undefined,
        tls: Boolean(env.PGOPS_TLS_DIR),
      }),
      ident: osUser ? [`pgops ${osUser} ${env.PGOPS_SUPERUSER}`] : [],
      recoveryConf: restoreCommand ? { restore_command: restoreCommand } : undefined,
    },
    postBootstrap: opts.postBootstrap,
    dynamic: dynamicSettings(env, clusterWide),
    noFailover: opts.noFailover,
  };
  return { inputs, ignoredParameters: ignored };
}

const haFileSchema = z
  .object({
    failover: z.enum(['automatic', 'manual']).optional(),
    synchronous: z.boolean().optional(),
    failsafe: z.boolean().optional(),
  })
  .strict();

/**
 * The settings with PGOPS_HA_FILE applied: failover mode, synchronous replication and failsafe can
 * change while the member runs (a ConfigMap on Kubernetes, `local up` locally).
 */
export function withHaFile(env: AgentEnv): AgentEnv {
  if (!env.PGOPS_HA_FILE || !existsSync(env.PGOPS_HA_FILE)) return env;
  const text = readMounted(env.PGOPS_HA_FILE, 'PGOPS_HA_FILE');
  let parsed;
  try {
    parsed = haFileSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new UsageError(
      'E_HA_FILE',
      `${env.PGOPS_HA_FILE} is not valid: ${(err as Error).message.split('\n')[0]}`,
      { file: env.PGOPS_HA_FILE },
      { hint: 'It holds JSON like {"failover":"automatic","synchronous":true,"failsafe":true}.' },
    );
  }
  return {
    ...env,
    PGOPS_FAILOVER: parsed.failover ?? env.PGOPS_FAILOVER,
    PGOPS_SYNCHRONOUS: parsed.synchronous ?? env.PGOPS_SYNCHRONOUS,
    PGOPS_FAILSAFE: parsed.failsafe ?? env.PGOPS_FAILSAFE,
  };
}
