import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { toolEnv } from '../../src/runtime/backup/conn.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

/** The pid of a process that has certainly exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

describe('passfiles of the pg tools', () => {
  it('removes a passfile left by a killed process at the next run, and keeps those of live processes', () => {
    const stale = join(tmpdir(), `pgops-pass-${deadPid()}-stale`);
    const live = join(tmpdir(), `pgops-pass-${process.pid}-live`);
    for (const dir of [stale, live]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'pgpass'), '*:*:*:postgres:secret\n', { mode: 0o600 });
    }
    try {
      const t = toolEnv({ host: '127.0.0.1', port: 5999, user: 'postgres', password: 'pw' });
      const own = t.env('postgres').PGPASSFILE!;
      assert.equal(existsSync(stale), false, 'the dead process left a password behind');
      assert.equal(existsSync(live), true, 'a running process lost its passfile');
      assert.equal(existsSync(own), true);
      t.dispose();
      assert.equal(existsSync(own), false);
    } finally {
      rmSync(stale, { recursive: true, force: true });
      rmSync(live, { recursive: true, force: true });
    }
  });
});
