/**
 * Sync and remote restore against real protocol servers on loopback: s3rver for S3 and Azurite for
 * Azure Blob. Backups are tiny files in the manifest format the backup command writes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAgentEnv } from '../../src/core/config/load.js';
import { nestConfig } from '../../src/core/config/schema.js';
import type { OpsError } from '../../src/core/errors.js';
import type { Output } from '../../src/core/output.js';
import { runSync, type SyncResult } from '../../src/runtime/sync/run.js';
import { fetchRemoteBackup } from '../../src/runtime/objectstore/fetch-remote.js';
import { hashFile } from '../../src/runtime/file-hash.js';
import { openObjectStore, openRawStore, storeConfigFrom } from '../../src/runtime/objectstore/index.js';
import type { ObjectStore } from '../../src/runtime/objectstore/types.js';
import { createLogger } from '../../src/runtime/log.js';
import { cleanupAll } from '../support/cleanup.js';
import { startAzurite, startFakeGcs, startS3 } from '../support/objectstores.js';
import { freePort } from '../support/ports.js';
import { tempDir } from '../support/tmp.js';
import { runAgent } from '../support/run-agent.js';

after(cleanupAll);

const quiet = createLogger('json', {}, () => undefined);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const DAY = 86_400_000;

function writeBackup(dir: string, name: string, takenAt: Date, opts: { verified?: boolean } = {}) {
  const data = randomBytes(2048 + Math.floor(Math.random() * 1024));
  const globals = Buffer.from(`-- globals of ${name}\nCREATE ROLE pyairtable;\n`);
  writeFileSync(join(dir, `${name}.dump`), data);
  writeFileSync(join(dir, `${name}.globals.sql`), globals);
  const manifest = {
    kind: 'pyairtable-stack/postgres-backup',
    version: 1,
    name,
    database: 'pyairtable',
    file: `${name}.dump`,
    globalsFile: `${name}.globals.sql`,
    sizeBytes: data.length,
    sha256: sha(data),
    globalsSha256: sha(globals),
    verified: opts.verified ?? true,
    startedAt: new Date(takenAt.getTime() - 60_000).toISOString(),
    finishedAt: takenAt.toISOString(),
  };
  writeFileSync(join(dir, `${name}.manifest.json`), JSON.stringify(manifest, null, 2));
  return { data, manifest };
}

function recorder(): Output {
  return { line: () => undefined, result: () => undefined, raw: () => undefined };
}

/** Records the order of uploads on top of a real store. */
function recording(store: ObjectStore): ObjectStore & { puts: string[] } {
  const puts: string[] = [];
  return {
    ...store,
    provider: store.provider,
    bucket: store.bucket,
    puts,
    async put(key, file, o) {
      puts.push(key);
      return store.put(key, file, o);
    },
  };
}

interface Target {
  provider: 's3' | 'azure' | 'gcs';
  /** Where access is refused: the real bucket with bad credentials, or a bucket the server refuses. */
  badBucket?: string;
  bucket: string;
  endpoint: string;
  rawEnv: NodeJS.ProcessEnv;
  badEnv: NodeJS.ProcessEnv;
}

const SCHEME = { s3: 's3', azure: 'azure', gcs: 'gs' } as const;
const WHERE = { s3: 'S3 bucket', azure: 'Azure Blob container', gcs: 'GCS bucket' } as const;

const targets: Record<string, () => Promise<Target>> = {
  gcs: async () => {
    const g = await startFakeGcs();
    return {
      provider: 'gcs',
      bucket: g.bucket,
      endpoint: g.endpoint,
      rawEnv: {},
      badEnv: {},
      badBucket: g.forbiddenBucket,
    };
  },
  s3: async () => {
    const s = await startS3();
    return {
      provider: 's3',
      bucket: s.bucket,
      endpoint: s.endpoint,
      rawEnv: { ...s.env },
      badEnv: { AWS_ACCESS_KEY_ID: 'WRONGKEYID', AWS_SECRET_ACCESS_KEY: 'nope' },
    };
  },
  azure: async () => {
    const a = await startAzurite();
    return {
      provider: 'azure',
      bucket: a.container,
      endpoint: a.endpoint,
      rawEnv: { AZURE_STORAGE_CONNECTION_STRING: a.connectionString },
      badEnv: {
        AZURE_STORAGE_ACCOUNT: 'devstoreaccount1',
        AZURE_STORAGE_KEY: Buffer.from('not-the-key').toString('base64'),
      },
    };
  },
};

for (const [label, start] of Object.entries(targets)) {
  describe(`sync to ${label}`, () => {
    let t: Target;
    before(async () => {
      t = await start();
    });

    function envFor(backupDir: string, extra: Record<string, string> = {}) {
      return loadAgentEnv({
        PGOPS_BACKUP_DIR: backupDir,
        PGOPS_SYNC_PROVIDER: t.provider,
        PGOPS_SYNC_BUCKET: t.bucket,
        PGOPS_SYNC_ENDPOINT: t.endpoint,
        PGOPS_SYNC_REGION: 'us-east-1',
        ...extra,
      });
    }
    async function storeFor(env: ReturnType<typeof envFor>, rawEnv = t.rawEnv) {
      return openObjectStore(storeConfigFrom(nestConfig(env), rawEnv), {
        sleep: async () => undefined,
        log: quiet,
      });
    }
    async function sync(
      env: ReturnType<typeof envFor>,
      opts: { dryRun?: boolean } = {},
      store?: ObjectStore,
    ) {
      return runSync(opts, nestConfig(env), {
        store: store ?? (await storeFor(env)),
        log: quiet,
        out: recorder(),
        now: () => new Date(),
      });
    }

    it('uploads verified backups with the manifest last and ignores unverified or foreign files', async () => {
      const dir = tempDir();
      const now = Date.now();
      writeBackup(dir, 'backup_a', new Date(now - 2 * DAY));
      writeBackup(dir, 'backup_b', new Date(now - DAY));
      writeBackup(dir, 'backup_unverified', new Date(now), { verified: false });
      writeFileSync(join(dir, 'notes.manifest.json'), '{"kind":"something-else"}');
      const env = envFor(dir, { PGOPS_SYNC_PREFIX: `upload-${label}` });
      const store = recording(await storeFor(env));
      const r: SyncResult = await sync(env, {}, store);

      assert.deepEqual(
        r.backups.map((b) => [b.name, b.status]),
        [
          ['backup_b', 'uploaded'],
          ['backup_a', 'uploaded'],
        ],
      );
      assert.deepEqual(r.ignored.map((i) => i.file).sort(), [
        'backup_unverified.manifest.json',
        'notes.manifest.json',
      ]);
      assert.deepEqual(store.puts.slice(0, 3), [
        `upload-${label}/backup_b.dump`,
        `upload-${label}/backup_b.globals.sql`,
        `upload-${label}/backup_b.manifest.json`,
      ]);
      const head = await store.head(`upload-${label}/backup_a.dump`);
      assert.equal(head?.sha256, sha(readFileSync(join(dir, 'backup_a.dump'))));
      assert.equal(await store.head(`upload-${label}/backup_unverified.dump`), null);
    });

    it('uploads nothing again on a second run: objects keep their etag and time', async () => {
      const dir = tempDir();
      writeBackup(dir, 'backup_once', new Date());
      const env = envFor(dir, { PGOPS_SYNC_PREFIX: `rerun-${label}/` });
      const first = await sync(env);
      assert.equal(first.uploadedObjects, 3);
      const store = await storeFor(env);
      const before1 = await store.head(`rerun-${label}/backup_once.dump`);
      const second = await sync(env);
      assert.equal(second.uploadedObjects, 0);
      assert.equal(second.backups[0]!.status, 'up-to-date');
      const after1 = await store.head(`rerun-${label}/backup_once.dump`);
      assert.equal(after1?.etag, before1?.etag);
      assert.equal(after1?.lastModified?.getTime(), before1?.lastModified?.getTime());
    });

    it('fetches a remote backup for restore and verifies it against its manifest', async () => {
      const dir = tempDir();
      const { data } = writeBackup(dir, 'backup_fetch', new Date());
      const env = envFor(dir, { PGOPS_SYNC_PREFIX: `fetch-${label}/` });
      await sync(env);
      const scheme = SCHEME[t.provider];
      const got = await fetchRemoteBackup(`${scheme}://${t.bucket}/fetch-${label}/backup_fetch.dump`, {
        config: nestConfig(env),
        rawEnv: t.rawEnv,
        log: quiet,
        tmpDir: tempDir(),
        reliable: { sleep: async () => undefined },
      });
      assert.equal(got.verified, true);
      assert.deepEqual(readFileSync(got.file), data);
      assert.ok(got.globalsFile && readFileSync(got.globalsFile, 'utf8').includes('CREATE ROLE'));
      got.cleanup();
      // A bare name is looked up under the configured bucket and prefix.
      const byName = await fetchRemoteBackup('backup_fetch', {
        config: nestConfig(env),
        rawEnv: t.rawEnv,
        log: quiet,
        tmpDir: tempDir(),
      });
      assert.deepEqual(readFileSync(byName.file), data);
      byName.cleanup();
    });

    it('refuses with exit 3 a remote backup whose content no longer matches its manifest', async () => {
      const dir = tempDir();
      const { manifest } = writeBackup(dir, 'backup_corrupt', new Date());
      const env = envFor(dir, { PGOPS_SYNC_PREFIX: `corrupt-${label}/` });
      await sync(env);
      // Damage the remote copy behind the tool's back (same sha256 metadata, different bytes).
      const raw = await openRawStore(storeConfigFrom(nestConfig(env), t.rawEnv));
      const bad = join(tempDir(), 'bad.dump');
      writeFileSync(bad, randomBytes(manifest.sizeBytes));
      const h = await hashFile(bad, { md5: true });
      await raw.put(`corrupt-${label}/backup_corrupt.dump`, bad, { sha256: manifest.sha256, md5: h.md5 });
      const scheme = SCHEME[t.provider];
      await assert.rejects(
        fetchRemoteBackup(`${scheme}://${t.bucket}/corrupt-${label}/backup_corrupt.dump`, {
          config: nestConfig(env),
          rawEnv: t.rawEnv,
          log: quiet,
          tmpDir: tempDir(),
        }),
        (e: OpsError) =>
          e.exitCode === 3 && e.code === 'E_REMOTE_CHECKSUM' && e.message.includes('backup_corrupt.dump'),
      );
    });

    it('deletes only our remote backups older than the retention, never the newest verified one', async () => {
      const dir = tempDir();
      const now = Date.now();
      writeBackup(dir, 'backup_old1', new Date(now - 20 * DAY));
      writeBackup(dir, 'backup_old2', new Date(now - 10 * DAY));
      const prefix = `retention-${label}/`;
      const env = envFor(dir, { PGOPS_SYNC_PREFIX: prefix });
      await sync(env);
      const store = await storeFor(env);
      const foreign = join(tempDir(), 'foreign.dump');
      writeFileSync(foreign, 'someone else');
      const fh = await hashFile(foreign, { md5: true });
      await store.put(`${prefix}someone-elses.dump`, foreign, { sha256: fh.sha256, md5: fh.md5 });

      // Only old backups remotely: the newest verified one stays even though it is past retention.
      const keepDir = tempDir();
      const r = await sync(envFor(keepDir, { PGOPS_SYNC_PREFIX: prefix, PGOPS_SYNC_RETENTION_DAYS: '5' }));
      assert.deepEqual(r.retention.deleted, ['backup_old1']);
      assert.equal(await store.head(`${prefix}backup_old1.manifest.json`), null);
      assert.equal(await store.head(`${prefix}backup_old1.dump`), null);
      assert.ok(await store.head(`${prefix}backup_old2.dump`));
      assert.ok(
        await store.head(`${prefix}someone-elses.dump`),
        'objects without our manifest are never deleted',
      );

      const dry = await sync(envFor(keepDir, { PGOPS_SYNC_PREFIX: prefix, PGOPS_SYNC_RETENTION_DAYS: '1' }), {
        dryRun: true,
      });
      assert.deepEqual(dry.retention.wouldDelete, []);
    });

    it('fails with exit 1 naming provider and bucket, and a hint about the Secret, on wrong credentials', async () => {
      const dir = tempDir();
      writeBackup(dir, 'backup_creds', new Date());
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PGOPS_BACKUP_DIR: dir,
        PGOPS_SYNC_PROVIDER: t.provider,
        PGOPS_SYNC_BUCKET: t.badBucket ?? t.bucket,
        PGOPS_SYNC_ENDPOINT: t.endpoint,
        PGOPS_LOG_FORMAT: 'text',
        ...t.badEnv,
      };
      const r = await runAgent(['sync', '-o', 'json'], env, { timeoutMs: 60_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`error: .*${WHERE[t.provider]} "${t.badBucket ?? t.bucket}"`));
      assert.match(r.stderr, /hint: Check .*Secret/);
      const json = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        error: { code: string; meta: { provider: string } };
      };
      assert.equal(json.error.code, 'E_STORE_AUTH');
      assert.equal(json.error.meta.provider, t.provider);
      for (const secret of Object.values(t.badEnv))
        assert.ok(!r.stderr.includes(secret!) && !r.stdout.includes(secret!), 'no credential is printed');
    });
  });
}

describe('sync failures', () => {
  it('retries an unreachable endpoint with backoff, then fails with exit 1 naming the bucket', async () => {
    const dir = tempDir();
    writeBackup(dir, 'backup_down', new Date());
    const port = await freePort();
    const env = loadAgentEnv({
      PGOPS_BACKUP_DIR: dir,
      PGOPS_SYNC_PROVIDER: 's3',
      PGOPS_SYNC_BUCKET: 'far-away',
      PGOPS_SYNC_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    const delays: number[] = [];
    const store = await openObjectStore(
      storeConfigFrom(nestConfig(env), { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }),
      {
        sleep: async (ms) => void delays.push(ms),
        log: quiet,
      },
    );
    await assert.rejects(
      runSync({}, nestConfig(env), { store, log: quiet, out: recorder(), now: () => new Date() }),
      (e: OpsError) =>
        e.exitCode === 1 && e.code === 'E_STORE_UNAVAILABLE' && /bucket "far-away"/.test(e.message),
    );
    assert.deepEqual(delays, [500, 1000, 2000, 4000]);
  });

  it('exits 2 with a hint when no provider or bucket is configured', async () => {
    const r = await runAgent(
      ['sync'],
      { PATH: process.env.PATH, PGOPS_BACKUP_DIR: tempDir() },
      { timeoutMs: 60_000 },
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /PGOPS_SYNC_PROVIDER/);
  });
});
