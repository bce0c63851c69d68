import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fetchHealth } from '../../src/runtime/agent-process.js';
import { createInstance } from '../support/agent.js';
import { cleanupAll, onCleanup } from '../support/cleanup.js';
import { postgresUser } from '../support/os-user.js';

after(cleanupAll);

/** Writes zeros into `file` until the filesystem says ENOSPC; returns the bytes written. */
function fillUp(file: string): number {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
          // Fill the last partial megabyte too.
          for (const size of [65536, 4096, 512, 1]) {
            try {
              for (;;) written += writeSync(fd, chunk.subarray(0, size));
            } catch {
              /* next smaller size */
            }
          }
          return written;
        }
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe('postgres-agent instance on a full data volume', () => {
  it('reports the full volume with the kubectl patch line, stays live but not ready, and recovers by itself once the volume grows', async () => {
    const m = await createInstance({
      name: 'postgres-0',
      env: { PGOPS_DATA_PVC: 'data-pyairtable-stack-postgres-0' },
    });
    const u = postgresUser();
    // A small real filesystem as the data volume; growing it is what a PVC expansion does.
    execFileSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=96m,mode=0700,uid=${u.uid ?? 0},gid=${u.gid ?? 0}`,
      'tmpfs',
      m.volumeDir,
    ]);
    onCleanup(`umount ${m.volumeDir}`, () => {
      execFileSync('umount', ['-l', m.volumeDir]);
    });
    m.start();
    await m.waitReady();
    await m.query('CREATE TABLE kept (id int PRIMARY KEY)');
    await m.query('INSERT INTO kept SELECT generate_series(1, 1000)');
    assert.deepEqual(await m.stop(), { code: 0, signal: null });

    const filler = join(m.volumeDir, 'filler');
    const filled = fillUp(filler);
    assert.ok(filled > 0);

    const p = m.start();
    const deadline = Date.now() + 60_000;
    while (!/is full/.test(p.output())) {
      assert.ok(Date.now() < deadline, `no full-disk message in:\n${p.output()}`);
      assert.equal(
        await Promise.race([p.exited.then(() => 'exited'), Promise.resolve('running')]),
        'running',
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    const line = p
      .output()
      .split('\n')
      .find((l) => l.includes('is full'))!;
    const entry = JSON.parse(line) as { level: string; msg: string; command: string; pvc: string };
    assert.equal(entry.level, 'error');
    assert.match(entry.msg, /PVC data-pyairtable-stack-postgres-0/);
    assert.match(entry.msg, /100\.0% used/);
    assert.equal(
      entry.command,
      `kubectl patch pvc data-pyairtable-stack-postgres-0 -p '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}'`,
    );
    assert.ok(entry.msg.includes(entry.command), 'the message quotes the command to type');
    const live = await fetchHealth(m.healthPort, '/healthz/live');
    assert.equal(live.status, 200, JSON.stringify(live.body));
    const ready = await fetchHealth(m.healthPort, '/healthz/ready');
    assert.equal(ready.status, 503);
    assert.match(JSON.stringify(ready.body), /is full/);

    // The volume is expanded: the instance starts by itself, nothing was deleted.
    execFileSync('mount', ['-o', 'remount,size=192m', m.volumeDir]);
    await m.waitReady(60_000);
    const [row] = await m.query<{ n: string }>('SELECT count(*) AS n FROM kept');
    assert.equal(row!.n, '1000');
    assert.equal(existsSync(filler), true);
    assert.equal(statSync(filler).size, filled);
    assert.deepEqual(await m.stop(), { code: 0, signal: null });
  });
});
