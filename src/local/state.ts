/**
 * The local mode's state folder (`.postgres-ops/` at the repository root, or --state-dir): data
 * directories, backups, the passfile, generated passwords (0600), ports, pids and logs. One JSON
 * file says what exists; everything else is derived from the folder's path, so it can be moved.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/errors.js';
import { passfileLine } from '../core/pg/conninfo.js';
import type { Role } from '../core/cluster/cluster-api.js';
import { postgresOsUser } from './os-user.js';

export interface LocalInstance {
  name: string;
  /** The role it had when last seen; Patroni decides who leads and PostgreSQL has the last word. */
  role: Role;
  port: number;
  /** The agent's own health endpoint. */
  healthPort: number;
  /** Patroni's REST API. */
  restApiPort: number;
}

/** Patroni timings; the defaults are Patroni's own (tests shorten them). */
export interface HaTimings {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

export interface LocalState {
  version: 2;
  release: string;
  createdAt: string;
  /** The member that led when last seen (Patroni's leader record is the truth). */
  primary: string;
  instances: LocalInstance[];
  exporterPort: number;
  etcd: { clientPort: number; peerPort: number };
  failover: 'automatic' | 'manual';
  synchronous: boolean;
  /** Keep the primary while etcd is unreachable but every member answers (default true). */
  failsafe?: boolean;
  ha?: HaTimings;
  /** PostgreSQL settings over the chart's defaults, and the slot WAL bound (empty: sized from the disk). */
  settings?: { parameters?: Record<string, string>; maxSlotWalKeepSize?: string };
  /** Point-in-time recovery (on unless `enabled: false`): repo1 in <state>/pgbackrest. */
  pitr?: LocalPitrSettings;
}

export interface LocalPitrSettings {
  enabled?: boolean;
  /** archive_timeout in seconds (default 60). */
  archiveTimeoutSeconds?: number;
  retentionFull?: number;
  /** repo2 on the object store named in objectstore.env (PGOPS_SYNC_*), credentials from it too. */
  repo2?: boolean;
  /** Only for a test store with a self-signed certificate. */
  repo2VerifyTls?: boolean;
}

/** A state file written before the members ran under Patroni (version 1). */
export interface LegacyState extends Omit<
  LocalState,
  'version' | 'instances' | 'etcd' | 'failover' | 'synchronous'
> {
  version: 1;
  instances: Omit<LocalInstance, 'restApiPort'>[];
}

export type SecretFile = 'superuser-password' | 'replication-password' | 'app-password' | 'restapi-password';
export const SECRET_FILES: readonly SecretFile[] = [
  'superuser-password',
  'replication-password',
  'app-password',
  'restapi-password',
];

export const STATE_FILE = 'state.json';
export const SUPERUSER = 'postgres';
export const LOCAL_NAMESPACE = 'local';

/** The package root (where package.json and scripts/ live), found from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export function defaultStateDir(): string {
  return join(packageRoot(), '.postgres-ops');
}

export class StatePaths {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }
  get stateFile() {
    return join(this.root, STATE_FILE);
  }
  get secretsDir() {
    return join(this.root, 'secrets');
  }
  get runDir() {
    return join(this.root, 'run');
  }
  get logsDir() {
    return join(this.root, 'logs');
  }
  get backupsDir() {
    return join(this.root, 'backups');
  }
  get snapshotsDir() {
    return join(this.root, 'snapshots');
  }
  /** repo1 of pgBackRest: physical backups and the WAL archive. */
  get pgbackrestDir() {
    return join(this.root, 'pgbackrest');
  }
  get passfile() {
    return join(this.root, 'pgpass');
  }
  secret(name: SecretFile) {
    return join(this.secretsDir, name);
  }
  /** An instance's socket and private runtime directory. */
  instanceRunDir(instance: string) {
    return join(this.runDir, instance);
  }
  dataDir(instance: string) {
    return join(this.root, 'data', instance);
  }
  pidFile(proc: string) {
    return join(this.runDir, `${proc}.pid`);
  }
  logFile(proc: string) {
    return join(this.logsDir, `${proc}.log`);
  }
}

export function stateExists(root: string): boolean {
  return existsSync(new StatePaths(root).stateFile);
}

export function readState(root: string): LocalState {
  const s = readAnyState(root);
  if (s.version === 1)
    throw new UsageError(
      'E_STATE_UPGRADE',
      `${new StatePaths(root).stateFile} was written by an earlier postgres-ops, before the members ran under Patroni`,
      { stateDir: new StatePaths(root).root },
      { hint: 'Run postgres-ops local up once: it keeps the data and moves the members under Patroni.' },
    );
  return s;
}

/** The state file as it is, in either layout. */
export function readAnyState(root: string): LocalState | LegacyState {
  const paths = new StatePaths(root);
  let text: string;
  try {
    text = readFileSync(paths.stateFile, 'utf8');
  } catch {
    throw new UsageError(
      'E_NO_LOCAL_STATE',
      `no local PostgreSQL set up in ${paths.root}`,
      { stateDir: paths.root },
      { hint: 'Start one: postgres-ops local up' },
    );
  }
  try {
    const s = JSON.parse(text) as LocalState | LegacyState;
    if ((s.version !== 1 && s.version !== 2) || !Array.isArray(s.instances))
      throw new Error('unknown layout');
    return s;
  } catch (err) {
    throw new UsageError(
      'E_BAD_LOCAL_STATE',
      `${paths.stateFile} is not a postgres-ops state file: ${(err as Error).message}`,
      { stateFile: paths.stateFile },
      { hint: `Move it away or pass another --state-dir.` },
    );
  }
}

/** Written to a temporary name and renamed, so a crash never leaves half a state file. */
export function writeState(root: string, state: LocalState): void {
  const paths = new StatePaths(root);
  const tmp = `${paths.stateFile}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, paths.stateFile);
}

/** A directory the postgres OS user owns (data, sockets) or may enter. */
export function ensureDir(path: string, mode: number, ownedByPostgres = false): void {
  mkdirSync(path, { recursive: true, mode });
  chmodSync(path, mode);
  const u = postgresOsUser();
  if (ownedByPostgres && u.uid !== undefined) chownSync(path, u.uid, u.gid!);
}

function writeSecretFile(path: string, value: string, ownedByPostgres: boolean) {
  writeFileSync(path, value + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  const u = postgresOsUser();
  if (ownedByPostgres && u.uid !== undefined) chownSync(path, u.uid, u.gid!);
}

export function readSecret(root: string, name: SecretFile) {
  return readFileSync(new StatePaths(root).secret(name), 'utf8').trim();
}

/**
 * Creates the folder layout and, once, the passwords (random, 0600, readable by the postgres OS
 * user who runs the instances) and the libpq passfile for the person running postgres-ops.
 */
export function prepareStateDir(root: string): StatePaths {
  const p = new StatePaths(root);
  ensureDir(p.root, 0o755);
  ensureDir(join(p.root, 'data'), 0o755, true);
  ensureDir(p.runDir, 0o755, true);
  ensureDir(p.logsDir, 0o755);
  ensureDir(p.backupsDir, 0o750);
  ensureDir(p.pgbackrestDir, 0o750, true);
  ensureDir(p.secretsDir, 0o711);
  for (const name of SECRET_FILES) {
    if (!existsSync(p.secret(name)))
      writeSecretFile(p.secret(name), randomBytes(18).toString('base64url'), true);
  }
  const line = passfileLine('*', '*', '*', SUPERUSER, readSecret(root, 'superuser-password'));
  writeSecretFile(p.passfile, line, false);
  return p;
}
