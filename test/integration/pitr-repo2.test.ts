/**
 * repo2 on an object store (s3rver over HTTPS with a self-signed certificate, path-style, as
 * pgBackRest 2.45 needs), and an outage of it: archiving and backups report it clearly, the other
 * repository still gets its backup, every outcome is recorded, and the archive catches up once the
 * store is back.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { onCleanup } from '../support/cleanup.js';
import { cleanupAll, FAST_HA, HaCluster, killAllUnderSync, sleep } from '../support/ha.js';
import { startS3Https } from '../support/objectstores.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

interface StatusJson {
  warnings: string[];
  archive: { lastArchivedAt: string | null; lastFailedAt: string | null; failedCount: number } | null;
}

describe('repo2 on an object store', () => {
  it('backs up into both repositories, and while repo2 is down says so, still backs up repo1, records both outcomes, and catches up afterwards', async () => {
    const s3 = await startS3Https();
    const dir = join(tempDir('pgops-ha-'), 'state');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'objectstore.env'),
      [
        'PGOPS_SYNC_PROVIDER=s3',
        `PGOPS_SYNC_BUCKET=${s3.bucket}`,
        `PGOPS_SYNC_ENDPOINT=${s3.endpoint}`,
        'PGOPS_SYNC_REGION=us-east-1',
        `AWS_ACCESS_KEY_ID=${s3.env.AWS_ACCESS_KEY_ID}`,
        `AWS_SECRET_ACCESS_KEY=${s3.env.AWS_SECRET_ACCESS_KEY}`,
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const c = new HaCluster(dir);
    onCleanup(
      `stop the cluster in ${dir}`,
      async () => {
        await c.down().catch(() => undefined);
        killAllUnderSync(dir);
      },
      () => killAllUnderSync(dir),
    );
    await c.up({ ha: FAST_HA, replicas: 0, pitr: { archiveTimeoutSeconds: 5, repo2: true, repo2VerifyTls: false } });
    const first = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(first.code, 0, first.stderr);
    const ok = JSON.parse(first.stdout) as { outcomes: { repo: string; status: string }[] };
    assert.deepEqual(
      ok.outcomes.map((o) => [o.repo, o.status]),
      [
        ['repo1', 'success'],
        ['repo2', 'success'],
      ],
    );
    const listed = JSON.parse((await c.ops(['list-backups', '-o', 'json'])).stdout) as { kind: string; repo?: string; file: string }[];
    const r2 = listed.find((b) => b.kind === 'physical' && b.repo === 'repo2');
    assert.match(r2?.file ?? '', new RegExp(`^s3://${s3.bucket}/postgres/pgbackrest/backup/db/`));

    await s3.stop();
    const leader = await c.leader();
    await c.query(leader, 'CREATE TABLE during_outage AS SELECT generate_series(1, 100) AS id', 'pyairtable');
    await c.query(leader, 'SELECT pg_switch_wal()');
    let st: StatusJson | undefined;
    for (let i = 0; i < 120; i++) {
      st = JSON.parse((await c.ops(['status', '-o', 'json'])).stdout) as StatusJson;
      if (st.warnings.some((w) => /WAL archiving fails/.test(w))) break;
      await sleep(1000);
    }
    assert.ok(st!.warnings.some((w) => /^CRITICAL: WAL archiving fails/.test(w)), JSON.stringify(st!.warnings));

    const during = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(during.code, 1, during.stderr);
    assert.match(during.stderr, /the full backup to repo2 failed: .*\(repo1: done\)/);
    const rows = await c.query<{ repo: string; status: string; label: string | null; error: string | null }>(
      leader,
      'SELECT repo, status, label, error FROM pgops.physical_backup_history ORDER BY id',
    );
    assert.deepEqual(
      rows.map((r) => [r.repo, r.status]),
      [
        ['repo1', 'success'],
        ['repo2', 'success'],
        ['repo1', 'success'],
        ['repo2', 'failure'],
      ],
    );
    assert.equal(rows[3]!.label, null);
    assert.ok(rows[3]!.error);

    await s3.start();
    let after: StatusJson | undefined;
    for (let i = 0; i < 120; i++) {
      after = JSON.parse((await c.ops(['status', '-o', 'json'])).stdout) as StatusJson;
      if (!after.warnings.some((w) => /WAL archiving fails/.test(w))) break;
      await sleep(1000);
    }
    assert.deepEqual(
      after!.warnings.filter((w) => /archiv/i.test(w)),
      [],
      'archiving caught up once the store answered',
    );
  });
});
