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
import {
  type HaTimings,
  type LegacyState,
  type LocalInstance,
  type LocalState,
  parseLocalState,
} from '../core/local-state.js';
import { passfileLine } from '../core/pg/conninfo.js';
import { postgresOsUser } from './os-user.js';

export type { HaTimings, LegacyState, LocalInstance, LocalState };

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
  const parsed = parseLocalState(text);
  if (!parsed.ok)
    throw new UsageError(
      'E_BAD_LOCAL_STATE',
      `${paths.stateFile} is not a postgres-ops state file: ${parsed.reason}`,
      { stateFile: paths.stateFile },
      { hint: `Move it away or pass another --state-dir.` },
    );
  return parsed.state;
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
