import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

function agent(pg: PgServer, dir: string, args: string[]) {
  return runAgentSync(args, backupAgentEnv(pg, dir, { PGOPS_BACKUP_RETENTION_DAYS: '7' }));
}

/** Rewrites a manifest as if the backup had been taken at `at` (and possibly never verified). */
function age(dir: string, name: string, at: Date, verified = true) {
  const p = join(dir, `${name}.manifest.json`);
  const m = JSON.parse(readFileSync(p, 'utf8'));
  writeFileSync(
    p,
    JSON.stringify({ ...m, startedAt: at.toISOString(), finishedAt: at.toISOString(), verified }),
  );
}

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

describe('backup retention on a real backup directory', () => {
  let pg: PgServer;
  let dir: string;
  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE TABLE t (x int); INSERT INTO t VALUES (1)', [], 'app');
    for (const n of ['oldest', 'verified_old', 'unverified_newest', 'future'])
      assert.equal(agent(pg, dir, ['backup', '--name', n]).code, 0);
    // Every backup is expired; the newest one was never verified; one is dated in the future.
    age(dir, 'oldest', daysAgo(30));
    age(dir, 'verified_old', daysAgo(20));
    age(dir, 'unverified_newest', daysAgo(10), false);
    age(dir, 'future', new Date(Date.now() + 400 * 86_400_000));
    // Files that are not ours, and a temporary file abandoned two hours ago.
    writeFileSync(join(dir, 'someone-elses.dump'), 'PGDMP not ours');
    utimesSync(join(dir, 'someone-elses.dump'), daysAgo(90), daysAgo(90));
    writeFileSync(
      join(dir, 'foreign.manifest.json'),
      JSON.stringify({ kind: 'other-tool', name: 'foreign' }),
    );
    writeFileSync(join(dir, '.abandoned.dump.partial'), 'x');
    utimesSync(join(dir, '.abandoned.dump.partial'), daysAgo(0.1), daysAgo(0.1));
  });

  it('prints the plan with reasons and deletes nothing with --dry-run', () => {
    const filesBefore = readdirSync(dir).sort();
    const r = agent(pg, dir, ['prune', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /would delete\s+oldest\s+older than the retention of 7 days/);
    assert.match(r.stdout, /keep\s+verified_old\s+newest verified backup of app/);
    assert.match(r.stdout, /keep\s+future\s+dated in the future/);
    assert.deepEqual(readdirSync(dir).sort(), filesBefore);
  });

  it('keeps the newest verified backup when all are expired and the newest is unverified, and never touches files that are not ours', () => {
    const r = agent(pg, dir, ['prune', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const left = readdirSync(dir).sort();
    assert.deepEqual(left, [
      'foreign.manifest.json',
      'future.dump',
      'future.globals.sql',
      'future.manifest.json',
      'someone-elses.dump',
      'verified_old.dump',
      'verified_old.globals.sql',
      'verified_old.manifest.json',
    ]);
    assert.equal(existsSync(join(dir, '.abandoned.dump.partial')), false);
    const v = agent(pg, dir, ['verify', 'verified_old']);
    assert.equal(v.code, 0, v.stderr);
  });
});
