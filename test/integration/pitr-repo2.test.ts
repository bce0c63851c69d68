/**
 * repo2 on an object store (s3rver over HTTPS with a self-signed certificate, path-style, as
 * pgBackRest 2.45 needs), and an outage of it: archiving and backups report it clearly, the other
 * repository still gets its backup, every outcome is recorded, and the archive catches up once the
 * store is back.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { cleanupAll, startHaCluster } from '../support/ha.js';
import { startS3Https } from '../support/objectstores.js';

after(cleanupAll);

interface StatusJson {
  warnings: string[];
  archive: { lastArchivedAt: string | null; lastFailedAt: string | null; failedCount: number } | null;
}

describe('repo2 on an object store', () => {
  it('backs up into both repositories; while repo2 is down says so and records each outcome; taken out of archiving, repo1 works alone; put back, both work', async () => {
    const s3 = await startS3Https();
    const c = await startHaCluster(
      { replicas: 0, pitr: { archiveTimeoutSeconds: 5, repo2: true, repo2VerifyTls: false } },
      (dir) =>
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
        ),
    );
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
    const listed = JSON.parse((await c.ops(['list-backups', '-o', 'json'])).stdout) as {
      kind: string;
      repo?: string;
      file: string;
    }[];
    const r2 = listed.find((b) => b.kind === 'physical' && b.repo === 'repo2');
    assert.match(r2?.file ?? '', new RegExp(`^s3://${s3.bucket}/postgres/pgbackrest/backup/db/`));

    await s3.stop();
    const leader = await c.leader();
    await c.query(leader, 'CREATE TABLE during_outage AS SELECT generate_series(1, 100) AS id', 'pyairtable');
    await c.query(leader, 'SELECT pg_switch_wal()');
    let st: StatusJson | undefined;
    await eventually(
      'status warns that WAL archiving fails',
      async () => {
        st = JSON.parse((await c.ops(['status', '-o', 'json'])).stdout) as StatusJson;
        return st.warnings.some((w) => /WAL archiving fails/.test(w));
      },
      { timeoutMs: 120_000, intervalMs: 1000, detail: () => JSON.stringify(st?.warnings) },
    );
    assert.ok(
      st!.warnings.some((w) => /^CRITICAL: WAL archiving fails/.test(w)),
      JSON.stringify(st!.warnings),
    );

    // pgBackRest 2.45 stalls archiving for every repository while one is down (documented): a
    // backup now fails, and each repository's outcome is recorded.
    const during = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(during.code, 1, during.stderr);
    assert.match(during.stderr, /the full backup to repo2 failed/);
    const rows = await c.query<{ repo: string; status: string; label: string | null; error: string | null }>(
      leader,
      'SELECT repo, status, label, error FROM pgops.physical_backup_history ORDER BY id',
    );
    assert.deepEqual(
      rows.slice(0, 2).map((r) => [r.repo, r.status]),
      [
        ['repo1', 'success'],
        ['repo2', 'success'],
      ],
    );
    const failed = rows.slice(2).find((r) => r.repo === 'repo2')!;
    assert.deepEqual([failed.status, failed.label], ['failure', null]);
    assert.ok(failed.error);
    assert.equal(rows.length, 4, 'one row per repository of the failed attempt');

    // The outage procedure (docs/operations.md): repo2 out of archiving, the members restarted.
    const setRepo2 = (on: boolean) => {
      const state = JSON.parse(readFileSync(c.paths.stateFile, 'utf8')) as { pitr: Record<string, unknown> };
      state.pitr.repo2 = on;
      writeFileSync(c.paths.stateFile, JSON.stringify(state, null, 2));
    };
    setRepo2(false);
    assert.equal((await c.ops(['local', 'down'])).code, 0);
    const up = await c.ops(['local', 'up']);
    assert.equal(up.code, 0, up.stderr);
    const alone = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(alone.code, 0, alone.stderr);
    assert.deepEqual(
      (JSON.parse(alone.stdout) as { outcomes: { repo: string; status: string }[] }).outcomes.map((o) => [
        o.repo,
        o.status,
      ]),
      [['repo1', 'success']],
    );

    // The store is back: repo2 into archiving again, and a full backup restarts its window.
    await s3.start();
    setRepo2(true);
    assert.equal((await c.ops(['local', 'down'])).code, 0);
    assert.equal((await c.ops(['local', 'up'])).code, 0);
    const back = await c.ops(['backup', '--physical', '--type', 'full', '-o', 'json']);
    assert.equal(back.code, 0, back.stderr);
    let after: StatusJson | undefined;
    await eventually(
      'status no longer warns about archiving',
      async () => {
        after = JSON.parse((await c.ops(['status', '-o', 'json'])).stdout) as StatusJson;
        return !after.warnings.some((w) => /archiv/i.test(w));
      },
      { timeoutMs: 60_000, intervalMs: 1000, detail: () => JSON.stringify(after?.warnings) },
    );
    assert.deepEqual(
      after!.warnings.filter((w) => /archiv/i.test(w)),
      [],
      'archiving works into both repositories again',
    );
  });
});
