/**
 * Authentication and WAL-retention rules every member runs with, whatever Patroni writes around
 * them: SCRAM only (extra lines from the chart are checked), and a bound on the WAL a replication
 * slot may hold.
 */
import { UsageError } from '../errors.js';

/**
 * 25% of the data volume, in MB, as the default bound on WAL kept for replication slots: a dead
 * replica may hold at most a quarter of the disk, and the primary never fills its volume because of it.
 */
export function defaultSlotWalKeepSize(volumeBytes: number): string {
  const mb = Math.floor(volumeBytes / 4 / (1024 * 1024));
  return `${Math.max(mb, 64)}MB`;
}

/** The replication slot name Patroni gives a member: PostgreSQL allows only [a-z0-9_], at most 63 characters. */
export function slotNameFor(member: string): string {
  const s = member
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 63);
  return s || 'replica';
}

const FORBIDDEN_METHODS = new Set(['trust', 'password', 'md5']);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The fields of one pg_hba.conf line as PostgreSQL splits them: double quotes group (a space or `#`
 * inside them is part of the field), `#` outside quotes starts a comment, and an item ending in a
 * comma continues the same field, also across spaces (`db1, db2` is one field).
 */
export function hbaFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let listGoesOn = false;
  for (const c of line) {
    if (quoted) {
      field += c;
      if (c === '"') quoted = false;
    } else if (c === '#') {
      break;
    } else if (/\s/.test(c)) {
      if (!listGoesOn && field !== '') {
        fields.push(field);
        field = '';
      }
    } else {
      field += c;
      if (c === '"') quoted = true;
      listGoesOn = c === ',';
    }
  }
  if (field !== '') fields.push(field);
  return fields;
}

const unquote = (s: string) => s.replace(/"/g, '');

/**
 * The authentication method of one pg_hba.conf line: undefined for blank lines, comments and include
 * directives, '' for a rule that has none. PostgreSQL reads a quoted method like a bare one.
 */
export function hbaMethod(line: string): string | undefined {
  const tokens = hbaFields(line).map(unquote);
  if (tokens.length === 0) return undefined;
  const type = tokens[0]!;
  if (type.startsWith('include')) return undefined;
  if (type === 'local') return tokens[3] ?? '';
  // host* DATABASE USER ADDRESS [MASK] METHOD: a bare IP address is followed by its mask.
  const address = tokens[3] ?? '';
  const hasMask = !address.includes('/') && (IPV4.test(address) || address.includes(':'));
  return tokens[hasMask ? 5 : 4] ?? '';
}

/** Checks the extra lines of PGOPS_HBA_FILE: only scram-sha-256 (or reject, cert, peer) may be used. */
export function validateExtraHba(text: string, source: string): string[] {
  const lines = text.split('\n');
  const bad: string[] = [];
  lines.forEach((l, i) => {
    const where = `line ${i + 1}: "${l.trim()}"`;
    // PostgreSQL joins a line ending in a backslash (even a comment) with the next one, so the
    // method checked here would not be the method it reads.
    if (/\\\s*$/.test(l)) {
      bad.push(`${where} continues on the next line (trailing backslash); write each rule on one line`);
      return;
    }
    if (/^include/.test(hbaFields(l)[0] ?? '')) {
      bad.push(`${where} includes another file, which cannot be checked; put its lines here instead`);
      return;
    }
    const m = hbaMethod(l);
    if (m === undefined) return;
    if (FORBIDDEN_METHODS.has(m.toLowerCase())) bad.push(`${where} uses ${m}`);
    else if (m === '') bad.push(`${where} has no authentication method`);
  });
  if (bad.length > 0) {
    throw new UsageError(
      'E_HBA_METHOD',
      `${source} has pg_hba lines with an authentication method that is not allowed:\n${bad.join('\n')}`,
      { file: source },
      {
        hint: 'Use scram-sha-256 (or reject/cert) in every line of the extra pg_hba configuration; trust, password and md5 are refused.',
      },
    );
  }
  return lines.filter((l) => hbaMethod(l) !== undefined).map((l) => l.trim());
}

/**
 * pg_hba.conf rules, first match wins: the chart's extra lines (checked by validateExtraHba), the
 * superuser over the socket by OS identity (the agent must still get in after a password rotation,
 * before it has applied the new password), then SCRAM for everything. With TLS on, TCP connections
 * must use it (hostssl), except over loopback.
 */
export function hbaRules(opts: {
  superuser: string;
  replicationUser: string;
  extraLines: string[];
  /** pg_ident map name for the peer rule; no peer rule without one. */
  peerMap?: string;
  tls: boolean;
}): string[] {
  const host = opts.tls ? 'hostssl' : 'host';
  const u = opts.replicationUser;
  return [
    ...opts.extraLines,
    ...(opts.peerMap ? [`local all ${opts.superuser} peer map=${opts.peerMap}`] : []),
    'local all all scram-sha-256',
    // Loopback stays plain TCP under TLS: it never leaves the pod (the exporter sidecar uses it).
    ...(opts.tls ? ['host all all 127.0.0.1/32 scram-sha-256', 'host all all ::1/128 scram-sha-256'] : []),
    `${host} replication ${u} 0.0.0.0/0 scram-sha-256`,
    `${host} replication ${u} ::/0 scram-sha-256`,
    `${host} all all 0.0.0.0/0 scram-sha-256`,
    `${host} all all ::/0 scram-sha-256`,
  ];
}
