/**
 * The only place that builds libpq connection strings. Passwords never go into a URI or conninfo
 * we print: callers pass a passfile path (libpq's `passfile` parameter) or hand the password to
 * the driver separately.
 */
/** application_name of every session postgres-ops opens (so monitor can tell them from the application's). */
export const OPS_APPLICATION_NAME = 'postgres-ops';

export interface ConnTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** Path of a libpq passfile (0600) holding the password; named in the URI, never the password itself. */
  passfile?: string;
  /** Extra libpq parameters (application_name, sslmode, connect_timeout, ...). */
  params?: Record<string, string | number>;
}

function hostPart(host: string): string {
  // Unix socket directories and IPv6 literals cannot stand bare in the authority of a URI.
  if (host.startsWith('/')) return '';
  if (host.includes(':')) return `[${host}]`;
  return host;
}

/** A libpq URI such as postgresql://postgres@127.0.0.1:5433/postgres?passfile=/x/.pgpass */
export function toUri(t: ConnTarget): string {
  const params = new URLSearchParams();
  if (t.host.startsWith('/')) params.set('host', t.host);
  if (t.passfile) params.set('passfile', t.passfile);
  for (const [k, v] of Object.entries(t.params ?? {})) params.set(k, String(v));
  const query = params.toString();
  const user = encodeURIComponent(t.user);
  const db = encodeURIComponent(t.database);
  return `postgresql://${user}@${hostPart(t.host)}:${t.port}/${db}${query ? `?${query}` : ''}`;
}

/** The same libpq URI naming another database (host, port, user and parameters kept). */
export function withDatabase(uri: string, database: string): string {
  const m = /^(postgres(?:ql)?:\/\/[^/?]*)(?:\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!m) throw new Error(`not a libpq URI: ${uri}`);
  return `${m[1]}/${encodeURIComponent(database)}${m[2] ?? ''}`;
}

function quoteConninfoValue(v: string): string {
  if (v !== '' && /^[^\s'\\]+$/.test(v)) return v;
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The conninfo psql takes as -d for a local database (socket, default user), naming our sessions. */
export function opsDatabaseConninfo(database: string): string {
  return `dbname=${quoteConninfoValue(database)} application_name=${OPS_APPLICATION_NAME}`;
}

/** One line of a libpq passfile (hostname:port:database:username:password), escaped as libpq reads it. */
export function passfileLine(
  host: string,
  port: number | '*',
  database: string,
  user: string,
  password: string,
): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  return [host, String(port), database, user, password].map(esc).join(':');
}

/**
 * node-postgres client options (password passed separately, never through a string we print).
 * `sslmode=require` encrypts without checking the certificate, as libpq's require does; the driver
 * cannot fall back like libpq's prefer, so prefer (and no sslmode) connects in plain text.
 */
export function toClientConfig(t: ConnTarget, password?: string) {
  const sslmode = t.params?.sslmode;
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    database: t.database,
    password,
    application_name: String(t.params?.application_name ?? OPS_APPLICATION_NAME),
    connectionTimeoutMillis: Number(t.params?.connect_timeout ?? 10) * 1000,
    ...(sslmode === 'require' ? { ssl: { rejectUnauthorized: false } } : {}),
    ...(sslmode === 'disable' ? { ssl: false } : {}),
  };
}

/** A value quoted as an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A value quoted as an SQL string literal (standard_conforming_strings on). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
