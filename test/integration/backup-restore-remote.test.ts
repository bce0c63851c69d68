import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { cleanupAll } from '../support/cleanup.js';
import { type PgServer, startPostgres } from '../support/postgres.js';
import { backupAgentEnv, runAgent } from '../support/run-agent.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

/** Async: s3rver runs in this process, so a synchronous spawn would block it from answering. */
function agent(pg: PgServer, dir: string, args: string[], extra: Record<string, string>) {
  return runAgent(args, backupAgentEnv(pg, dir, extra));
}

type S3Server = Awaited<ReturnType<typeof import('../support/objectstores.js').startS3>>;

/**
 * A local S3 (s3rver) with a client and the agent settings that reach it; undefined (the test is
 * skipped) when the object store test support is not there: it is its own part of the product.
 */
async function s3Store(t: { skip: (why: string) => void }) {
  const support = '../support/objectstores.js';
  let startS3: () => Promise<S3Server>;
  try {
    ({ startS3 } = (await import(support)) as typeof import('../support/objectstores.js'));
  } catch (err) {
    t.skip(`object store test support is not available: ${(err as Error).message}`);
    return undefined;
  }
  const s3 = await startS3();
  const env = {
    PGOPS_SYNC_PROVIDER: 's3',
    PGOPS_SYNC_BUCKET: s3.bucket,
    PGOPS_SYNC_ENDPOINT: s3.endpoint,
    PGOPS_SYNC_REGION: 'us-east-1',
    ...s3.env,
  };
  const put = async (objects: Record<string, string | Buffer>) => {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY },
    });
    for (const [key, body] of Object.entries(objects))
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    client.destroy();
  };
  return { s3, env, put };
}

describe('restore from an object store URL', () => {
  for (const [what, jobs] of [
    ['a backup', []],
    ['a parallel backup', ['--jobs', '2']],
  ] as const)
    it(`downloads ${what} from s3:// with its manifest and globals, checks it and restores it`, async (t) => {
      const store = await s3Store(t);
      if (!store) return;
      const { s3, env, put } = store;
      const pg = await startPostgres();
      const dir = tempDir();
      await pg.query('CREATE DATABASE app');
      await pg.query('CREATE ROLE remote_reader NOLOGIN');
      await pg.query(
        'CREATE TABLE t (x int); INSERT INTO t SELECT generate_series(1, 77); GRANT SELECT ON t TO remote_reader',
        [],
        'app',
      );
      assert.equal((await agent(pg, dir, ['backup', '--name', 'offsite', ...jobs], env)).code, 0);
      await put(
        Object.fromEntries(
          ['offsite.dump', 'offsite.globals.sql', 'offsite.manifest.json'].map((f) => [
            `postgres/${f}`,
            readFileSync(join(dir, f)),
          ]),
        ),
      );
      await pg.query('DROP DATABASE app');
      await pg.query('DROP ROLE remote_reader');
      const empty = tempDir();
      const r = await agent(pg, empty, ['restore', `s3://${s3.bucket}/postgres/offsite.dump`], env);
      assert.equal(r.code, 0, r.stderr);
      const [row] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM t', [], 'app');
      assert.equal(row!.n, '77');
      const [grant] = await pg.query<{ ok: boolean }>(
        `SELECT has_table_privilege('remote_reader', 't', 'SELECT') AS ok`,
        [],
        'app',
      );
      assert.equal(grant!.ok, true);
      // The download was temporary: nothing is left in the backup directory.
      assert.deepEqual(readdirSync(empty), []);
    });

  it('refuses a plain SQL script from s3:// that holds a psql meta-command, before anything runs', async (t) => {
    const store = await s3Store(t);
    if (!store) return;
    const { s3, env, put } = store;
    const pg = await startPostgres();
    const marker = join(tempDir(), 'ran');
    await put({ 'postgres/tampered.sql': `CREATE TABLE t (x int);\n\\! touch ${marker}\n` });
    const dir = tempDir();
    const r = await agent(pg, dir, ['restore', `s3://${s3.bucket}/postgres/tampered.sql`], env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /line 2: the psql meta-command \\! \("\\! touch /);
    assert.equal(existsSync(marker), false);
    assert.deepEqual(await pg.query(`SELECT 1 FROM pg_database WHERE datname = 'app'`), []);
    assert.deepEqual(readdirSync(dir), []);
  });
});
