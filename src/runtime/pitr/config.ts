/**
 * pgBackRest's configuration for each place it runs, from the agent's settings: a member (archive
 * push/get, its TLS server on Kubernetes), a job on the repository's machine (backup, expire, info,
 * restore, drill; local mode and the repository pod), and the repository pod itself. Written 0600
 * into a private directory; the object store's keys go into the environment of pgBackRest only.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { AgentConfig } from '../../core/config/schema.js';

/** What pgBackRest's configuration is made of: the archive settings, where PostgreSQL lives, the
 * superuser pgBackRest connects as, repo2's object store and the agent's mode (for hints). */
export type PitrSettings = Pick<AgentConfig, 'pitr' | 'instance' | 'roles' | 'sync' | 'agent'>;
import { UsageError } from '../../core/errors.js';
import {
  archiveCommand,
  pgbackrestConf,
  repo2Env,
  repo2FromSync,
  restoreCommand,
  type PgTarget,
  type PgbackrestConfInputs,
  type Repo1,
  type Repo2,
  type TlsFiles,
} from '../../core/pitr/conf.js';
import type { ConnectionSettings } from '../backup/conn.js';
import type { Logger } from '../log.js';
import type { PgbackrestRunner } from './pgbackrest.js';

export type PitrRole = 'member' | 'job' | 'repo-host';

/** The spool of the asynchronous archive: on the data volume, beside PGDATA (a re-clone removes PGDATA). */
export function spoolPath(config: PitrSettings): string {
  return (
    config.pitr.spoolPath ??
    join(dirname(config.instance.dataDir), `${basename(config.instance.dataDir)}.pgbackrest-spool`)
  );
}

function repo1Of(config: PitrSettings): Repo1 | undefined {
  if (config.pitr.repo1Path) return { kind: 'posix', path: config.pitr.repo1Path };
  if (config.pitr.repo1Host) return { kind: 'tls', host: config.pitr.repo1Host, port: config.pitr.tlsPort };
  return undefined;
}

/** repo2 from the cross-region settings, when PGOPS_PGBACKREST_REPO2 is on. */
export function repo2Of(config: PitrSettings, raw: NodeJS.ProcessEnv): Repo2 | undefined {
  if (!config.pitr.repo2) return undefined;
  if (!config.sync.provider || !config.sync.bucket)
    throw new UsageError(
      'E_REPO2_SETTINGS',
      'PGOPS_PGBACKREST_REPO2 is on but the object store is not set (PGOPS_SYNC_PROVIDER and PGOPS_SYNC_BUCKET)',
      {},
      { hint: 'Set databases.postgres.crossRegion.provider and bucket, or turn pitr.repo2 off.' },
    );
  try {
    return repo2FromSync({
      provider: config.sync.provider,
      bucket: config.sync.bucket,
      prefix: config.sync.prefix,
      endpoint: config.sync.endpoint,
      region: config.sync.region,
      verifyTls: config.pitr.repo2VerifyTls,
      gcsKeyFile: raw.GOOGLE_APPLICATION_CREDENTIALS,
      hasKeys: Boolean(raw.AWS_ACCESS_KEY_ID),
      webIdentity: Boolean(raw.AWS_WEB_IDENTITY_TOKEN_FILE),
    });
  } catch (err) {
    throw new UsageError(
      'E_REPO2_SETTINGS',
      `repo2 cannot be used: ${(err as Error).message}`,
      {},
      {
        hint: 'Use an https:// endpoint (PGOPS_SYNC_ENDPOINT, crossRegion.endpoint).',
      },
    );
  }
}

function tlsFiles(config: PitrSettings): TlsFiles | undefined {
  const d = config.pitr.tlsDir;
  return d
    ? { caFile: join(d, 'ca.crt'), certFile: join(d, 'tls.crt'), keyFile: join(d, 'tls.key') }
    : undefined;
}

/** The inputs of pgBackRest's configuration for `role`; lockPath is where its lock files go. */
export function confInputs(
  config: PitrSettings,
  raw: NodeJS.ProcessEnv,
  role: PitrRole,
  lockPath: string,
): PgbackrestConfInputs {
  const tls = tlsFiles(config);
  let pg: PgTarget[];
  if (role === 'repo-host') {
    const hosts = config.pitr.pgHosts
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    // The member's TLS server runs pgBackRest with these options: its socket is at the same path.
    pg = hosts.map((host) => ({
      path: config.instance.dataDir,
      port: config.instance.port,
      socketPath: config.instance.socketDir,
      host,
      hostPort: config.pitr.tlsPort,
    }));
  } else
    pg = [
      { path: config.instance.dataDir, port: config.instance.port, socketPath: config.instance.socketDir },
    ];
  return {
    stanza: config.pitr.stanza,
    pg,
    repo1: repo1Of(config),
    repo2: repo2Of(config, raw),
    retentionFull: config.pitr.retentionFull,
    processMax: config.pitr.processMax,
    spoolPath: role === 'member' ? spoolPath(config) : undefined,
    lockPath,
    tlsClient: tls,
    tlsServer:
      tls && role !== 'job'
        ? { ...tls, port: config.pitr.tlsPort, allowedClientCn: config.pitr.tlsClientCn }
        : undefined,
    pgUser: config.roles.superuser,
  };
}

/** Environment pgBackRest needs besides ours: repo2's keys from the vendors' variables. */
export function pgbackrestEnv(config: PitrSettings, raw: NodeJS.ProcessEnv): Record<string, string> {
  const r2 = repo2Of(config, raw);
  return r2 ? repo2Env(r2.provider, raw) : {};
}

/** Writes `text` to `path` (0600) through a temporary name; true when the content changed. */
export function writePrivate(path: string, text: string, previous?: string): boolean {
  if (previous === text && existsSync(path)) return false;
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
  return true;
}

/** The member's file, next to Patroni's in the private runtime directory. */
export function memberConfPath(config: PitrSettings): string {
  return join(config.instance.socketDir, 'pgops', 'pgbackrest.conf');
}

/**
 * archive_command and restore_command for a member: through pgBackRest when PITR is on and a
 * repository is configured; `true` otherwise (archive_mode stays on).
 */
export function memberArchiveSettings(config: PitrSettings): {
  archiveCommand: string;
  restoreCommand?: string;
} {
  const on =
    config.pitr.enabled && Boolean(config.pitr.repo1Path || config.pitr.repo1Host || config.pitr.repo2);
  if (!on) return { archiveCommand: archiveCommand(undefined, config.pitr.stanza) };
  const conf = memberConfPath(config);
  return {
    archiveCommand: archiveCommand(conf, config.pitr.stanza),
    restoreCommand: restoreCommand(conf, config.pitr.stanza),
  };
}

/** True when this member archives (PITR on and a repository set). */
export function archives(config: PitrSettings): boolean {
  return memberArchiveSettings(config).restoreCommand !== undefined;
}

/** A job's own configuration in a private temporary folder, removed by `dispose`. */
export function jobConf(config: PitrSettings, raw: NodeJS.ProcessEnv, role: PitrRole = 'job') {
  const dir = mkdtempSync(join(tmpdir(), 'pgops-pgbackrest-'));
  const lock = join(dir, 'lock');
  mkdirSync(lock, { mode: 0o700 });
  const file = join(dir, 'pgbackrest.conf');
  writeFileSync(file, pgbackrestConf(confInputs(config, raw, role, lock)), { mode: 0o600 });
  return {
    file,
    dir,
    env: pgbackrestEnv(config, raw),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** repo numbers a job on this machine can back up into: repo1 when it is a folder here, repo2 when set. */
export function localRepos(config: PitrSettings): number[] {
  return [...(config.pitr.repo1Path ? [1] : []), ...(config.pitr.repo2 ? [2] : [])];
}

/** Every repository this machine's configuration names (repo1 local or over TLS, repo2). */
export function configuredRepos(config: PitrSettings): number[] {
  return [...(config.pitr.repo1Path || config.pitr.repo1Host ? [1] : []), ...(config.pitr.repo2 ? [2] : [])];
}

/** How list-backups names where a physical backup is: repo1's folder, repo2's URL. */
export function repoLocations(config: PitrSettings, raw: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  if (config.pitr.repo1Path) out.repo1 = config.pitr.repo1Path;
  else if (config.pitr.repo1Host) out.repo1 = `${config.pitr.repo1Host}:/pgbackrest`;
  const r2 = repo2Of(config, raw);
  if (r2) {
    const scheme = r2.provider === 'gcs' ? 'gs' : r2.provider;
    out.repo2 = `${scheme}://${r2.bucket}${r2.path}`;
  }
  return out;
}

/** What a pgBackRest job of the agent needs: its settings, the raw environment (cloud keys), a logger. */
export interface PitrJobContext {
  /** The pgBackRest settings, and the job's connection to the primary. */
  config: PitrSettings & ConnectionSettings;
  rawEnv: NodeJS.ProcessEnv;
  log: Logger;
}

/** A job's configuration and a runner over it; `dispose` removes the configuration. */
export function jobRunner(
  config: PitrSettings,
  raw: NodeJS.ProcessEnv,
): { runner: PgbackrestRunner; dispose: () => void } {
  const conf = jobConf(config, raw);
  return {
    runner: { configFile: conf.file, stanza: config.pitr.stanza, env: conf.env },
    dispose: conf.dispose,
  };
}

/** Refuses (exit 2) what needs point-in-time recovery when it is off, saying how to turn it on. */
export function requirePitr(config: PitrSettings, what: string): void {
  if (!config.pitr.enabled)
    throw new UsageError(
      'E_PITR_OFF',
      `${what} needs point-in-time recovery, which is off (PGOPS_PITR)`,
      {},
      {
        hint:
          config.agent.mode === 'local'
            ? 'Local mode turns it on: postgres-ops local up'
            : 'Set databases.postgres.pitr.enabled=true and upgrade the release.',
      },
    );
}
