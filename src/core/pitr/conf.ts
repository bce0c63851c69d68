/**
 * pgBackRest's configuration, built from our settings. Pure: the agent writes the text into a
 * private 0600 file and passes `--config` explicitly on every call (Debian's package also ships a
 * legacy /etc/pgbackrest.conf that must never be read). Secrets are never written here: object
 * store keys reach pgBackRest as PGBACKREST_REPO2_* environment variables (see `repo2Env`).
 */
import { isUrl } from '../sync/url.js';

/** repo1: a folder on this machine, or the repository pod's TLS server. */
export type Repo1 = { kind: 'posix'; path: string } | { kind: 'tls'; host: string; port: number };

export interface Repo2 {
  provider: 's3' | 'gcs' | 'azure';
  bucket: string;
  /** Path under the bucket, starting with "/". */
  path: string;
  /** Host name only (no scheme, no port). */
  endpoint?: string;
  port?: number;
  region?: string;
  /** Path-style S3 URLs (S3-compatible stores and emulators). */
  pathStyle: boolean;
  verifyTls: boolean;
  /** How credentials are found: keys in the environment, or the platform's identity. */
  keyType: 'shared' | 'auto' | 'web-id' | 'service';
  /** GCS service key file (a path, not a secret itself). */
  gcsKeyFile?: string;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface PgTarget {
  /** Data directory (pg1-path must equal data_directory). */
  path: string;
  port: number;
  socketPath?: string;
  /** Remote member reached over its TLS server (repository host only). */
  host?: string;
  hostPort?: number;
}

export interface PgbackrestConfInputs {
  stanza: string;
  pg: PgTarget[];
  repo1?: Repo1;
  repo2?: Repo2;
  retentionFull: number;
  processMax: number;
  spoolPath?: string;
  lockPath: string;
  /** Client certificate for TLS hosts (repo1 over TLS, pgN-host). */
  tlsClient?: TlsFiles;
  /** pgBackRest's own TLS server (members and the repository pod on Kubernetes). */
  tlsServer?: TlsFiles & { port: number; allowedClientCn: string };
  /** The OS user PostgreSQL runs as (pg1-user is the database role; postgres everywhere here). */
  pgUser: string;
}

function line(k: string, v: string | number | boolean): string {
  const s = typeof v === 'boolean' ? (v ? 'y' : 'n') : String(v);
  if (/[\n\r]/.test(s)) throw new Error(`pgBackRest option ${k} cannot hold a line break`);
  return `${k}=${s}`;
}

/** The whole file, [global] and the stanza's section. */
export function pgbackrestConf(c: PgbackrestConfInputs): string {
  const global: string[] = [
    // zst: the fastest and smallest here (docs/backups.md); bundling keeps small files together.
    line('compress-type', 'zst'),
    line('start-fast', true),
    line('lock-path', c.lockPath),
    // Our processes read pgBackRest's console output; no log files to fill a volume.
    line('log-level-console', 'warn'),
    line('log-level-stderr', 'off'),
    line('log-level-file', 'off'),
  ];
  if (c.spoolPath) {
    global.push(line('archive-async', true), line('spool-path', c.spoolPath));
  }
  if (c.repo1?.kind === 'posix') {
    global.push(
      line('repo1-path', c.repo1.path),
      line('repo1-bundle', true),
      line('repo1-retention-full', c.retentionFull),
      line('repo1-retention-full-type', 'count'),
    );
  } else if (c.repo1?.kind === 'tls') {
    if (!c.tlsClient) throw new Error('repo1 over TLS needs client certificate files');
    global.push(
      line('repo1-host-type', 'tls'),
      line('repo1-host', c.repo1.host),
      line('repo1-host-port', c.repo1.port),
      line('repo1-host-ca-file', c.tlsClient.caFile),
      line('repo1-host-cert-file', c.tlsClient.certFile),
      line('repo1-host-key-file', c.tlsClient.keyFile),
    );
  }
  if (c.repo2) global.push(...repo2Lines(c.repo2, c.retentionFull));
  if (c.tlsServer) {
    global.push(
      line('tls-server-address', '*'),
      line('tls-server-port', c.tlsServer.port),
      line('tls-server-ca-file', c.tlsServer.caFile),
      line('tls-server-cert-file', c.tlsServer.certFile),
      line('tls-server-key-file', c.tlsServer.keyFile),
      line('tls-server-auth', `${c.tlsServer.allowedClientCn}=${c.stanza}`),
    );
  }
  const stanza: string[] = [];
  c.pg.forEach((p, i) => {
    const n = i + 1;
    stanza.push(line(`pg${n}-path`, p.path), line(`pg${n}-port`, p.port), line(`pg${n}-user`, c.pgUser));
    if (p.socketPath) stanza.push(line(`pg${n}-socket-path`, p.socketPath));
    if (p.host) {
      if (!c.tlsClient) throw new Error('a remote member needs client certificate files');
      stanza.push(
        line(`pg${n}-host-type`, 'tls'),
        line(`pg${n}-host`, p.host),
        line(`pg${n}-host-port`, p.hostPort ?? 8432),
        line(`pg${n}-host-ca-file`, c.tlsClient.caFile),
        line(`pg${n}-host-cert-file`, c.tlsClient.certFile),
        line(`pg${n}-host-key-file`, c.tlsClient.keyFile),
      );
    }
  });
  return [
    '# Written by postgres-agent; read with --config only.',
    '[global]',
    ...global,
    '',
    // Parallel copy and compression where the volume of data is: the archive both ways, backups
    // and restores (never in [global], which the TLS servers and info commands read too).
    ...['archive-push', 'archive-get', 'backup', 'restore'].flatMap((cmd) => [
      `[global:${cmd}]`,
      line('process-max', c.processMax),
      '',
    ]),
    `[${c.stanza}]`,
    ...stanza,
    '',
  ].join('\n');
}

function repo2Lines(r: Repo2, retentionFull: number): string[] {
  const out = [line('repo2-type', r.provider), line('repo2-path', r.path), line('repo2-bundle', true)];
  out.push(line('repo2-retention-full', retentionFull), line('repo2-retention-full-type', 'count'));
  if (r.provider === 's3') {
    out.push(
      line('repo2-s3-bucket', r.bucket),
      line('repo2-s3-endpoint', r.endpoint ?? `s3.${r.region ?? 'us-east-1'}.amazonaws.com`),
      line('repo2-s3-region', r.region ?? 'us-east-1'),
      line('repo2-s3-key-type', r.keyType === 'service' ? 'shared' : r.keyType),
    );
    if (r.pathStyle) out.push(line('repo2-s3-uri-style', 'path'));
  } else if (r.provider === 'gcs') {
    out.push(line('repo2-gcs-bucket', r.bucket));
    if (r.endpoint) out.push(line('repo2-gcs-endpoint', r.endpoint));
    if (r.gcsKeyFile) out.push(line('repo2-gcs-key-type', 'service'), line('repo2-gcs-key', r.gcsKeyFile));
    else out.push(line('repo2-gcs-key-type', 'auto'));
  } else {
    out.push(line('repo2-azure-container', r.bucket));
    if (r.endpoint) out.push(line('repo2-azure-endpoint', r.endpoint), line('repo2-azure-uri-style', 'path'));
  }
  if (r.port) out.push(line('repo2-storage-port', r.port));
  if (!r.verifyTls) out.push(line('repo2-storage-verify-tls', false));
  return out;
}

/** Quotes a path for archive_command / restore_command (run by PostgreSQL through a shell). */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** archive_command: every completed segment to every repository; `true` when PITR is off. */
export function archiveCommand(configFile: string | undefined, stanza: string): string {
  if (!configFile) return 'true';
  return `pgbackrest --config=${shellQuote(configFile)} --stanza=${stanza} archive-push "%p"`;
}

/** restore_command: a replica (or a recovering copy) reads what streaming cannot give it from the archive. */
export function restoreCommand(configFile: string, stanza: string, pgPath?: string): string {
  // pgBackRest checks that the server's data directory is its pg1-path: a copy names its own.
  const path = pgPath ? ` --pg1-path=${shellQuote(pgPath)}` : '';
  return `pgbackrest --config=${shellQuote(configFile)}${path} --stanza=${stanza} archive-get %f "%p"`;
}

/**
 * The object store settings of the cross-region copies, as pgBackRest's repo2. The endpoint of an
 * S3-compatible store (an URL) gives the host and port; such stores need path-style URLs.
 */
export function repo2FromSync(s: {
  provider: 's3' | 'gcs' | 'azure';
  bucket: string;
  prefix: string;
  endpoint?: string;
  region?: string;
  verifyTls: boolean;
  gcsKeyFile?: string;
  hasKeys: boolean;
  webIdentity: boolean;
}): Repo2 {
  let endpoint: string | undefined;
  let port: number | undefined;
  if (s.endpoint) {
    const u = new URL(isUrl(s.endpoint) ? s.endpoint : `https://${s.endpoint}`);
    if (u.protocol !== 'https:')
      throw new Error(
        `pgBackRest 2.45 reaches object stores over HTTPS only; the endpoint ${s.endpoint} is ${u.protocol.replace(':', '')}`,
      );
    endpoint = u.hostname;
    port = u.port ? Number(u.port) : undefined;
  }
  const prefix = s.prefix.replace(/^\/+|\/+$/g, '');
  return {
    provider: s.provider,
    bucket: s.bucket,
    path: `/${prefix ? `${prefix}/` : ''}pgbackrest`,
    endpoint,
    port,
    region: s.region,
    pathStyle: s.provider === 's3' && Boolean(s.endpoint),
    verifyTls: s.verifyTls,
    keyType:
      s.provider === 'gcs'
        ? s.gcsKeyFile
          ? 'service'
          : 'auto'
        : s.hasKeys
          ? 'shared'
          : s.webIdentity
            ? 'web-id'
            : 'auto',
    gcsKeyFile: s.gcsKeyFile,
  };
}

/**
 * Object store credentials as pgBackRest reads them (environment, never the command line or the
 * file), from the vendors' own variables the cross-region copies use.
 */
export function repo2Env(
  provider: Repo2['provider'],
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (provider === 's3') {
    if (env.AWS_ACCESS_KEY_ID) out.PGBACKREST_REPO2_S3_KEY = env.AWS_ACCESS_KEY_ID;
    if (env.AWS_SECRET_ACCESS_KEY) out.PGBACKREST_REPO2_S3_KEY_SECRET = env.AWS_SECRET_ACCESS_KEY;
    if (env.AWS_SESSION_TOKEN) out.PGBACKREST_REPO2_S3_TOKEN = env.AWS_SESSION_TOKEN;
  } else if (provider === 'azure') {
    const cs = parseConnectionString(env.AZURE_STORAGE_CONNECTION_STRING ?? '');
    const account = cs.AccountName ?? env.AZURE_STORAGE_ACCOUNT;
    const key = cs.AccountKey ?? env.AZURE_STORAGE_KEY;
    if (account) out.PGBACKREST_REPO2_AZURE_ACCOUNT = account;
    if (key) out.PGBACKREST_REPO2_AZURE_KEY = key;
  }
  return out;
}

function parseConnectionString(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
