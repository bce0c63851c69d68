/**
 * A backup whose files no longer match its manifest (a truncated archive, a missing file, a failed
 * verification) stays listed, flagged damaged with the reason; it fails `verify --all`, is never
 * "the newest verified" for retention, and is refused by restore.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupAll } from '../support/cleanup.js';
import { startAppServer } from '../support/app-table.js';
import type { PgServer } from '../support/postgres.js';
import { backupAgentEnv, runAgentSync } from '../support/run-agent.js';

after(cleanupAll);

interface Listed {
  name: string;
  verified: boolean;
  damaged: boolean;
  damagedReason: string | null;
  sizeBytes: number;
  sha256: string;
}

describe('damaged backups', () => {
  let pg: PgServer;
  let dir: string;
  const agent = (args: string[], extra: Record<string, string> = {}) =>
    runAgentSync(args, backupAgentEnv(pg, dir, extra));
  const list = () => JSON.parse(agent(['list-backups', '-o', 'json']).stdout) as Listed[];

  before(async () => {
    ({ pg, dir } = await startAppServer(5000));
    for (const name of ['older', 'newest']) assert.equal(agent(['backup', '--name', name]).code, 0);
    // Both a week old: outside a 1-day retention.
    for (const name of ['older', 'newest']) {
      const path = join(dir, `${name}.manifest.json`);
      const m = JSON.parse(readFileSync(path, 'utf8'));
      const shift = (iso: string) => new Date(Date.parse(iso) - 7 * 86_400_000).toISOString();
      m.startedAt = shift(m.startedAt);
      m.finishedAt = shift(m.finishedAt);
      writeFileSync(path, JSON.stringify(m, null, 2));
    }
  });

  it('lists a truncated backup as damaged, with every usual field and the reason', () => {
    const full = list().find((b) => b.name === 'newest')!;
    truncateSync(join(dir, 'newest.dump'), Math.floor(full.sizeBytes / 2));
    const listed = list();
    assert.deepEqual(
      listed.map((b) => [b.name, b.damaged, b.verified]),
      [
        ['newest', true, false],
        ['older', false, true],
      ],
    );
    const damaged = listed[0]!;
    assert.equal(damaged.sizeBytes, full.sizeBytes, 'the manifest size is kept');
    assert.equal(damaged.sha256, full.sha256);
    assert.match(
      damaged.damagedReason ?? '',
      /newest\.dump is \d+ bytes, the manifest says \d+ \(truncated\)/,
    );
    const table = agent(['list-backups']);
    assert.match(table.stdout, /newest .*DAMAGED/);
    assert.match(table.stdout, /! newest is DAMAGED \(archive newest\.dump is \d+ bytes/);
  });

  it('fails verify --all (exit 1) naming the damaged backup, and restore refuses it (exit 3)', async () => {
    const v = agent(['verify', '--all']);
    assert.equal(v.code, 1, v.stderr);
    assert.match(
      v.stderr,
      /backup newest \(.*newest\.dump\) failed verification: size is \d+ bytes, the manifest says \d+/,
    );
    assert.doesNotMatch(v.stderr, /backup older .*failed/);
    const r = agent(['restore', 'newest', '--target-database', 'app_from_damaged']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /does not match its manifest/);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app_from_damaged'`), []);
  });

  it('never keeps a damaged backup as the newest verified one: retention keeps the intact one', () => {
    const r = agent(['prune', '--dry-run', '-o', 'json'], { PGOPS_BACKUP_RETENTION_DAYS: '1' });
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as {
      plan: { backups: { name: string; action: string; reason: string }[] };
    };
    const by = Object.fromEntries(plan.plan.backups.map((d) => [d.name, d]));
    assert.equal(by.older!.action, 'keep');
    assert.match(by.older!.reason, /newest verified backup of app/);
    assert.equal(by.newest!.action, 'delete');
  });

  it('lists a backup whose archive is gone as damaged instead of dropping it from the list', () => {
    rmSync(join(dir, 'newest.dump'));
    const damaged = list().find((b) => b.name === 'newest');
    assert.equal(damaged?.damaged, true);
    assert.equal(damaged?.damagedReason, 'archive newest.dump is missing');
    const v = agent(['verify', '--all']);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /backup newest .*archive .*newest\.dump is missing/);
  });
});
