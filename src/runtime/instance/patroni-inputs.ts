/**
 * Reads what the member's Patroni configuration is made of (settings, mounted files, passwords) and
 * hands it to the pure builder in src/core/ha. Read again on every reload, so a changed Secret or
 * ConfigMap applies without a restart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../core/config/schema.js';
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

export function memberPaths(config: Pick<AgentConfig, 'instance'>): MemberPaths {
  const privateDir = join(config.instance.socketDir, 'pgops');
  return {
    privateDir,
    patroniYaml: join(privateDir, 'patroni.yml'),
    patroniPgpass: join(privateDir, 'patroni.pgpass'),
    allowFailover: join(privateDir, 'allow-failover'),
    agentPid: join(privateDir, 'agent.pid'),
  };
}

/** The address other members reach this one at. */
export function connectHost(config: AgentConfig): string {
  return config.instance.connectHost ?? config.agent.podIp ?? hostname();
}

export interface MemberConfigFiles {
  /** Chart parameters from PGOPS_CONFIG_FILE, not yet split. */
  parameters: Record<string, ParamValue>;
  extraHba: string[];
}

/** Mounted files; every problem is a UsageError naming the file and the line. */
export function readMemberFiles(config: AgentConfig): MemberConfigFiles {
  let parameters: Record<string, ParamValue> = {};
  if (config.postgresql.configFile) {
    const text = readMounted(config.postgresql.configFile, 'PGOPS_CONFIG_FILE');
    const parsed = parseConfFragment(text);
    if (parsed.errors.length)
      throw new UsageError(
        'E_CONFIG_FRAGMENT',
        `${config.postgresql.configFile} has lines that are not PostgreSQL settings:\n${parsed.errors.join('\n')}`,
        { file: config.postgresql.configFile },
        { hint: 'Fix databases.postgres.postgresql.parameters (name: value pairs) and upgrade the release.' },
      );
    parameters = parsed.parameters;
  }
  const extraHba = config.postgresql.hbaFile
    ? validateExtraHba(readMounted(config.postgresql.hbaFile, 'PGOPS_HBA_FILE'), config.postgresql.hbaFile)
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

export function dcsSettings(config: AgentConfig): DcsSettings {
  if (config.ha.dcs === 'etcd3') {
    const hosts = config.ha.etcdHosts
      .split(',')
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
  for (const pair of config.ha.kubernetesLabels.split(',').filter(Boolean)) {
    const [k, ...v] = pair.split('=');
    labels[k!.trim()] = v.join('=').trim();
  }
  if (!config.agent.podIp)
    throw new UsageError(
      'E_NO_POD_IP',
      'PGOPS_POD_IP is not set: on Kubernetes Patroni points the leader Endpoints at the pod IP',
      {},
      { hint: 'Set PGOPS_POD_IP from the downward API (fieldRef status.podIP).' },
    );
  return {
    kind: 'kubernetes',
    namespace: config.agent.namespace,
    labels,
    roleLabel: config.ha.roleLabel,
    scopeLabel: config.ha.scopeLabel,
    podIp: config.agent.podIp,
    port: config.instance.port,
  };
}

/**
 * The settings we enforce on every member, after the chart's: sockets, authentication, logging to
 * the agent, the bound on WAL a slot may hold, TLS.
 */
export function enforcedParameters(config: AgentConfig): Record<string, ParamValue> {
  const keep =
    config.postgresql.maxSlotWalKeepSize ||
    defaultSlotWalKeepSize(volumeStats(config.instance.dataDir).sizeBytes);
  const p: Record<string, ParamValue> = {
    unix_socket_directories: config.instance.socketDir,
    password_encryption: 'scram-sha-256',
    max_slot_wal_keep_size: keep,
    // PostgreSQL's log goes to Patroni's stderr and from there through the agent (full-disk and
    // lost-WAL detection read it).
    logging_collector: false,
    log_destination: 'stderr',
    // Always on, so that turning point-in-time recovery on later needs no restart; the command is
    // `true` while it is off.
    archive_mode: 'on',
    archive_command: memberArchiveSettings(config).archiveCommand,
    archive_timeout: `${config.pitr.archiveTimeoutSeconds}s`,
  };
  if (config.postgresql.tlsDir) {
    p.ssl = true;
    p.ssl_cert_file = `${config.postgresql.tlsDir}/tls.crt`;
    p.ssl_key_file = `${config.postgresql.tlsDir}/tls.key`;
  }
  return p;
}

export function dynamicSettings(
  config: AgentConfig,
  clusterWide: Record<string, ParamValue>,
): DynamicSettings {
  return {
    ttl: config.ha.ttl,
    loopWait: config.ha.loopWait,
    retryTimeout: config.ha.retryTimeout,
    maximumLagOnFailover: config.ha.maxLagOnFailover,
    synchronous: config.ha.synchronous,
    failsafe: config.ha.failsafe,
    parameters: { wal_keep_size: '128MB', ...CLUSTER_WIDE_MINIMUMS, ...clusterWide },
  };
}

export function checkTimings(config: AgentConfig) {
  // Patroni's own rule: a leader must renew its lease, with retries, before the lease ends.
  if (config.ha.loopWait + 2 * config.ha.retryTimeout > config.ha.ttl)
    throw new UsageError(
      'E_HA_TIMINGS',
      `loop wait (${config.ha.loopWait}s) + 2 x retry timeout (${config.ha.retryTimeout}s) exceeds the leader lease (${config.ha.ttl}s): the primary could lose its lease while still retrying`,
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
  config: AgentConfig,
  files: MemberConfigFiles,
  opts: { postBootstrap: string; noFailover: boolean; binDir: string },
): { inputs: PatroniInputs; ignoredParameters: string[] } {
  const paths = memberPaths(config);
  const { clusterWide, local, ignored } = splitParameters(files.parameters);
  const host = connectHost(config);
  const listenHost = config.instance.listenAddresses === '*' ? '0.0.0.0' : config.instance.listenAddresses;
  const superuser = {
    username: config.roles.superuser,
    password: requireSecret(config, 'PGOPS_SUPERUSER_PASSWORD', "for Patroni's connections"),
  };
  const osUser = osUserName();
  const { restoreCommand } = memberArchiveSettings(config);
  const inputs: PatroniInputs = {
    scope: scopeOf(config),
    name: config.agent.podName,
    dcs: dcsSettings(config),
    restApi: {
      listen: `${listenHost}:${config.ha.restApiPort}`,
      connectAddress: `${host}:${config.ha.restApiPort}`,
      auth: {
        username: config.ha.restApiUser,
        password: requireSecret(config, 'PGOPS_RESTAPI_PASSWORD', "to protect Patroni's REST API"),
      },
    },
    postgres: {
      listen: `${config.instance.listenAddresses}:${config.instance.port}`,
      connectAddress: `${host}:${config.instance.port}`,
      dataDir: config.instance.dataDir,
      binDir: opts.binDir,
      pgpass: paths.patroniPgpass,
      superuser,
      replication: {
        username: config.roles.replicationUser,
        password: requireSecret(config, 'PGOPS_REPLICATION_PASSWORD', 'for streaming replication'),
      },
      parameters: { ...local, ...enforcedParameters(config) },
      hba: hbaRules({
        superuser: config.roles.superuser,
        replicationUser: config.roles.replicationUser,
        extraLines: files.extraHba,
        peerMap: osUser ? 'pgops' : undefined,
        tls: Boolean(config.postgresql.tlsDir),
      }),
      ident: osUser ? [`pgops ${osUser} ${config.roles.superuser}`] : [],
      recoveryConf: restoreCommand ? { restore_command: restoreCommand } : undefined,
    },
    postBootstrap: opts.postBootstrap,
    dynamic: dynamicSettings(config, clusterWide),
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
export function withHaFile<C extends Pick<AgentConfig, 'ha'>>(config: C): C {
  if (!config.ha.haFile || !existsSync(config.ha.haFile)) return config;
  const text = readMounted(config.ha.haFile, 'PGOPS_HA_FILE');
  let parsed;
  try {
    parsed = haFileSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new UsageError(
      'E_HA_FILE',
      `${config.ha.haFile} is not valid: ${(err as Error).message.split('\n')[0]}`,
      { file: config.ha.haFile },
      { hint: 'It holds JSON like {"failover":"automatic","synchronous":true,"failsafe":true}.' },
    );
  }
  return {
    ...config,
    ha: {
      ...config.ha,
      failover: parsed.failover ?? config.ha.failover,
      synchronous: parsed.synchronous ?? config.ha.synchronous,
      failsafe: parsed.failsafe ?? config.ha.failsafe,
    },
  };
}
