/**
 * What a file to restore or verify is, from its content: a missing, empty or foreign file is bad
 * input (exit 2). A tar file is looked into: our packed directory-format dumps are tar files too.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { detectBackupFormat, type BackupFormat } from '../../core/backup/format.js';
import { UsageError } from '../../core/errors.js';
import { tarArchiveFormat } from './packed.js';

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

async function gunzipHead(file: string, n: number): Promise<Buffer> {
  return new Promise((res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const src = createReadStream(file);
    const gz = createGunzip();
    const done = () => {
      src.destroy();
      gz.destroy();
      res(Buffer.concat(chunks).subarray(0, n));
    };
    gz.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= n) done();
    });
    gz.on('end', done);
    gz.on('error', done);
    src.on('error', done);
    src.pipe(gz);
  });
}

/** Identifies the file by its content; exit 2 for a missing, empty or foreign file. */
export async function identifyBackupFile(file: string): Promise<BackupFormat> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new UsageError(
      'E_BACKUP_NOT_FOUND',
      `backup file ${file} does not exist`,
      { file },
      {
        hint: 'List the backups with: postgres-agent list-backups',
      },
    );
  }
  if (size === 0)
    throw new UsageError(
      'E_NOT_A_BACKUP',
      `${file} is empty: not a backup; nothing was changed`,
      { file },
      {
        hint: 'Pick another backup (postgres-agent list-backups).',
      },
    );
  const head = readHead(file, 4096);
  const gz = head[0] === 0x1f && head[1] === 0x8b ? await gunzipHead(file, 4096) : undefined;
  const f = detectBackupFormat(head, gz);
  if (!f.ok)
    throw new UsageError(
      'E_NOT_A_BACKUP',
      `${file} is not a backup: ${f.reason}; nothing was changed`,
      { file },
      {
        hint: 'Restore a pg_dump archive (.dump), or SQL from pg_dump (.sql, .sql.gz). List backups: postgres-agent list-backups',
      },
    );
  // pg_dump -Ft writes toc.dat first; a packed directory dump ends with it.
  if (f.format === 'tar') return (await tarArchiveFormat(file).catch(() => undefined)) ?? 'tar';
  return f.format;
}
