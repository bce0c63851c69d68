import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OpsError } from '../../src/core/errors.js';
import { withStateLock } from '../../src/local/lock.js';
import { cleanupAll } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

describe('the local state lock', () => {
  it('refuses a second changing command while the first one is alive, naming it', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'ops.lock'), `${process.pid} local up\n`);
    let ran = false;
    await assert.rejects(
      withStateLock(root, 'local down', async () => {
        ran = true;
      }),
      (e: unknown) =>
        e instanceof OpsError &&
        e.code === 'E_BUSY' &&
        e.exitCode === 3 &&
        e.message.includes(`pid ${process.pid}: local up`),
    );
    assert.equal(ran, false);
    assert.equal(readFileSync(join(root, 'ops.lock'), 'utf8'), `${process.pid} local up\n`);
  });

  it('takes over a lock left by a process that is gone, and releases it afterwards', async () => {
    const root = tempDir();
    const dead = spawnSync('true').pid;
    writeFileSync(join(root, 'ops.lock'), `${dead} local up\n`);
    const seen = await withStateLock(root, 'local down', async () =>
      readFileSync(join(root, 'ops.lock'), 'utf8'),
    );
    assert.equal(seen, `${process.pid} local down\n`);
    assert.equal(existsSync(join(root, 'ops.lock')), false);
  });

  it('releases the lock when the command fails', async () => {
    const root = tempDir();
    await assert.rejects(
      withStateLock(root, 'promote x', async () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(existsSync(join(root, 'ops.lock')), false);
  });
});
