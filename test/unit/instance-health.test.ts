import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  fullDiskMessage,
  livenessProbe,
  readinessProbe,
  startupProbe,
  type HealthSnapshot,
  type Phase,
} from '../../src/core/instance/health.js';
import { classifyLine } from '../../src/core/ha/log-lines.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const NOW = 1_800_000_000_000;
const MAX_LAG = 16 * 1024 * 1024;

function running(over: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return {
    phase: 'running',
    lastTickAt: NOW - 1000,
    patroniAlive: true,
    patroniLive: true,
    patroniReady: true,
    postgresState: 'running',
    accepting: true,
    everAccepted: true,
    inRecovery: false,
    ...over,
  };
}
function replica(over: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return running({ inRecovery: true, walReceiverStatus: 'streaming', lagBytes: 0, ...over });
}
const notRunning: Phase[] = ['initializing', 'starting', 'reinitializing', 'stopping'];

describe('startup probe', () => {
  it('fails until Patroni has answered once, naming the phase', () => {
    const r = startupProbe(running({ phase: 'initializing', everAccepted: false, patroniLive: undefined }));
    assert.equal(r.ok, false);
    assert.match(r.reasons[0]!, /initializing/);
  });

  it('passes once Patroni answers, even while a long clone runs and PostgreSQL has never accepted a connection', () => {
    assert.equal(
      startupProbe(running({ everAccepted: false, accepting: false, postgresState: 'creating replica' })).ok,
      true,
    );
  });
});

describe('readiness probe', () => {
  it('a running primary that answers is ready', () => {
    assert.deepEqual(readinessProbe(running(), MAX_LAG), { ok: true, reasons: [] });
  });

  for (const phase of notRunning)
    it(`is not ready while ${phase}`, () => {
      assert.equal(readinessProbe(running({ phase }), MAX_LAG).ok, false);
    });

  it('is not ready on a full disk, and says so', () => {
    const r = readinessProbe(running({ phase: 'disk-full', reason: 'the data volume is full' }), MAX_LAG);
    assert.deepEqual(r, { ok: false, reasons: ['the data volume is full'] });
  });

  it("is not ready when Patroni says so, naming PostgreSQL's state", () => {
    const r = readinessProbe(running({ patroniReady: false, postgresState: 'starting' }), MAX_LAG);
    assert.equal(r.ok, false);
    assert.match(r.reasons[0]!, /starting/);
  });

  it('a replica is ready only while streaming and within the lag bound', () => {
    assert.equal(readinessProbe(replica(), MAX_LAG).ok, true);
    assert.match(readinessProbe(replica({ walReceiverStatus: null }), MAX_LAG).reasons[0]!, /not streaming/);
    assert.match(readinessProbe(replica({ lagBytes: MAX_LAG + 1 }), MAX_LAG).reasons[0]!, /exceeds/);
    assert.match(readinessProbe(replica({ lagBytes: null }), MAX_LAG).reasons[0]!, /unknown/);
  });
});

describe('liveness probe', () => {
  it('stays alive on a full disk: a restart would not free space', () => {
    assert.equal(
      livenessProbe(running({ phase: 'disk-full', accepting: false, patroniReady: false }), NOW).ok,
      true,
    );
  });

  it('stays alive while Patroni restarts for less than two minutes', () => {
    assert.equal(
      livenessProbe(running({ patroniAlive: false, patroniDownSince: NOW - 60_000 }), NOW).ok,
      true,
    );
  });

  it('fails when Patroni cannot be kept running, or its own heartbeat is stale, or the agent loop is stuck', () => {
    assert.match(
      livenessProbe(running({ patroniAlive: false, patroniDownSince: NOW - 180_000 }), NOW).reasons[0]!,
      /Patroni has not been running for 180 s/,
    );
    assert.match(livenessProbe(running({ patroniLive: false }), NOW).reasons[0]!, /heartbeat is stale/);
    assert.match(livenessProbe(running({ lastTickAt: NOW - 60_000 }), NOW).reasons[0]!, /agent loop/);
  });
});

describe('full-disk message', () => {
  it('names the PVC, how full it is, and the exact command that doubles it', () => {
    const { message, command } = fullDiskMessage({
      pvc: 'postgres-storage-pyairtable-stack-postgres-0',
      dataDir: '/var/lib/postgresql/data/pgdata',
      usedPercent: 99.95,
      sizeBytes: 10 * 1024 ** 3,
    });
    assert.equal(
      command,
      `kubectl patch pvc postgres-storage-pyairtable-stack-postgres-0 -p '{"spec":{"resources":{"requests":{"storage":"20Gi"}}}}'`,
    );
    assert.ok(message.includes(command));
    assert.match(message, /100\.0% used/);
    assert.match(message, /delete no files/);
  });
});

describe('log lines Patroni and PostgreSQL print', () => {
  it('gives Patroni lines their level', () => {
    assert.deepEqual(classifyLine('2026-11-30 11:42:35,354 INFO: no action. I am (m1), a secondary'), {
      source: 'patroni',
      level: 'info',
    });
    assert.equal(classifyLine('2026-11-30 11:53:07,194 WARNING: Postgresql is not running.').level, 'warn');
    assert.equal(classifyLine('2026-11-30 11:53:07,194 ERROR: Exception during execution').level, 'error');
  });

  it('notices a replica that replayed WAL the leader does not have (it can never follow it)', () => {
    assert.equal(
      classifyLine(
        '2026-11-30 14:48:31.974 UTC [4195] LOG:  new timeline 2 forked off current database system timeline 1 before current recovery point 0/6000000',
      ).diverged,
      true,
    );
    assert.equal(
      classifyLine(
        "2026-11-30 14:48:31.908 UTC [10813] FATAL:  could not start WAL streaming: ERROR:  requested starting point 0/6000000 on timeline 1 is not in this server's history",
      ).diverged,
      true,
    );
    assert.equal(
      classifyLine(
        '2026-11-30 14:48:31.930 UTC [4195] LOG:  restored log file "00000002.history" from archive',
      ).diverged,
      undefined,
    );
  });

  it('gives PostgreSQL lines their level', () => {
    assert.equal(
      classifyLine('2026-11-30 11:52:39.320 UTC [12636] LOG:  started streaming WAL').level,
      'info',
    );
    assert.equal(classifyLine('2026-11-30 11:52:39.320 UTC [12636] PANIC:  could not write').level, 'error');
  });

  it('spots the WAL segment a replica needs and the primary has removed', () => {
    const c = classifyLine(
      '2026-11-30 12:01:02.003 UTC [4411] FATAL:  could not receive data from WAL stream: ERROR:  requested WAL segment 00000001000000000000000A has already been removed',
    );
    assert.equal(c.lostWalSegment, '00000001000000000000000A');
    assert.equal(c.level, 'error');
  });

  it('spots a full disk, and only a full disk', () => {
    assert.equal(
      classifyLine('PANIC:  could not write to file "pg_wal/xlogtemp.123": No space left on device').noSpace,
      true,
    );
    assert.equal(
      classifyLine('ERROR:  could not extend file "base/5/16384": wrote only 4096 of 8192 bytes').noSpace,
      true,
    );
    assert.equal(
      classifyLine('ERROR:  could not open file "/data/my space/x": Permission denied').noSpace,
      undefined,
    );
  });
});
