import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { OpsError } from '../../src/core/errors.js';
import { classifyStoreFailure, storeError } from '../../src/core/sync/errors.js';
import { parseManifest as parseBackupManifest, type BackupManifest } from '../../src/core/backup/manifest.js';
import { backupFiles } from '../../src/core/sync/manifest.js';
import { alreadyUploaded, planRemoteRetention } from '../../src/core/sync/plan.js';
import { withRetries } from '../../src/core/sync/retry.js';
import {
  backupNameOfKey,
  formatRemoteUrl,
  isRemoteUrl,
  normalizePrefix,
  parseRemoteUrl,
  remoteKey,
  resolveRemoteBackup,
} from '../../src/core/sync/url.js';
import { gcsStoreOptions } from '../../src/runtime/objectstore/gcs.js';
import { cleanupAll } from '../support/cleanup.js';
import { backupManifest } from '../support/manifests.js';

after(cleanupAll);

const SHA = 'a'.repeat(64);

function manifest(name: string, finishedAt: string, verified = true): BackupManifest {
  return backupManifest(name, { sha256: SHA, globalsSha256: SHA, sizeBytes: 10, verified, finishedAt });
}

describe('remote backup URLs', () => {
  it('recognises s3://, gs:// and azure:// URLs and nothing else', () => {
    assert.equal(isRemoteUrl('s3://b/k.dump'), true);
    assert.equal(isRemoteUrl('gs://b/k.dump'), true);
    assert.equal(isRemoteUrl('azure://c/k.dump'), true);
    assert.equal(isRemoteUrl('/backups/postgres/k.dump'), false);
    assert.equal(isRemoteUrl('./cluster-migration-backup.sql.gz'), false);
  });

  it('parses provider, bucket and key, and formats them back', () => {
    const r = parseRemoteUrl('gs://dr-bucket/postgres/backup_20260101_020000.dump');
    assert.deepEqual(r, {
      provider: 'gcs',
      bucket: 'dr-bucket',
      key: 'postgres/backup_20260101_020000.dump',
    });
    assert.equal(formatRemoteUrl(r), 'gs://dr-bucket/postgres/backup_20260101_020000.dump');
  });

  it('rejects a URL without a key with exit 2 and the accepted forms', () => {
    assert.throws(
      () => parseRemoteUrl('s3://bucket-only/'),
      (e: OpsError) => e.exitCode === 2 && /s3:\/\/BUCKET/.test(e.hint ?? ''),
    );
    assert.throws(
      () => parseRemoteUrl('ftp://x/y'),
      (e: OpsError) => e.exitCode === 2,
    );
  });

  it('treats a prefix with or without its slash as a folder', () => {
    assert.equal(normalizePrefix('postgres'), 'postgres/');
    assert.equal(normalizePrefix('/postgres/'), 'postgres/');
    assert.equal(normalizePrefix(''), '');
    assert.equal(remoteKey('prod/postgres', 'b.dump'), 'prod/postgres/b.dump');
  });

  it('finds the backup name of a data file or manifest key', () => {
    assert.deepEqual(backupNameOfKey('p/backup_1.dump'), { dir: 'p/', name: 'backup_1' });
    assert.deepEqual(backupNameOfKey('p/backup_1.manifest.json'), { dir: 'p/', name: 'backup_1' });
    assert.deepEqual(backupNameOfKey('cluster-migration-backup.sql.gz'), {
      dir: '',
      name: 'cluster-migration-backup',
    });
  });

  it('resolves a bare backup name under the configured bucket and prefix, and only then', () => {
    assert.deepEqual(
      resolveRemoteBackup('cluster-migration-backup', { provider: 's3', bucket: 'dr', prefix: 'postgres/' }),
      {
        provider: 's3',
        bucket: 'dr',
        key: 'postgres/cluster-migration-backup.manifest.json',
      },
    );
    assert.equal(resolveRemoteBackup('cluster-migration-backup', { prefix: 'postgres/' }), null);
    assert.equal(
      resolveRemoteBackup('./local/file.dump', { provider: 's3', bucket: 'dr', prefix: '' }),
      null,
    );
  });
});

describe('backup manifests', () => {
  it('accepts our manifest and keeps only the file names of its paths', () => {
    const r = parseBackupManifest(
      JSON.stringify({
        ...manifest('b', '2026-01-01T00:00:00Z'),
        file: '/backups/postgres/b.dump',
        extra: 1,
      }),
    );
    assert.ok(r.ok);
    assert.equal(r.ok && r.manifest.file, 'b.dump');
  });

  it('rejects other kinds, malformed checksums and broken JSON with a reason', () => {
    assert.deepEqual(parseBackupManifest('{"kind":"other"}'), {
      ok: false,
      reason: 'not a pyairtable-stack/postgres-backup manifest',
    });
    const bad = parseBackupManifest(JSON.stringify({ ...manifest('b', 'x'), sha256: 'XYZ' }));
    assert.ok(!bad.ok && /sha256/.test(bad.reason));
    assert.equal(parseBackupManifest('{').ok, false);
  });

  it('lists data, globals and the manifest last, for the upload order', () => {
    assert.deepEqual(
      backupFiles(manifest('b', 'x'), 'b.manifest.json').map((f) => f.role),
      ['data', 'globals', 'manifest'],
    );
  });
});

describe('idempotent upload and remote retention', () => {
  it('skips an object only when size and sha256 metadata both match', () => {
    assert.equal(alreadyUploaded({ size: 10, sha256: SHA }, { size: 10, sha256: SHA }), true);
    assert.equal(alreadyUploaded({ size: 11, sha256: SHA }, { size: 10, sha256: SHA }), false);
    assert.equal(alreadyUploaded({ size: 10 }, { size: 10, sha256: SHA }), false);
    assert.equal(alreadyUploaded(null, { size: 10, sha256: SHA }), false);
  });

  it('deletes our backups past the retention, manifest first, and never the newest verified one', () => {
    const now = new Date('2026-02-01T00:00:00Z');
    const b = (name: string, at: string, verified = true) => ({
      manifestKey: `p/${name}.manifest.json`,
      manifest: manifest(name, at, verified),
      dataKeys: [`p/${name}.dump`],
    });
    const plan = planRemoteRetention(
      [
        b('old', '2026-01-01T00:00:00Z'),
        b('newest-verified', '2026-01-10T00:00:00Z'),
        b('unverified', '2026-01-20T00:00:00Z', false),
      ],
      { retentionDays: 7, now },
    );
    assert.deepEqual(plan.keep, ['newest-verified']);
    assert.deepEqual(
      plan.delete.map((d) => d.name),
      ['unverified', 'old'],
    );
    assert.deepEqual(plan.delete[1]!.keys, ['p/old.manifest.json', 'p/old.dump']);
    assert.deepEqual(
      planRemoteRetention([b('old', '2020-01-01T00:00:00Z')], { retentionDays: 0, now }).delete,
      [],
    );
  });
});

describe('object store failures', () => {
  const s3 = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  const azure = (status: number, code?: string) =>
    Object.assign(new Error('RestError'), { name: 'RestError', statusCode: status, code });
  const gcs = (code: number) => Object.assign(new Error('gcs'), { code }); // ApiError carries the HTTP status as code

  it('classifies auth, not found, transient and network failures of every provider alike', () => {
    assert.equal(classifyStoreFailure(s3('InvalidAccessKeyId', 403)), 'auth');
    assert.equal(classifyStoreFailure(s3('NoSuchBucket', 404)), 'not-found');
    assert.equal(classifyStoreFailure(s3('SlowDown', 503)), 'transient');
    assert.equal(classifyStoreFailure(azure(403, 'AuthenticationFailed')), 'auth');
    assert.equal(classifyStoreFailure(azure(404, 'BlobNotFound')), 'not-found');
    assert.equal(classifyStoreFailure(azure(500)), 'transient');
    assert.equal(classifyStoreFailure(gcs(401)), 'auth');
    assert.equal(classifyStoreFailure(gcs(404)), 'not-found');
    assert.equal(classifyStoreFailure(gcs(429)), 'transient');
    assert.equal(classifyStoreFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyStoreFailure(s3('InvalidArgument', 400)), 'fatal');
  });

  it('names provider, bucket and object and points wrong credentials at the Secret', () => {
    const e = storeError('gcs', 'dr-bucket', 'postgres/b.dump', 'uploading', gcs(403));
    assert.equal(e.exitCode, 1);
    assert.equal(e.code, 'E_STORE_AUTH');
    assert.match(e.message, /GCS bucket "dr-bucket", object "postgres\/b.dump"/);
    assert.match(e.hint ?? '', /GOOGLE_APPLICATION_CREDENTIALS/);
    assert.match(
      storeError('azure', 'c', undefined, 'listing', azure(403)).message,
      /Azure Blob container "c"/,
    );
  });

  it('retries transient failures with exponential backoff and never retries an auth failure', async () => {
    const delays: number[] = [];
    let calls = 0;
    const ok = await withRetries(
      async () => {
        if (++calls < 3) throw s3('SlowDown', 503);
        return 'done';
      },
      { attempts: 5, baseMs: 100, maxMs: 1000, sleep: async (ms) => void delays.push(ms) },
    );
    assert.equal(ok, 'done');
    assert.deepEqual(delays, [100, 200]);
    let authCalls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          authCalls++;
          throw s3('AccessDenied', 403);
        },
        { attempts: 5, baseMs: 1, maxMs: 1, sleep: async () => undefined },
      ),
    );
    assert.equal(authCalls, 1);
  });
});

describe('GCS client options', () => {
  it('uses the emulator endpoint and key file when given, and workload identity otherwise', () => {
    const withKey = gcsStoreOptions({
      provider: 'gcs',
      bucket: 'b',
      endpoint: 'http://127.0.0.1:4443',
      env: { GOOGLE_APPLICATION_CREDENTIALS: '/var/run/secrets/gcs/key.json' },
    });
    assert.equal(withKey.apiEndpoint, 'http://127.0.0.1:4443');
    assert.equal(withKey.keyFilename, '/var/run/secrets/gcs/key.json');
    const wi = gcsStoreOptions({ provider: 'gcs', bucket: 'b', env: {} });
    assert.equal(wi.apiEndpoint, undefined);
    assert.equal(wi.keyFilename, undefined);
  });
});
