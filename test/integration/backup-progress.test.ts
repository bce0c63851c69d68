import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres, TEST_PASSWORD } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

/** The agent's JSON log lines on stderr, parsed. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Terminal output without the erase-to-end-of-line sequence that follows each rewritten line. */
function terminal(stderr: string): string {
  return stderr.split('\u001b[K').join('');
}

describe('progress of backups and restores', () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
    await pg.query('CREATE DATABASE app');
    // About 10 MB uncompressed: long enough for a few samples at a tiny interval, small for a shared machine.
    await pg.query(
      `CREATE TABLE t AS SELECT g AS id, repeat(md5(g::text), 2) AS v FROM generate_series(1, 150000) g`,
      [],
      'app',
    );
  });

  it('logs progress lines with the bytes written while a backup runs, and the backup still verifies', () => {
    const dir = tempDir();
    const env = backupAgentEnv(pg, dir, {
      PGOPS_LOG_FORMAT: 'json',
      PGOPS_PROGRESS: 'log:0.001',
      PGOPS_BACKUP_COMPRESSION: '0',
    });
    const r = runAgentSync(['backup', '--name', 'progress1', '-o', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const progress = jsonLines(r.stderr).filter(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('backup progress1: '),
    );
    assert.ok(progress.length >= 1, `no progress line in:\n${r.stderr}`);
    const counted = progress.filter((l) => typeof l.bytes === 'number' && l.bytes > 0);
    assert.ok(counted.length >= 1, `no progress line with a byte count in:\n${r.stderr}`);
    assert.match(
      String(counted[0]!.msg),
      /^backup progress1: [\d.]+ (B|KiB|MiB) written \(database .* on disk\), /,
    );
    assert.equal(counted[0]!.backup, 'progress1');
    // Counts only grow, and never past the finished file.
    const manifest = JSON.parse(readFileSync(join(dir, 'progress1.manifest.json'), 'utf8'));
    const sizes = counted.map((l) => l.bytes as number);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => a - b),
    );
    assert.ok(sizes.at(-1)! <= manifest.sizeBytes);
    assert.ok(!r.stderr.includes(TEST_PASSWORD));

    const v = runAgentSync(['verify', 'progress1'], env);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(JSON.parse(r.stdout).backups[0].sizeBytes, manifest.sizeBytes);
  });

  it('on a terminal rewrites one line and ends it with the final size of the backup', () => {
    const dir = tempDir();
    const r = runAgentSync(
      ['backup', '--name', 'progress2'],
      backupAgentEnv(pg, dir, { PGOPS_PROGRESS: 'tty' }),
    );
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse(readFileSync(join(dir, 'progress2.manifest.json'), 'utf8'));
    const last = /\rbackup progress2: ([^\r\n]*)\n/.exec(terminal(r.stderr));
    assert.ok(last, `no final progress line in:\n${JSON.stringify(r.stderr)}`);
    const size = (manifest.sizeBytes as number) / 1024 / 1024;
    assert.match(last[1]!, new RegExp(`^${size.toFixed(1).replace('.', '\\.')} MiB written`));
    // The result table still starts on its own line.
    assert.match(r.stdout, /^NAME\s+DATABASE/);
  });

  it('counts restored items against the archive contents and restores every row', async () => {
    const dir = tempDir();
    const env = backupAgentEnv(pg, dir, { PGOPS_PROGRESS: 'tty' });
    assert.equal(runAgentSync(['backup', '--name', 'progress3'], env).code, 0);
    const r = runAgentSync(['restore', 'progress3', '--target-database', 'app_progress'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(terminal(r.stderr), /\rrestore app_progress: (\d+)\/\1 items \(100%\), \d+s\n/);
    const [row] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], 'app_progress');
    assert.equal(row!.n, '150000');
  });

  it('still reports the error of a failed pg_restore, not its progress lines', async () => {
    const dir = tempDir();
    await pg.query('CREATE DATABASE app_bad');
    // Rows that passed a check when written but fail it on restore (its function changed since).
    await pg.query(
      `CREATE FUNCTION ok(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT true';
       CREATE TABLE c (x int CHECK (ok(x))); INSERT INTO c SELECT generate_series(1, 10);
       CREATE OR REPLACE FUNCTION ok(int) RETURNS boolean IMMUTABLE LANGUAGE sql AS 'SELECT $1 < 0'`,
      [],
      'app_bad',
    );
    const env = backupAgentEnv(pg, dir, { PGOPS_PROGRESS: 'log:0.001', PGOPS_BACKUP_DATABASES: 'app_bad' });
    assert.equal(runAgentSync(['backup', '--name', 'progress4'], env).code, 0);
    const r = runAgentSync(['restore', 'progress4', '--target-database', 'app_bad_copy', '-o', 'json'], env);
    assert.equal(r.code, 1, r.stderr);
    const message = JSON.parse(r.stdout).error.message as string;
    assert.match(message, /violates check constraint/);
    assert.doesNotMatch(message, /pg_restore: (creating|processing|executing)/);
    const [gone] = await pg.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_database WHERE datname LIKE 'app\\_bad\\_copy%'`,
    );
    assert.equal(gone!.n, '0');
  });
});
