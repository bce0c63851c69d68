/**
 * Running pg_dump for a backup, with the archive's checks done while it writes:
 *  - custom format (one job): the stream goes through sha256 into the hidden temp file, and a copy
 *    of its first bytes into `pg_restore --list`, which reads the table of contents as soon as
 *    pg_dump has written it (at the start) and exits;
 *  - directory format (`--jobs N`): each table's file is packed into the one-file archive (and
 *    removed) as soon as pg_dump reports it finished, hashing while packing; the table of contents
 *    (written last) is read by `pg_restore --list`, and every data entry it names must be packed.
 * Failures go to the run (PartsRun), which stops the other parts; `run.signal` stops these programs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { dataEntriesMissing } from '../../core/backup/tar.js';
import { OperationFailed, type OpsError } from '../../core/errors.js';
import { exec } from '../exec.js';
import { TarPacker } from './packed.js';
import type { PartsRun } from './parts.js';

export interface DumpParams {
  pgDump: string;
  pgRestore: string;
  /** Connection and content arguments shared by both formats (--snapshot, --compress, ...). */
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The archive being written (hidden temp name). */
  outPath: string;
  /** Directory pg_dump writes into in directory format (hidden temp name). */
  dirPath: string;
  jobs: number;
  /** Words a write error (no space) for a person. */
  asError?: (err: unknown) => OpsError | undefined;
}

export interface DumpOutput {
  sha256: string;
  bytes: number;
  /** `pg_restore --list` of the new archive. */
  toc: string;
  /** pg_dump's warnings (a page that failed its checksum is reported as one). */
  warnings: string[];
}

const BATCH = 1 << 20;
const MAX_UNWRITTEN = 8 * BATCH;

/** pg_dump/pg_restore --verbose lines that are progress, not problems. */
const INFO_LINE = (tool: string) =>
  new RegExp(
    `^${tool}: (?!error:|warning:|detail:|hint:|WARNING:|ERROR:|FATAL:|PANIC:|NOTICE:|DETAIL:|HINT:)`,
  );

/** A tool's stderr as lines: progress lines go to `onInfo`, the rest is kept (the last 200). */
export function stderrLines(tool: string, onInfo?: (line: string) => void) {
  const info = INFO_LINE(tool);
  const kept: string[] = [];
  let carry = '';
  const take = (l: string) => {
    if (!l.trim()) return;
    if (info.test(l)) return onInfo?.(l);
    kept.push(l);
    if (kept.length > 200) kept.shift();
  };
  return {
    push: (chunk: string) => {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) take(l);
    },
    end() {
      take(carry);
      carry = '';
    },
    /** The problem lines, most recent last. */
    text: (last = 6) => kept.slice(-last).join('\n'),
    warnings: () => kept.filter((l) => /WARNING:/.test(l)),
  };
}

function exitOf(child: ChildProcess, program: string) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.on('error', (err) =>
      rej(new OperationFailed('E_EXEC', `could not run ${program}: ${err.message}`, { program })),
    );
    child.on('close', (code, signal) => res({ code, signal }));
  });
}

function stopOnAbort(run: PartsRun, children: ChildProcess[]): () => void {
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  if (run.signal.aborted) stop();
  run.signal.addEventListener('abort', stop, { once: true });
  return () => run.signal.removeEventListener('abort', stop);
}

const failed = (tool: string, r: { code: number | null; signal: NodeJS.Signals | null }, why: string) =>
  `${tool} failed: ${why || (r.signal ? `stopped by ${r.signal}` : `exit ${r.code}`)}`;

/** pg_dump --format=custom streamed through sha256 into `outPath` (fsynced), its TOC read while it runs. */
export async function dumpCustom(p: DumpParams, run: PartsRun): Promise<DumpOutput | undefined> {
  const out = await open(p.outPath, 'wx', 0o644);
  const dump = spawn(p.pgDump, [...p.args, '--format=custom', '--verbose'], {
    env: p.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const dumpErr = stderrLines('pg_dump');
  dump.stderr.setEncoding('utf8').on('data', dumpErr.push);
  const dumpExit = exitOf(dump, 'pg_dump');
  dumpExit.catch(() => undefined); // awaited below; a failure to start must not go unhandled meanwhile

  const toc = spawn(p.pgRestore, ['--list'], { env: p.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let tocOut = '';
  const tocErr = stderrLines('pg_restore');
  toc.stdout.setEncoding('utf8').on('data', (c: string) => (tocOut += c));
  toc.stderr.setEncoding('utf8').on('data', tocErr.push);
  // It reads the header and the table of contents, then exits: the rest is not for it.
  let feeding = true;
  const tocExit = exitOf(toc, 'pg_restore').finally(() => (feeding = false));
  tocExit.catch(() => undefined);
  toc.stdin.on('error', () => (feeding = false));
  const unwatch = stopOnAbort(run, [dump, toc]);

  const hash = createHash('sha256');
  let bytes = 0;
  // pg_dump writes a few KiB at a time: each piece is hashed as it comes (a 'data' handler, the
  // cheapest way to take them) and the file is written in 1 MiB batches, pausing the pipe while a
  // batch is written or while pg_restore has not taken what it was given.
  const src = dump.stdout;
  let holds = 0;
  const hold = (p: Promise<unknown>) => {
    if (holds++ === 0) src.pause();
    void p.finally(() => {
      if (--holds === 0) src.resume();
    });
  };
  let batch: Buffer[] = [];
  let batched = 0;
  let writing: Promise<void> = Promise.resolve();
  let unwritten = 0;
  const flush = () => {
    const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    unwritten += buf.length;
    writing = writing.then(async () => {
      for (let off = 0; off < buf.length;) off += (await out.write(buf, off)).bytesWritten;
      unwritten -= buf.length;
    });
    // A write that fails (no space) stops pg_dump: nothing more can be kept.
    writing.catch(() => dump.kill('SIGKILL'));
    // pg_dump keeps writing while batches are written; only a slow disk makes it wait.
    if (unwritten >= MAX_UNWRITTEN) hold(writing.catch(() => undefined));
  };
  src.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    if (feeding && !toc.stdin.write(chunk))
      hold(Promise.race([once(toc.stdin, 'drain').catch(() => undefined), tocExit.catch(() => undefined)]));
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= BATCH) flush();
  });
  try {
    await finished(src);
    flush();
    await writing;
    await out.sync();
  } catch (err) {
    dump.kill('SIGKILL');
    toc.kill('SIGKILL');
    await Promise.allSettled([dumpExit, tocExit]);
    throw err;
  } finally {
    toc.stdin.end();
    unwatch();
    await out.close();
  }
  const [d, t] = await Promise.all([dumpExit, tocExit]);
  dumpErr.end();
  tocErr.end();
  if (d.code !== 0) {
    run.fail('pg_dump', failed('pg_dump', d, dumpErr.text()));
    return undefined;
  }
  if (t.code !== 0) {
    run.fail(
      'table of contents',
      `the new archive failed verification: ${failed('pg_restore --list', t, tocErr.text())}`,
    );
    return undefined;
  }
  return { sha256: hash.digest('hex'), bytes, toc: tocOut, warnings: dumpErr.warnings() };
}

/** Size of what a directory-format dump has written so far: the packed archive plus pg_dump's files. */
export function directoryDumpBytes(p: Pick<DumpParams, 'outPath' | 'dirPath'>): number | undefined {
  let total = 0;
  try {
    total += statSync(p.outPath).size;
  } catch {
    return undefined;
  }
  try {
    for (const n of readdirSync(p.dirPath)) {
      try {
        total += statSync(join(p.dirPath, n)).size;
      } catch {
        /* packed and removed meanwhile */
      }
    }
  } catch {
    /* not created yet, or already removed */
  }
  return total;
}

const FINISHED_RE = /^pg_dump: finished item (\d+) TABLE DATA /;

/** pg_dump --format=directory --jobs N, packed into `outPath` while it runs. */
export async function dumpDirectory(p: DumpParams, run: PartsRun): Promise<DumpOutput | undefined> {
  const packer = await TarPacker.create(p.outPath);
  // One file at a time, in the order pg_dump finishes them; a failure (no space) stops the run.
  let packing: Promise<void> = Promise.resolve();
  const packFiles = (names: string[]) => {
    packing = packing.then(async () => {
      try {
        for (const n of names) {
          if (run.signal.aborted) return;
          await packer.add(join(p.dirPath, n), n);
          // Packed: pg_dump's copy is no longer needed (disk use stays about one backup's size).
          if (n !== 'toc.dat') rmSync(join(p.dirPath, n), { force: true });
        }
      } catch (err) {
        const e = p.asError?.(err);
        run.fail('packing', e?.message ?? `packing the dump failed: ${(err as Error).message}`, e);
      }
    });
  };
  const dataFilesOf = (id: number) => {
    try {
      return readdirSync(p.dirPath).filter((n) => n.startsWith(`${id}.dat`));
    } catch {
      return [];
    }
  };
  const dump = spawn(
    p.pgDump,
    [...p.args, '--format=directory', `--jobs=${p.jobs}`, '--verbose', '--no-sync', '--file', p.dirPath],
    { env: p.env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // A worker has closed a table's file before the leader reports the item finished.
  const dumpErr = stderrLines('pg_dump', (line) => {
    const m = FINISHED_RE.exec(line);
    if (m) packFiles(dataFilesOf(Number(m[1])));
  });
  dump.stderr.setEncoding('utf8').on('data', dumpErr.push);
  const unwatch = stopOnAbort(run, [dump]);
  try {
    const d = await exitOf(dump, 'pg_dump');
    dumpErr.end();
    if (d.code !== 0) {
      run.fail('pg_dump', failed('pg_dump', d, dumpErr.text()));
      return undefined;
    }
    await packing;
    if (run.signal.aborted) return undefined;
    // toc.dat and the large objects' files: the table of contents is read while they are packed.
    const rest = readdirSync(p.dirPath).sort((a, b) => Number(a === 'toc.dat') - Number(b === 'toc.dat'));
    const listing = exec(p.pgRestore, ['--list', p.dirPath], { env: p.env });
    packFiles(rest);
    const [list] = await Promise.all([listing, packing]);
    if (run.signal.aborted) return undefined;
    if (list.code !== 0) {
      const err = stderrLines('pg_restore');
      err.push(list.stderr);
      err.end();
      run.fail(
        'table of contents',
        `the new archive failed verification: ${failed('pg_restore --list', list, err.text())}`,
      );
      return undefined;
    }
    const missing = dataEntriesMissing(list.stdout, packer.members);
    if (missing.length)
      throw new OperationFailed(
        'E_VERIFY',
        `the new archive failed verification: no data file for ${missing
          .map((e) => `${e.desc} ${e.tag}`)
          .join(', ')
          .slice(0, 500)}`,
      );
    const { sha256, bytes } = await packer.finish();
    return { sha256, bytes, toc: list.stdout, warnings: dumpErr.warnings() };
  } finally {
    unwatch();
    await packing;
    await packer.close();
    rmSync(p.dirPath, { recursive: true, force: true });
  }
}
