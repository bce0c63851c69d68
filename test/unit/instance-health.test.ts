import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  fullDiskMessage,
  livenessProbe,
  logShowsDirectoryBusy,
  logShowsNoSpace,
  readinessProbe,
  startupProbe,
  type HealthSnapshot,
  type Phase,
} from '../../src/core/instance/health.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const NOW = 1_800_000_000_000;
const MAX_LAG = 16 * 1024 * 1024;

function running(over: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return {
    phase: 'running',
    lastTickAt: NOW - 1000,
    postmasterAlive: true,
    accepting: true,
    everAccepted: true,
    inRecovery: false,
    ...over,
  };
}
function replica(over: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return running({ inRecovery: true, walReceiverStatus: 'streaming', lagBytes: 0, ...over });
}
const notRunning: Phase[] = [
  'initializing',
  'bootstrapping',
  'cloning',
  'rewinding',
  'waiting',
  'starting',
  'stopping',
];

describe('startup probe', () => {
  it('fails until PostgreSQL has accepted a connection once, naming the phase', () => {
    const r = startupProbe(running({ phase: 'cloning', everAccepted: false, accepting: false }));
    assert.equal(r.ok, false);
    assert.match(r.reasons[0]!, /cloning/);
  });

  it('stays passed once PostgreSQL has accepted a connection, even if it stops answering later', () => {
    assert.equal(startupProbe(running({ accepting: false, postmasterAlive: false })).ok, true);
  });
});

describe('readiness probe', () => {
  it('a running primary that answers is ready', () => {
    assert.deepEqual(readinessProbe(running(), MAX_LAG), { ok: true, reasons: [] });
  });

  it('a streaming replica within PGOPS_MAX_LAG_BYTES is ready, also exactly at the limit', () => {
    assert.equal(readinessProbe(replica({ lagBytes: 1000 }), MAX_LAG).ok, true);
    assert.equal(readinessProbe(replica({ lagBytes: MAX_LAG }), MAX_LAG).ok, true);
  });

  it('readiness is false on a replica lagging more than PGOPS_MAX_LAG_BYTES', () => {
    const r = readinessProbe(replica({ lagBytes: MAX_LAG + 1 }), MAX_LAG);
    assert.equal(r.ok, false);
    assert.match(r.reasons.join(), new RegExp(`${MAX_LAG + 1} bytes exceeds PGOPS_MAX_LAG_BYTES=${MAX_LAG}`));
  });

  it('a replica that is not streaming is not ready, whatever its lag, and says what the WAL receiver does', () => {
    const r = readinessProbe(replica({ walReceiverStatus: 'waiting', lagBytes: 0 }), MAX_LAG);
    assert.equal(r.ok, false);
    assert.match(r.reasons.join(), /not streaming \(wal receiver: waiting\)/);
    const none = readinessProbe(replica({ walReceiverStatus: null }), MAX_LAG);
    assert.match(none.reasons.join(), /wal receiver: not running/);
  });

  it('a replica whose replay lag is unknown is not ready', () => {
    for (const lagBytes of [null, undefined]) {
      const r = readinessProbe(replica({ lagBytes }), MAX_LAG);
      assert.equal(r.ok, false);
      assert.match(r.reasons.join(), /lag is unknown/);
    }
  });

  it('a replica with PGOPS_MAX_LAG_BYTES=0 is ready only when fully replayed', () => {
    assert.equal(readinessProbe(replica({ lagBytes: 0 }), 0).ok, true);
    assert.equal(readinessProbe(replica({ lagBytes: 1 }), 0).ok, false);
  });

  it('is not ready in any phase but running, and names the phase and its reason', () => {
    for (const phase of notRunning) {
      const r = readinessProbe(running({ phase, reason: 'why' }), MAX_LAG);
      assert.equal(r.ok, false, phase);
      assert.equal(r.reasons[0], `instance is ${phase}: why`);
    }
  });

  it('is not ready when running but PostgreSQL does not answer', () => {
    const r = readinessProbe(running({ accepting: false }), MAX_LAG);
    assert.deepEqual(r, { ok: false, reasons: ['PostgreSQL does not accept connections'] });
  });

  it('is not ready on a full disk and gives the full-disk message as the reason', () => {
    const r = readinessProbe(
      running({ phase: 'disk-full', reason: 'the data volume (PVC x) is full' }),
      MAX_LAG,
    );
    assert.deepEqual(r, { ok: false, reasons: ['the data volume (PVC x) is full'] });
  });
});

describe('liveness probe', () => {
  it('liveness stays true in the full-disk state', () => {
    const r = livenessProbe(running({ phase: 'disk-full', postmasterAlive: false, accepting: false }), NOW);
    assert.deepEqual(r, { ok: true, reasons: [] });
  });

  it('stays true while bootstrapping, cloning, rewinding, waiting for a primary or starting (crash recovery)', () => {
    for (const phase of notRunning) {
      const r = livenessProbe(
        running({ phase, postmasterAlive: phase === 'starting', accepting: false }),
        NOW,
      );
      assert.equal(r.ok, true, phase);
    }
  });

  it('fails when the postmaster of a running instance is gone', () => {
    const r = livenessProbe(running({ postmasterAlive: false }), NOW);
    assert.deepEqual(r, { ok: false, reasons: ['postmaster is not running'] });
  });

  it('fails when a running PostgreSQL stops answering', () => {
    const r = livenessProbe(running({ accepting: false }), NOW);
    assert.deepEqual(r, { ok: false, reasons: ['PostgreSQL does not answer'] });
  });

  it('fails in any phase when the agent loop has not ticked for more than 30 s', () => {
    assert.equal(livenessProbe(running({ lastTickAt: NOW - 30_000 }), NOW).ok, true);
    for (const phase of ['running', 'waiting', 'disk-full'] as const) {
      const r = livenessProbe(running({ phase, lastTickAt: NOW - 30_001 }), NOW);
      assert.equal(r.ok, false, phase);
      assert.match(r.reasons[0]!, /agent loop has not run for 30001 ms/);
    }
  });

  it('a lagging or disconnected replica is still alive: lag is a readiness matter', () => {
    const r = livenessProbe(replica({ walReceiverStatus: null, lagBytes: 10 * MAX_LAG }), NOW);
    assert.equal(r.ok, true);
  });
});

describe('full data volume', () => {
  const GiB = 1024 ** 3;

  it('names the PVC, the directory and the use, and prints a kubectl patch that doubles the volume', () => {
    const { message, command } = fullDiskMessage({
      pvc: 'data-pyairtable-stack-postgres-0',
      dataDir: '/var/lib/postgresql/data/pgdata',
      usedPercent: 99.96,
      sizeBytes: 10 * GiB,
    });
    assert.equal(
      command,
      `kubectl patch pvc data-pyairtable-stack-postgres-0 -p '{"spec":{"resources":{"requests":{"storage":"20Gi"}}}}'`,
    );
    assert.match(
      message,
      /^the data volume \(PVC data-pyairtable-stack-postgres-0\) holding \/var\/lib\/postgresql\/data\/pgdata is full \(100\.0% used\): PostgreSQL cannot run until it has space\./,
    );
    assert.ok(message.includes(command));
    assert.match(message, /delete no files/);
  });

  it('the patch in the message is valid JSON that asks for more than the current size', () => {
    const { command } = fullDiskMessage({ pvc: 'p', dataDir: '/d', usedPercent: 100, sizeBytes: 1.5 * GiB });
    const patch = JSON.parse(/-p '(.*)'$/.exec(command)![1]!) as {
      spec: { resources: { requests: { storage: string } } };
    };
    assert.equal(patch.spec.resources.requests.storage, '3Gi');
  });

  it('rounds the doubled size up to whole Gi and never asks for less than 1Gi', () => {
    const size = (sizeBytes: number) =>
      /"storage":"(\d+)Gi"/.exec(fullDiskMessage({ dataDir: '/d', usedPercent: 100, sizeBytes }).command)![1];
    assert.equal(size(GiB + 1), '3');
    assert.equal(size(100 * 1024 * 1024), '1');
    assert.equal(size(0), '1');
  });

  it('uses a placeholder for the PVC when PGOPS_DATA_PVC is not set', () => {
    const { message, command } = fullDiskMessage({ dataDir: '/d', usedPercent: 100, sizeBytes: GiB });
    assert.match(command, /^kubectl patch pvc <data-pvc> /);
    assert.match(message, /^the data volume holding \/d is full/);
  });

  it('recognises the log lines of PostgreSQL stopping for lack of space', () => {
    for (const line of [
      'PANIC:  could not write to file "pg_wal/xlogtemp.4121": No space left on device',
      'ERROR:  could not extend file "base/16384/16385": No space left on device',
      'ERROR:  could not extend file "base/16384/16385": wrote only 4096 of 8192 bytes at block 7\nHINT:  Check free disk space.',
      'FATAL:  could not write lock file "postmaster.pid": No space left on device',
    ]) {
      assert.equal(logShowsNoSpace(line), true, line);
    }
  });

  it('does not call other failures a full disk, also when a path contains the word space', () => {
    for (const line of [
      'FATAL:  the database system is starting up',
      'PANIC:  could not write to file "pg_wal/xlogtemp.1": Input/output error',
      'PANIC:  could not write to file "/mnt/tablespace/PG_15_202209061/16384/1": Permission denied',
      'FATAL:  lock file "postmaster.pid" already exists',
    ]) {
      assert.equal(logShowsNoSpace(line), false, line);
    }
  });
});

describe('a data directory still held by the previous postmaster', () => {
  it('recognises the lock file, shared memory and port messages of a postmaster still running', () => {
    for (const line of [
      'FATAL:  lock file "postmaster.pid" already exists\nHINT:  Is another postmaster (PID 812) running in data directory "/data/pgdata"?',
      'FATAL:  pre-existing shared memory block (key 5432001, ID 98305) is still in use\nHINT:  Terminate any old server processes associated with data directory "/data/pgdata".',
      'LOG:  could not bind IPv4 address "0.0.0.0": Address already in use',
    ]) {
      assert.equal(logShowsDirectoryBusy(line), true, line);
    }
  });

  it('does not take a full disk or a configuration error for a busy directory', () => {
    for (const line of [
      'PANIC:  could not write to file "pg_wal/xlogtemp.1": No space left on device',
      'FATAL:  configuration file "/data/pgdata/postgresql.conf" contains errors',
    ]) {
      assert.equal(logShowsDirectoryBusy(line), false, line);
    }
  });
});
