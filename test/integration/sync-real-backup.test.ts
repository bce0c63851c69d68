/**
 * The backup command's real output goes through sync and comes back through the remote fetch
 * intact: a real pg_dump archive of real rows, copied to S3 (s3rver), downloaded, checked against
 * its manifest and restored into a new database.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadAgentConfig } from '../../src/core/config/load.js';
import { fetchRemoteBackup } from '../../src/runtime/objectstore/fetch-remote.js';
import { execOk } from '../../src/runtime/exec.js';
import { createLogger } from '../../src/runtime/log.js';
import { cleanupAll } from '../support/cleanup.js';
import { startS3 } from '../support/objectstores.js';
import { startPostgres } from '../support/postgres.js';
import { agentEnv as agentProcessEnv, runAgent } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('sync of a real backup', () => {
  it('copies what postgres-agent backup wrote, and the downloaded copy restores the same rows', async () => {
    const pg = await startPostgres({ name: 'sync-real' });
    await pg.query('CREATE DATABASE pyairtable');
    await pg.query('CREATE TABLE records (id int PRIMARY KEY, body text)', [], 'pyairtable');
    await pg.query(
      "INSERT INTO records SELECT g, 'row ' || g FROM generate_series(1, 500) g",
      [],
      'pyairtable',
    );
    const s3 = await startS3();
    const backupDir = tempDir();
    const env = agentProcessEnv(pg, {
      PGOPS_BACKUP_DIR: backupDir,
      PGOPS_SYNC_PROVIDER: 's3',
      PGOPS_SYNC_BUCKET: s3.bucket,
      PGOPS_SYNC_ENDPOINT: s3.endpoint,
      ...s3.env,
    });
    const backup = await runAgent(['backup', '--name', 'cluster-migration-backup', '-o', 'json'], env, {
      timeoutMs: 120_000,
    });
    assert.equal(backup.code, 0, backup.stderr);

    const sync = await runAgent(['sync', '-o', 'json'], env, { timeoutMs: 120_000 });
    assert.equal(sync.code, 0, sync.stderr);
    const result = JSON.parse(sync.stdout) as { backups: { name: string; status: string }[] };
    assert.deepEqual(
      result.backups.map((b) => [b.name, b.status]),
      [['cluster-migration-backup', 'uploaded']],
    );

    const config = loadAgentConfig({
      PGOPS_SYNC_PROVIDER: 's3',
      PGOPS_SYNC_BUCKET: s3.bucket,
      PGOPS_SYNC_ENDPOINT: s3.endpoint,
    });
    const got = await fetchRemoteBackup(`s3://${s3.bucket}/postgres/cluster-migration-backup.dump`, {
      config,
      rawEnv: s3.env,
      log: createLogger('json', {}, () => undefined),
      tmpDir: tempDir(),
    });
    assert.equal(got.verified, true);
    await pg.query('CREATE DATABASE restored');
    await execOk(join(pg.binDir, 'pg_restore'), ['--no-owner', '-d', 'restored', got.file], {
      env: pg.pgEnv('restored'),
    });
    const [row] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM records', [], 'restored');
    assert.equal(row!.n, '500');
    got.cleanup();
  });

  it('refuses (exit 2, E_BACKUP_DIR) when the backup directory cannot be read, naming it', async () => {
    const s3 = await startS3();
    const missing = join(tempDir(), 'not-mounted');
    const sync = await runAgent(
      ['sync', '-o', 'json'],
      agentProcessEnv(
        { port: 1 },
        {
          PGOPS_BACKUP_DIR: missing,
          PGOPS_SYNC_PROVIDER: 's3',
          PGOPS_SYNC_BUCKET: s3.bucket,
          PGOPS_SYNC_ENDPOINT: s3.endpoint,
          ...s3.env,
        },
      ),
      { timeoutMs: 60_000 },
    );
    assert.equal(sync.code, 2, sync.stderr);
    assert.match(sync.stderr, new RegExp(`cannot read the backup directory ${missing}: ENOENT`));
    assert.match(sync.stderr, /hint: Check PGOPS_BACKUP_DIR/);
    assert.equal((JSON.parse(sync.stdout) as { error: { code: string } }).error.code, 'E_BACKUP_DIR');
  });
});
