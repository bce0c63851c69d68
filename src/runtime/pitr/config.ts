/**
 * pgBackRest's configuration for each place it runs, from the agent's settings: a member (archive
 * push/get, its TLS server on Kubernetes), a job on the repository's machine (backup, expire, info,
 * restore, drill; local mode and the repository pod), and the repository pod itself. Written 0600
 * into a private directory; the object store's keys go into the environment of pgBackRest only.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { AgentEnv } from '../../core/config/schema.js';
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
import type { Logger } from '../log.js';
import type { PgbackrestRunner } from './pgbackrest.js';

export type PitrRole = 'member' | 'job' | 'repo-host';

/** The spool of the asynchronous archive: on the data volume, beside PGDATA (a re-clone removes PGDATA). */
export function spoolPath(env: AgentEnv): string {
  return (
    env.PGOPS_PGBACKREST_SPOOL_PATH ?? join(dirname(env.PGDATA), `${basename(env.PGDATA)}.pgbackrest-spool`)
  );
}

function repo1Of(env: AgentEnv): Repo1 | undefined {
  if (env.PGOPS_PGBACKREST_REPO1_PATH) return { kind: 'posix', path: env.PGOPS_PGBACKREST_REPO1_PATH };
  if (env.PGOPS_PGBACKREST_REPO1_HOST)
    return { kind: 'tls', host: env.PGOPS_PGBACKREST_REPO1_HOST, port: env.PGOPS_PGBACKREST_TLS_PORT };
  return undefined;
}

/** repo2 from the cross-region settings, when PGOPS_PGBACKREST_REPO2 is on. */
export function repo2Of(env: AgentEnv, raw: NodeJS.ProcessEnv): Repo2 | undefined {
  if (!env.PGOPS_PGBACKREST_REPO2) return undefined;
  if (!env.PGOPS_SYNC_PROVIDER || !env.PGOPS_SYNC_BUCKET)
    throw new UsageError(
      'E_REPO2_SETTINGS',
      'PGOPS_PGBACKREST_REPO2 is on but the object store is not set (PGOPS_SYNC_PROVIDER and PGOPS_SYNC_BUCKET)',
      {},
      { hint: 'Set databases.postgres.crossRegion.provider and bucket, or turn pitr.repo2 off.' },
    );
  try {
    return repo2FromSync({
      provider: env.PGOPS_SYNC_PROVIDER,
      bucket: env.PGOPS_SYNC_BUCKET,
      prefix: env.PGOPS_SYNC_PREFIX,
      endpoint: env.PGOPS_SYNC_ENDPOINT,
      region: env.PGOPS_SYNC_REGION,
      verifyTls: env.PGOPS_PGBACKREST_REPO2_VERIFY_TLS,
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

function tlsFiles(env: AgentEnv): TlsFiles | undefined {
  const d = env.PGOPS_PGBACKREST_TLS_DIR;
  return d
    ? { caFile: join(d, 'ca.crt'), certFile: join(d, 'tls.crt'), keyFile: join(d, 'tls.key') }
    : undefined;
}

/** The inputs of pgBackRest's configuration for `role`; lockPath is where its lock files go. */
export function confInputs(
  env: AgentEnv,
  raw: NodeJS.ProcessEnv,
  role: PitrRole,
  lockPath: string,
): PgbackrestConfInputs {
  const tls = tlsFiles(env);
  let pg: PgTarget[];
  if (role === 'repo-host') {
    const hosts = env.PGOPS_PGBACKREST_PG_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    // The member's TLS server runs pgBackRest with these options: its socket is at the same path.
    pg = hosts.map((host) => ({
      path: env.PGDATA,
      port: env.PGOPS_PORT,
      socketPath: env.PGOPS_SOCKET_DIR,
      host,
      hostPort: env.PGOPS_PGBACKREST_TLS_PORT,
    }));
  } else pg = [{ path: env.PGDATA, port: env.PGOPS_PORT, socketPath: env.PGOPS_SOCKET_DIR }];
  return {
    stanza: env.PGOPS_PGBACKREST_STANZA,
    pg,
    repo1: repo1Of(env),
    repo2: repo2Of(env, raw),
    retentionFull: env.PGOPS_PGBACKREST_RETENTION_FULL,
    processMax: env.PGOPS_PGBACKREST_PROCESS_MAX,
    spoolPath: role === 'member' ? spoolPath(env) : undefined,
    lockPath,
    tlsClient: tls,
    tlsServer:
      tls && role !== 'job'
        ? { ...tls, port: env.PGOPS_PGBACKREST_TLS_PORT, allowedClientCn: env.PGOPS_PGBACKREST_TLS_CLIENT_CN }
        : undefined,
    pgUser: env.PGOPS_SUPERUSER,
  };
}

/** Environment pgBackRest needs besides ours: repo2's keys from the vendors' variables. */
export function pgbackrestEnv(env: AgentEnv, raw: NodeJS.ProcessEnv): Record<string, string> {
  const r2 = repo2Of(env, raw);
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
export function memberConfPath(env: AgentEnv): string {
  return join(env.PGOPS_SOCKET_DIR, 'pgops', 'pgbackrest.conf');
}

/**
 * archive_command and restore_command for a member: through pgBackRest when PITR is on and a
 * repository is configured; `true` otherwise (archive_mode stays on).
 */
export function memberArchiveSettings(env: AgentEnv): { archiveCommand: string; restoreCommand?: string } {
  const on =
    env.PGOPS_PITR &&
    Boolean(env.PGOPS_PGBACKREST_REPO1_PATH || env.PGOPS_PGBACKREST_REPO1_HOST || env.PGOPS_PGBACKREST_REPO2);
  if (!on) return { archiveCommand: archiveCommand(undefined, env.PGOPS_PGBACKREST_STANZA) };
  const conf = memberConfPath(env);
  return {
    archiveCommand: archiveCommand(conf, env.PGOPS_PGBACKREST_STANZA),
    restoreCommand: restoreCommand(conf, env.PGOPS_PGBACKREST_STANZA),
  };
}

/** True when this member archives (PITR on and a repository set). */
export function archives(env: AgentEnv): boolean {
  return memberArchiveSettings(env).restoreCommand !== undefined;
}

/** A job's own configuration in a private temporary folder, removed by `dispose`. */
export function jobConf(env: AgentEnv, raw: NodeJS.ProcessEnv, role: PitrRole = 'job') {
  const dir = mkdtempSync(join(tmpdir(), 'pgops-pgbackrest-'));
  const lock = join(dir, 'lock');
  mkdirSync(lock, { mode: 0o700 });
  const file = join(dir, 'pgbackrest.conf');
  writeFileSync(file, pgbackrestConf(confInputs(env, raw, role, lock)), { mode: 0o600 });
  return {
    file,
    dir,
    env: pgbackrestEnv(env, raw),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** repo numbers a job on this machine can back up into: repo1 when it is a folder here, repo2 when set. */
export function localRepos(env: AgentEnv): number[] {
  return [...(env.PGOPS_PGBACKREST_REPO1_PATH ? [1] : []), ...(env.PGOPS_PGBACKREST_REPO2 ? [2] : [])];
}

/** Every repository this machine's configuration names (repo1 local or over TLS, repo2). */
export function configuredRepos(env: AgentEnv): number[] {
  return [
    ...(env.PGOPS_PGBACKREST_REPO1_PATH || env.PGOPS_PGBACKREST_REPO1_HOST ? [1] : []),
    ...(env.PGOPS_PGBACKREST_REPO2 ? [2] : []),
  ];
}

/** How list-backups names where a physical backup is: repo1's folder, repo2's URL. */
export function repoLocations(env: AgentEnv, raw: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.PGOPS_PGBACKREST_REPO1_PATH) out.repo1 = env.PGOPS_PGBACKREST_REPO1_PATH;
  else if (env.PGOPS_PGBACKREST_REPO1_HOST) out.repo1 = `${env.PGOPS_PGBACKREST_REPO1_HOST}:/pgbackrest`;
  const r2 = repo2Of(env, raw);
  if (r2) {
    const scheme = r2.provider === 'gcs' ? 'gs' : r2.provider;
    out.repo2 = `${scheme}://${r2.bucket}${r2.path}`;
  }
  return out;
}

/** What a pgBackRest job of the agent needs: its settings, the raw environment (cloud keys), a logger. */
export interface PitrJobContext {
  env: AgentEnv;
  rawEnv: NodeJS.ProcessEnv;
  log: Logger;
}

/** A job's configuration and a runner over it; `dispose` removes the configuration. */
export function jobRunner(
  env: AgentEnv,
  raw: NodeJS.ProcessEnv,
): { runner: PgbackrestRunner; dispose: () => void } {
  const conf = jobConf(env, raw);
  return {
    runner: { configFile: conf.file, stanza: env.PGOPS_PGBACKREST_STANZA, env: conf.env },
    dispose: conf.dispose,
  };
}

/** Refuses (exit 2) what needs point-in-time recovery when it is off, saying how to turn it on. */
export function requirePitr(env: AgentEnv, what: string): void {
  if (!env.PGOPS_PITR)
    throw new UsageError(
      'E_PITR_OFF',
      `${what} needs point-in-time recovery, which is off (PGOPS_PITR)`,
      {},
      {
        hint:
          env.PGOPS_MODE === 'local'
            ? 'Local mode turns it on: postgres-ops local up'
            : 'Set databases.postgres.pitr.enabled=true and upgrade the release.',
      },
    );
}
