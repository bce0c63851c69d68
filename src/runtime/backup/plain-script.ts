/**
 * Plain SQL scripts are restored with psql, which runs meta-commands (`\!` is a shell). Before psql
 * starts, the whole script is read once and refused if it holds a meta-command pg_dump does not
 * write; while psql runs, the same check gates what reaches it (the file could change in between),
 * pg_dump's own `\restrict`/`\unrestrict` lines are blanked (line numbers stay), and psql runs in
 * its restricted mode under a key of ours, so psql itself refuses any meta-command we missed.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PsqlScriptScanner, type ScriptFinding } from '../../core/backup/psql-script.js';
import { OperationFailed, OpsError, SafetyRefusal, UsageError } from '../../core/errors.js';
import { exec } from '../exec.js';
import { pgBin } from '../pgbin.js';

const MAX_LINE = 256 * 1024 * 1024;

/** Splits a byte stream into lines (without the newline) and hands each to `onLine`. */
class LineSplitter {
  private carry: Buffer[] = [];
  private carryLength = 0;
  constructor(private readonly onLine: (line: Buffer, newline: boolean) => void) {}

  push(chunk: Buffer) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      const line = this.carryLength ? Buffer.concat([...this.carry, piece]) : piece;
      this.carry = [];
      this.carryLength = 0;
      this.onLine(line, true);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.carry.push(chunk.subarray(start));
      this.carryLength += chunk.length - start;
      if (this.carryLength > MAX_LINE) throw new Error(`a line longer than ${MAX_LINE} bytes`);
    }
  }

  end() {
    if (this.carryLength) this.onLine(Buffer.concat(this.carry), false);
    this.carry = [];
    this.carryLength = 0;
  }
}

/** The error for the first meta-command found in `file` (`what` says which file it is). */
export function metaCommandError(file: string, what: string, findings: ScriptFinding[]): OpsError {
  const f = findings[0]!;
  const more = findings.length > 1 ? ` (and ${findings.length - 1} more)` : '';
  if (f.kind === 'connect')
    return new UsageError(
      'E_PLAIN_CONNECT',
      `${what} ${file} line ${f.line}: ${f.command} switches to another database ("${f.excerpt}")${more}; restore restores one database, so nothing was changed`,
      { file, line: f.line, command: f.command },
      {
        hint: 'A script from pg_dumpall or pg_dump --create: restore it with psql by hand, or dump the one database with pg_dump and restore that.',
      },
    );
  return new SafetyRefusal(
    'E_PLAIN_META_COMMAND',
    `${what} ${file} line ${f.line}: the psql meta-command ${f.command} ("${f.excerpt}") would run on this machine${more}; pg_dump writes no such command, so the file was made or changed by hand: refusing to restore it; nothing was changed`,
    { file, line: f.line, command: f.command },
    {
      hint: 'Restore another backup (postgres-ops list-backups). If you wrote this script yourself, remove that line (psql commands cannot be restored) and try again.',
    },
  );
}

/** Reads `file` (gunzipping it when `gzip`) and returns every meta-command psql would run. */
export async function scanScriptFile(file: string, gzip: boolean): Promise<ScriptFinding[]> {
  const scanner = new PsqlScriptScanner();
  const findings: ScriptFinding[] = [];
  const splitter = new LineSplitter((line) => {
    if (findings.length < 100) findings.push(...scanner.scanLine(line.toString('latin1')).findings);
  });
  const source: Readable = gzip
    ? createReadStream(file, { highWaterMark: 1 << 20 }).pipe(createGunzip())
    : createReadStream(file, { highWaterMark: 1 << 20 });
  for await (const chunk of source) splitter.push(chunk as Buffer);
  splitter.end();
  return findings;
}

/** Refuses (before anything runs) a script holding a meta-command pg_dump does not write. */
export async function refuseMetaCommands(file: string, gzip: boolean, what: string): Promise<void> {
  let findings: ScriptFinding[];
  try {
    findings = await scanScriptFile(file, gzip);
  } catch (err) {
    throw new OperationFailed(
      'E_RESTORE_INPUT',
      `reading ${file} failed part way (${(err as Error).message}): the file is damaged or truncated; nothing was changed`,
      { file },
      { hint: 'Restore another backup (postgres-ops list-backups).' },
    );
  }
  if (findings.length) throw metaCommandError(file, what, findings);
}

/**
 * What psql is fed: lines are checked again as they pass (the file could have changed since it was
 * read), pg_dump's `\restrict`/`\unrestrict` lines become empty lines (ours is in force instead).
 */
export function scriptGate(file: string): Transform {
  const scanner = new PsqlScriptScanner();
  let failed: OpsError | undefined;
  let out: Buffer[] = [];
  const splitter = new LineSplitter((line, newline) => {
    if (failed) return;
    const r = scanner.scanLine(line.toString('latin1'));
    if (r.findings.length) {
      failed = metaCommandError(file, 'plain SQL script', r.findings);
      return;
    }
    if (!r.dumpRestrictLine) out.push(line);
    if (newline) out.push(NEWLINE);
  });
  const flush = (t: Transform) => {
    if (out.length) t.push(Buffer.concat(out));
    out = [];
  };
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      try {
        splitter.push(chunk);
      } catch (err) {
        return cb(err as Error);
      }
      if (failed) return cb(failed);
      flush(this);
      cb();
    },
    flush(cb) {
      splitter.end();
      if (failed) return cb(failed);
      flush(this);
      cb();
    },
  });
}

const NEWLINE = Buffer.from('\n');

let restrictSupport: Promise<boolean> | undefined;

/** psql 13.22, 14.19, 15.14, 16.10, 17.6 and later have \restrict (a mode refusing meta-commands). */
export function psqlHasRestrict(version: string): boolean {
  const m = /(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  const firstMinor: Record<number, number> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };
  if (major >= 18) return true;
  return firstMinor[major] !== undefined && minor >= firstMinor[major];
}

/**
 * psql arguments that put it in restricted mode, under a random key, before the script runs: every
 * meta-command of the script is then refused by psql itself. Empty for a psql without the mode.
 */
export async function restrictedModeArgs(binDir?: string): Promise<string[]> {
  restrictSupport ??= exec(pgBin('psql', binDir), ['--version'])
    .then((r) => r.code === 0 && psqlHasRestrict(r.stdout.replace(/^\D*/, '')))
    .catch(() => false);
  if (!(await restrictSupport)) return [];
  return ['-c', `\\restrict ${randomBytes(24).toString('hex')}`];
}
