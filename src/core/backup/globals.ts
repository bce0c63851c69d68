/**
 * Restoring the roles of a `pg_dumpall --globals-only --no-role-passwords` script without touching
 * roles that already exist: their passwords and attributes belong to the running cluster (the
 * chart's Secret), not to the backup. Only CREATE ROLE / ALTER ROLE for missing roles, and role
 * memberships (GRANT ... TO ...), are applied, each a single statement; tablespaces and settings
 * are left out.
 */
import { isSingleStatement } from './psql-script.js';

export interface GlobalsPlan {
  statements: string[];
  createdRoles: string[];
  skippedRoles: string[];
}

/** Reads an identifier as pg_dumpall prints it (bare or double-quoted) at the start of `s`. */
function readIdent(s: string): { name: string; rest: string } | undefined {
  if (s.startsWith('"')) {
    let i = 1;
    let name = '';
    while (i < s.length) {
      if (s[i] === '"') {
        if (s[i + 1] === '"') {
          name += '"';
          i += 2;
          continue;
        }
        return { name, rest: s.slice(i + 1) };
      }
      name += s[i];
      i++;
    }
    return undefined;
  }
  const m = /^([A-Za-z_][A-Za-z0-9_$]*)/.exec(s);
  return m ? { name: m[1]!, rest: s.slice(m[1]!.length) } : undefined;
}

export function planGlobalsRestore(script: string, existingRoles: Set<string>): GlobalsPlan {
  const statements: string[] = [];
  const created = new Set<string>();
  const skipped = new Set<string>();
  for (const raw of script.split('\n')) {
    const line = raw.trim();
    // pg_dumpall writes one statement a line; a line with more (a tampered file) is never run.
    if (!isSingleStatement(line)) continue;
    let m: RegExpExecArray | null;
    if ((m = /^(CREATE|ALTER) ROLE (.*)$/.exec(line))) {
      const id = readIdent(m[2]!);
      if (!id) continue;
      if (existingRoles.has(id.name)) {
        skipped.add(id.name);
        continue;
      }
      if (m[1] === 'CREATE') created.add(id.name);
      // A role that was neither created here nor exists is left alone (ALTER would fail anyway).
      if (m[1] === 'ALTER' && !created.has(id.name)) continue;
      statements.push(line);
    } else if (/^GRANT \S.* TO /.test(line) && line.endsWith(';')) {
      statements.push(line);
    }
  }
  return { statements, createdRoles: [...created], skippedRoles: [...skipped] };
}
