import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { OpsError } from '../../src/core/errors.js';
import { createLocalSnapshot, listLocalSnapshots, restoreLocalSnapshot } from '../../src/local/snapshots.js';
import { exec } from '../../src/runtime/exec.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { postgresUser } from '../support/os-user.js';
import { freePort } from '../support/ports.js';
import { startPostgres, TEST_PASSWORD } from '../support/postgres.js';
import { postgresOwnedDir, tempDir } from '../support/tmp.js';

after(cleanupAll);

function asPostgres() {
  const u = postgresUser();
  return u.uid === undefined ? {} : { uid: u.uid, gid: u.gid };
}

describe('local snapshots', () => {
  it('restores a snapshot into a new data directory holding exactly the rows written before it', async () => {
    const server = await startPostgres({ name: 'local-snap' });
    await server.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
    await server.query("INSERT INTO items SELECT g, 'before' FROM generate_series(1, 100) g");

    const stateDir = tempDir();
    const snap = await createLocalSnapshot(
      { host: '127.0.0.1', port: server.port, user: 'postgres', password: TEST_PASSWORD },
      { stateDir, name: 'before-upgrade' },
    );
    assert.match(snap.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    await server.query("INSERT INTO items SELECT g, 'after' FROM generate_series(101, 150) g");

    const target = join(tempDir(), 'restored-data');
    const { dataDir } = await restoreLocalSnapshot({
      stateDir,
      name: 'before-upgrade',
      targetDataDir: target,
    });
    assert.ok(existsSync(join(snap.dir, 'PG_VERSION')), 'the snapshot itself survives the restore');

    const port = await freePort();
    const sock = postgresOwnedDir(tempDir(), 'sock', 0o755);
    const logFile = join(sock, 'restored.log');
    const ctl = join(server.binDir, 'pg_ctl');
    const started = await exec(
      ctl,
      ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', `-p ${port} -k ${sock}`, 'start'],
      asPostgres(),
    );
    assert.equal(started.code, 0, started.stderr);
    onCleanup('stop restored', async () => {
      await exec(ctl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], asPostgres());
    });
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: TEST_PASSWORD,
      database: 'postgres',
    });
    await c.connect();
    try {
      const { rows } = await c.query<{ note: string; n: string }>(
        'SELECT note, count(*) AS n FROM items GROUP BY note',
      );
      assert.deepEqual(rows, [{ note: 'before', n: '100' }]);
    } finally {
      await c.end();
    }
  });

  it('lists complete snapshots newest first and ignores an interrupted one', async () => {
    const server = await startPostgres({ name: 'local-list' });
    const stateDir = tempDir();
    const src = { host: '127.0.0.1', port: server.port, user: 'postgres', passfile: server.passfile };
    await createLocalSnapshot(src, { stateDir, name: 'first', now: new Date('2026-01-01T00:00:00Z') });
    await createLocalSnapshot(src, {
      stateDir,
      now: new Date('2026-01-02T03:00:00Z'),
      release: 'pyairtable-stack',
    });
    postgresOwnedDir(join(stateDir, 'snapshots'), '.interrupted.partial');
    postgresOwnedDir(join(stateDir, 'snapshots'), 'no-descriptor');
    assert.deepEqual(
      listLocalSnapshots(stateDir).map((s) => s.name),
      ['pyairtable-stack-postgres-20260102-030000', 'first'],
    );
  });

  it('refuses with exit 3 to restore over a data directory that is not empty, and exit 2 for an unknown name', async () => {
    const stateDir = tempDir();
    const server = await startPostgres({ name: 'local-refuse' });
    await createLocalSnapshot(
      { host: '127.0.0.1', port: server.port, user: 'postgres', passfile: server.passfile },
      { stateDir, name: 's1' },
    );
    await assert.rejects(
      restoreLocalSnapshot({ stateDir, name: 's1', targetDataDir: server.dataDir }),
      (e: OpsError) => e.exitCode === 3,
    );
    assert.ok(readdirSync(server.dataDir).includes('PG_VERSION'));
    await assert.rejects(
      restoreLocalSnapshot({ stateDir, name: 'nope', targetDataDir: join(stateDir, 'x') }),
      (e: OpsError) => e.exitCode === 2,
    );
  });
});
