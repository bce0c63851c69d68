import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashFile } from '../../src/runtime/file-hash.js';
import { tempDir } from '../support/tmp.js';

describe('file hash', () => {
  it('gives the sha256 and size of a file read in several chunks', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(tempDir(), 'data.bin');
    writeFileSync(file, data);
    assert.deepEqual(await hashFile(file), {
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.length,
    });
  });

  it('adds the raw md5 object stores check an upload against only when asked', async () => {
    const data = Buffer.from('backup bytes');
    const file = join(tempDir(), 'small.dump');
    writeFileSync(file, data);
    const h = await hashFile(file, { md5: true });
    assert.deepEqual(h.md5, createHash('md5').update(data).digest());
    assert.equal(h.sha256, createHash('sha256').update(data).digest('hex'));
    assert.equal('md5' in (await hashFile(file)), false);
  });

  it('hashes an empty file', async () => {
    const file = join(tempDir(), 'empty');
    writeFileSync(file, '');
    assert.deepEqual(await hashFile(file), {
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      bytes: 0,
    });
  });

  it('rejects for a file that is not there', async () => {
    await assert.rejects(hashFile(join(tempDir(), 'missing')), /ENOENT/);
  });
});
