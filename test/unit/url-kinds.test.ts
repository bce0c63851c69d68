import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRemoteUrl, isUrl, refuseUnsupportedUrl, urlScheme } from '../../src/core/sync/url.js';

describe('what is a URL', () => {
  it('takes anything written scheme:// for a URL, whatever the scheme or its case', () => {
    for (const u of [
      's3://b/k',
      'GS://b/k',
      'azure://c/k',
      'https://x/y?sig=1',
      'file:///tmp/x',
      'git+ssh://h/r',
    ])
      assert.ok(isUrl(u), u);
    assert.equal(urlScheme('https://x/y'), 'https');
    assert.equal(urlScheme('S3://b/k'), 'S3');
  });

  it('never takes a backup name, a path or the guide file name for a URL', () => {
    for (const s of [
      'backup_20240101_020000',
      '/backups/postgres/x.dump',
      './x.sql.gz',
      'C:\\x',
      'x:y',
      '3s://b/k',
    ])
      assert.ok(!isUrl(s), s);
  });

  it('reads only the object stores sync writes to, and refuses any other URL by name (exit 2)', () => {
    assert.ok(isRemoteUrl('s3://b/k') && isRemoteUrl('gs://b/k') && isRemoteUrl('azure://c/k'));
    assert.ok(!isRemoteUrl('https://x/y'));
    assert.throws(
      () => refuseUnsupportedUrl('https://x/y'),
      (e: { code: string; exitCode: number; message: string }) =>
        e.code === 'E_REMOTE_URL' && e.exitCode === 2 && /https:\/\//.test(e.message),
    );
    assert.doesNotThrow(() => refuseUnsupportedUrl('s3://b/k'));
    assert.doesNotThrow(() => refuseUnsupportedUrl('backup_20240101_020000'));
  });
});
