import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { postgresProcessesUnder, startPostgres, startReplica, waitForCatchUp } from '../support/postgres.js';
import { helmPath, postgresExporterPath, promtoolPath } from '../support/tools.js';

after(cleanupAll);

describe('test harness', () => {
  it('starts a real PostgreSQL that answers SELECT version() and stops it without leaving a process', async () => {
    const pg = await startPostgres();
    const [row] = await pg.query<{ version: string }>('SELECT version()');
    assert.match(row!.version, /^PostgreSQL 1[5-9]/);
    const [ck] = await pg.query<{ data_checksums: string }>('SHOW data_checksums');
    assert.equal(ck!.data_checksums, 'on');
    await pg.stop();
    assert.equal(existsSync(`${pg.dataDir}/postmaster.pid`), false);
    assert.deepEqual(postgresProcessesUnder(pg.dataDir), []);
  });

  it('clones a streaming replica that replays what the primary writes', async () => {
    const primary = await startPostgres();
    const replica = await startReplica(primary, { name: 'replica_0' });
    await primary.query('CREATE TABLE t (id int primary key)');
    await primary.query('INSERT INTO t SELECT generate_series(1, 100)');
    await waitForCatchUp(primary, replica);
    const [row] = await replica.query<{ n: string }>('SELECT count(*) AS n FROM t');
    assert.equal(row!.n, '100');
    const [rep] = await primary.query<{ state: string; slot: string }>(
      'SELECT r.state, s.slot_name AS slot FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid',
    );
    assert.equal(rep!.state, 'streaming');
    assert.equal(rep!.slot, 'replica_0');
  });

  it('runs helm from the extracted binary', () => {
    const out = execFileSync(helmPath(), ['version', '--short'], { encoding: 'utf8' });
    assert.match(out, /^v\d+\.\d+\.\d+/);
  });

  it('finds promtool and postgres_exporter', () => {
    assert.match(execFileSync(promtoolPath(), ['--version'], { encoding: 'utf8' }), /promtool, version/);
    const exp = execFileSync(postgresExporterPath(), ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.ok(exp.length >= 0);
  });
});
