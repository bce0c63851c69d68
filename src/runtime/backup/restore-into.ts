/**
 * Loading a backup into a fresh database: pg_restore for archives (its --verbose items counted as
 * progress), psql for plain scripts (bytes read as progress, behind the script gate), and what a
 * tool's "success" on a truncated input really means.
 */
import { createReadStream, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { BackupFormat } from '../../core/backup/format.js';
import { OperationFailed, OpsError } from '../../core/errors.js';
import { exec } from '../exec.js';
import type { Logger } from '../log.js';
import { pgBin } from '../pgbin.js';
import { startProgress, type ProgressReporter } from '../progress.js';
import type { ToolEnv } from './conn.js';
import { restrictedModeArgs, scriptGate } from './plain-script.js';
import type { RestoreOptions } from './restore.js';
import { runFromStream, stderrTail } from './stream.js';

/** pg_restore --verbose lines that mark the start of one TOC item (serial and parallel runs alike). */
const ITEM_LINE = /^pg_restore: (creating|processing data for|executing|restoring) /;
/** What pg_restore prints without --verbose: kept for error messages, the rest is progress. */
const NOT_VERBOSE = /^pg_restore: (error|warning|detail|hint|while|from TOC entry)|^(?!pg_restore: )/;

/** Counts pg_restore's items from its --verbose stderr into `progress`; `errors()` is the rest. */
export function verboseItems(progress: ProgressReporter) {
  let carry = '';
  let items = 0;
  let kept = '';
  return {
    onStderr: (chunk: string) => {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) {
        if (ITEM_LINE.test(l)) progress.update(++items, { current: l.slice('pg_restore: '.length) });
        if (NOT_VERBOSE.test(l) && kept.length < 64 * 1024) kept += l + '\n';
      }
    },
    errors: () => kept + carry,
  };
}

/** A pass-through stream that reports how many bytes of the file were read. */
function countingBytes(progress: ProgressReporter): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      progress.update(bytes);
      cb(null, chunk);
    },
  });
}

/**
 * pg_restore commits each item (table data, index) on its own: those commits need not wait for the
 * WAL flush. Nothing restored is visible before the swap (or the rename of a new database), whose
 * commit is synchronous and so flushes every earlier record with it; a crash before that leaves a
 * <db>__restoring that the next restore drops.
 */
export const RESTORE_SESSION_OPTIONS = '-c synchronous_commit=off';

export async function restoreInto(
  db: string,
  file: string,
  format: BackupFormat,
  opts: RestoreOptions,
  tools: ToolEnv,
  log: Logger,
  tocItems: number | undefined,
  label: string,
): Promise<void> {
  const env = { ...tools.env(db), PGOPTIONS: RESTORE_SESSION_OPTIONS };
  const pgRestore = pgBin('pg_restore', opts.binDir);
  const jobs = opts.jobs ?? 1;
  let r: { code: number | null; signal: NodeJS.Signals | null; stderr: string; inputError?: Error };
  const common = ['--exit-on-error', '--no-password', '-d', db];
  const tool = format === 'plain' || format === 'plain-gzip' ? 'psql' : 'pg_restore';
  // pg_restore reports items (one --verbose line each, counted against the TOC); psql reads a
  // script, so its progress is the bytes of the file read so far.
  const progress = startProgress(
    tool === 'pg_restore' ? { label, unit: 'items', verb: 'items' } : { label, unit: 'bytes', verb: 'read' },
    opts.progress ? { ...opts.progress, log } : undefined,
    tool === 'pg_restore' ? tocItems : statSync(file).size,
  );
  const verbose = verboseItems(progress);
  const verboseOn = !!opts.progress && opts.progress.mode !== 'off';
  const pgRestoreArgs = verboseOn ? [...common, '--verbose'] : common;
  if (format === 'custom' || format === 'directory') {
    const par = jobs > 1 ? [`--jobs=${jobs}`] : ['--single-transaction'];
    log.info('pg_restore', { database: db, jobs });
    r = await exec(pgRestore, [...pgRestoreArgs, ...par, file], { env, onStderr: verbose.onStderr });
  } else if (format === 'tar') {
    r = await exec(pgRestore, [...pgRestoreArgs, '--single-transaction', file], {
      env,
      onStderr: verbose.onStderr,
    });
  } else if (format === 'custom-gzip') {
    r = await runFromStream(
      pgRestore,
      [...pgRestoreArgs, '--single-transaction'],
      env,
      [createReadStream(file), createGunzip()],
      verbose.onStderr,
    );
  } else {
    const chain = [
      createReadStream(file),
      countingBytes(progress),
      ...(format === 'plain-gzip' ? [createGunzip()] : []),
      scriptGate(file),
    ];
    r = await runFromStream(
      pgBin('psql', opts.binDir),
      [
        ...['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '--no-password', '-d', db],
        ...(await restrictedModeArgs(opts.binDir)),
        ...['-f', '-'],
      ],
      env,
      chain,
    );
  }
  if (r.code !== 0 || r.inputError) progress.abort();
  else progress.finish();
  // Without the --verbose progress lines, the stderr reads as it would without progress.
  const stderr = tool === 'pg_restore' && verboseOn ? verbose.errors() : r.stderr;
  if (r.code !== 0)
    throw new OperationFailed(
      'E_RESTORE',
      `${tool} failed: ${stderrTail(stderr) || `exit ${r.code ?? r.signal}`}`,
      { database: db },
    );
  // The tool saw end of input early (truncated gzip, a \connect refused): its "success" covers part
  // of the data only.
  if (r.inputError) {
    if (r.inputError instanceof OpsError) throw r.inputError;
    throw new OperationFailed(
      'E_RESTORE_INPUT',
      `reading ${file} failed part way (${r.inputError.message}): the file is damaged or truncated`,
      { file },
      { hint: 'Restore another backup (postgres-agent list-backups).' },
    );
  }
}
