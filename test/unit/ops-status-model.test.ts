import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findRestoreLeftovers, restoringMark } from '../../src/core/backup/interrupted-restore.js';
import type { BackupEntry, Member } from '../../src/core/cluster/cluster-api.js';
import { lsnDiff, parseLsn } from '../../src/core/pg/wal.js';
import { renderStatus } from '../../src/ops/render/status.js';
import {
  buildInstances,
  lastBackupOf,
  type Probe,
  type StatusReport,
  statusWarnings,
} from '../../src/core/cluster/status-model.js';
import { backupListEntry } from '../support/manifests.js';

const member = (name: string, expectedRole: 'primary' | 'replica', running = true): Member => ({
  name,
  expectedRole,
  running,
  restarts: 0,
  uri: `postgresql://postgres@127.0.0.1:5/${name}`,
});
const backupEntry = (name: string, createdAt: string): BackupEntry => backupListEntry(name, { createdAt });
const probe = (p: Partial<Probe>): Probe => ({
  in_recovery: false,
  timeline: 1,
  lsn: '0/3000000',
  replay_age_seconds: null,
  receiver_status: null,
  ...p,
});

describe('LSN arithmetic', () => {
  it('parses both halves of an LSN as one 64-bit position', () => {
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) + 0xb374d848n);
    assert.equal(parseLsn('nonsense'), null);
  });
  it('computes bytes behind across the 4 GiB boundary and never goes negative', () => {
    assert.equal(lsnDiff('1/00000010', '0/FFFFFFF0'), 32);
    assert.equal(lsnDiff('0/10', '0/20'), 0);
    assert.equal(lsnDiff(null, '0/20'), null);
  });
});

describe('status model', () => {
  it('takes the role from PostgreSQL rather than from what the cluster expected', () => {
    const list = buildInstances(
      [member('a', 'primary'), member('b', 'replica')],
      new Map<string, Probe | Error>([
        ['a', probe({ in_recovery: true, receiver_status: 'streaming' })],
        ['b', probe({ in_recovery: false, lsn: '0/4000000', timeline: 2 })],
      ]),
    );
    assert.deepEqual(
      list.map((i) => [i.name, i.role, i.timeline]),
      [
        ['b', 'primary', 2],
        ['a', 'replica', 1],
      ],
    );
    assert.equal(list[1]!.lagBytes, 0x1000000);
  });

  it('reports zero lag seconds when a replica has replayed everything, however old its last transaction', () => {
    const [, r] = buildInstances(
      [member('p', 'primary'), member('r', 'replica')],
      new Map<string, Probe | Error>([
        ['p', probe({ lsn: '0/5000000' })],
        [
          'r',
          probe({
            in_recovery: true,
            lsn: '0/5000000',
            replay_age_seconds: 9999,
            receiver_status: 'streaming',
          }),
        ],
      ]),
    );
    assert.equal(r!.lagBytes, 0);
    assert.equal(r!.lagSeconds, 0);
    assert.equal(r!.ready, true);
  });

  it('marks a replica that is not streaming as not ready, and a stopped member with why', () => {
    const list = buildInstances(
      [member('p', 'primary'), member('r', 'replica'), member('s', 'replica', false)],
      new Map<string, Probe | Error>([
        ['p', probe({})],
        ['r', probe({ in_recovery: true, receiver_status: null })],
        ['s', new Error('not running')],
      ]),
    );
    assert.deepEqual(
      list.map((i) => [i.name, i.ready, i.error]),
      [
        ['p', true, null],
        ['r', false, null],
        ['s', false, 'not running'],
      ],
    );
  });

  it("shows the member's own reason when it is not ready (e.g. a full data volume)", () => {
    const full = { ...member('p', 'primary'), note: 'data volume full (100%)' };
    const [i] = buildInstances(
      [full],
      new Map<string, Probe | Error>([['p', new Error('connection refused')]]),
    );
    assert.equal(i!.error, 'data volume full (100%)');
    assert.equal(i!.ready, false);
  });

  const base = (over: Partial<StatusReport> = {}): Omit<StatusReport, 'warnings'> => ({
    mode: 'local',
    release: 'r',
    namespace: 'local',
    failover: 'automatic',
    synchronous: false,
    synchronousStandby: [],
    leader: 'p',
    instances: buildInstances([member('p', 'primary')], new Map([['p', probe({})]])),
    storage: [],
    lastBackup: {
      name: 'b',
      file: '/b.dump',
      createdAt: '2026-01-01T00:00:00Z',
      ageSeconds: 60,
      sizeBytes: 1,
      verified: true,
    },
    lastSnapshot: null,
    ...over,
  });

  it('has no warnings for a healthy primary with a fresh verified backup', () => {
    assert.deepEqual(statusWarnings(base()), []);
  });

  it('warns at the chart alert thresholds: disk 70% and 85%, backup older than 26h, lag over 30s', () => {
    const w = statusWarnings(
      base({
        storage: [
          { name: 'pvc-a', member: 'p', capacityBytes: 100, usedBytes: 70, usedPercent: 70 },
          { name: 'pvc-b', member: 'p', capacityBytes: 100, usedBytes: 85, usedPercent: 85 },
          { name: 'pvc-c', member: 'p', capacityBytes: 100, usedBytes: 69, usedPercent: 69.9 },
        ],
        lastBackup: {
          name: 'old',
          file: '/o',
          createdAt: 'x',
          ageSeconds: 27 * 3600,
          sizeBytes: 1,
          verified: false,
        },
        instances: [
          ...base().instances,
          {
            name: 'r',
            role: 'replica',
            ready: true,
            running: true,
            state: 'streaming',
            pendingRestart: false,
            synchronousStandby: false,
            restarts: 0,
            timeline: 1,
            lagBytes: 10,
            lagSeconds: 31,
            uri: 'u',
            error: null,
          },
        ],
      }),
    );
    assert.deepEqual(w, [
      'r lags 31s behind the primary (alert at 30s)',
      'volume pvc-a is 70% full (warning at 70%)',
      'CRITICAL: volume pvc-b is 85% full (expand it now)',
      'newest backup old is 27h old (alert at 26h)',
      'newest backup old is not verified',
    ]);
  });

  it('calls out a missing primary and two writable primaries', () => {
    const none = statusWarnings(base({ instances: [], lastBackup: null }));
    assert.deepEqual(none, [
      'no PostgreSQL instances found; start them: postgres-ops local up',
      'no backup yet: postgres-ops backup NAME',
    ]);
    const two = buildInstances(
      [member('a', 'primary'), member('b', 'replica')],
      new Map([
        ['a', probe({})],
        ['b', probe({})],
      ]),
    );
    assert.match(
      statusWarnings(base({ instances: two }))[0]!,
      /^CRITICAL: 2 instances accept writes \(a, b\)/,
    );
  });

  it('with failover manual and no primary, names the promote command; warns when synchronous replication has no standby and when a restart is pending', () => {
    const stopped = buildInstances(
      [{ ...member('p', 'primary'), running: false }, member('r', 'replica')],
      new Map<string, Probe | Error>([
        ['p', new Error('not running')],
        ['r', probe({ in_recovery: true, receiver_status: 'streaming' })],
      ]),
    );
    assert.deepEqual(
      stopped.map((i) => [i.name, i.state, i.running]),
      [
        ['p', 'stopped', false],
        ['r', 'streaming', true],
      ],
    );
    const w = statusWarnings(base({ failover: 'manual', instances: stopped }));
    assert.match(
      w[0]!,
      /^CRITICAL: no primary is accepting writes, and failover is manual: .*postgres-ops promote r\)/,
    );
    const sync = statusWarnings(
      base({
        synchronous: true,
        instances: [
          { ...base().instances[0]!, pendingRestart: true },
          { ...stopped[1]!, name: 'r2' },
        ],
      }),
    );
    assert.ok(sync.includes('p runs with settings that need a restart to apply (pending restart)'));
    assert.ok(sync.some((x) => /synchronous replication is on but no replica is synchronous/.test(x)));
  });

  it('picks the newest backup by creation time, whatever the list order', () => {
    const b = lastBackupOf(
      [backupEntry('old', '2026-01-01T00:00:00Z'), backupEntry('new', '2026-01-02T00:00:00Z')],
      new Date('2026-01-02T01:00:00Z'),
    );
    assert.equal(b?.name, 'new');
    assert.equal(b?.ageSeconds, 3600);
  });

  it('renders warnings on the status screen and the psql line for the primary', () => {
    const report = { ...base({ lastBackup: null }), warnings: ['no backup yet: postgres-ops backup NAME'] };
    const text = renderStatus(report);
    assert.match(text, /WARNINGS \(1\)\n {2}! no backup yet/);
    assert.match(text, /Connect: {7}psql "postgresql:\/\/postgres@127\.0\.0\.1:5\/p"/);
    assert.ok(!text.includes('\u001b['), 'no colour codes unless asked');
  });

  const hints = {
    start: 'postgres-ops local up',
    repair: 'postgres-ops local up',
    sql: 'run it in: postgres-ops connect',
  };

  it('says a restore was interrupted between fencing and swap, that the data is intact, and the exact repair', () => {
    const leftovers = findRestoreLeftovers([
      { datname: 'postgres', datallowconn: true, datistemplate: false },
      { datname: 'template0', datallowconn: false, datistemplate: true },
      { datname: 'pyairtable', datallowconn: false, datistemplate: false },
      {
        datname: 'pyairtable__restoring',
        datallowconn: true,
        datistemplate: false,
        comment: restoringMark('pyairtable'),
      },
      {
        datname: 'other__restoring',
        datallowconn: true,
        datistemplate: false,
        comment: restoringMark('other'),
      },
      { datname: 'mine__restoring', datallowconn: true, datistemplate: false, comment: null },
      { datname: 'other', datallowconn: true, datistemplate: false },
    ]);
    assert.deepEqual(
      leftovers.map((l) => [l.kind, l.database, l.repair]),
      [
        [
          'fenced',
          'pyairtable',
          [
            'ALTER DATABASE "pyairtable" ALLOW_CONNECTIONS true',
            'DROP DATABASE IF EXISTS "pyairtable__restoring" WITH (FORCE)',
          ],
        ],
        ['unfinished-copy', 'mine', ['DROP DATABASE IF EXISTS "mine__restoring" WITH (FORCE)']],
        ['unfinished-copy', 'other', ['DROP DATABASE IF EXISTS "other__restoring" WITH (FORCE)']],
      ],
    );
    // Only copies a restore of ours marked are repaired on their own.
    assert.deepEqual(
      leftovers.map((l) => [l.database, l.automatic]),
      [
        ['pyairtable', true],
        ['mine', false],
        ['other', true],
      ],
    );
    const w = statusWarnings(base(), undefined, hints, { leftovers });
    assert.deepEqual(w, [
      'CRITICAL: database pyairtable refuses all connections: a restore was interrupted between fencing it and swapping pyairtable__restoring in; its data is intact. Repair: postgres-ops local up (a new restore repairs it first)',
      'database mine__restoring is left from a restore of mine that was interrupted. Drop it: DROP DATABASE IF EXISTS "mine__restoring" WITH (FORCE) (run it in: postgres-ops connect) (it does not carry the mark of our restores: check it is not yours first)',
      'database other__restoring is left from a restore of other that was interrupted; other itself was not changed. Drop it: postgres-ops local up',
    ]);
    // While an operation runs, its work in progress is no warning; the screen says what runs.
    const running = {
      operation: 'restore b',
      startedAt: 'now',
      host: 'h',
      pid: 1,
      backendPid: 2,
      clientAddr: null,
    };
    assert.deepEqual(statusWarnings(base(), undefined, hints, { leftovers, operation: running }), []);
    const text = renderStatus({ ...base(), operation: running, warnings: [] });
    assert.match(text, /Running: {7}restore b \(started now on h, pid 1\)/);
  });

  it('names the database, the count, the last failure time and what to do for data checksum failures', () => {
    const w = statusWarnings(base(), undefined, hints, {
      checksumFailures: [
        {
          instance: 'postgres-0',
          database: 'pyairtable',
          failures: 3,
          lastFailure: '2026-01-02 03:04:05+00',
        },
      ],
    });
    assert.equal(w.length, 1);
    assert.match(
      w[0]!,
      /^CRITICAL: postgres-0: 3 data checksum failures in database pyairtable, the last at 2026-01-02 03:04:05\+00: .*restore the newest verified backup \(postgres-ops restore b\)/,
    );
  });

  it('warns about each damaged backup and never takes one for the last backup', () => {
    const reason = 'archive n is 1 bytes, the manifest says 2 (truncated)';
    const entries: BackupEntry[] = [
      {
        ...backupEntry('new-but-damaged', '2026-01-02T00:00:00Z'),
        verified: false,
        damaged: true,
        damagedReason: reason,
      },
      backupEntry('intact', '2026-01-01T00:00:00Z'),
    ];
    assert.equal(lastBackupOf(entries, new Date('2026-01-03T00:00:00Z'))?.name, 'intact');
    const w = statusWarnings(base(), undefined, hints, {
      damagedBackups: [{ name: 'new-but-damaged', reason }],
    });
    assert.deepEqual(w, [
      'backup new-but-damaged is damaged (archive n is 1 bytes, the manifest says 2 (truncated)): never restore it; verify the others (postgres-ops verify --all) and take a new backup (postgres-ops backup NAME)',
    ]);
  });

  it('says the data is gone and names the restore commands instead of local up', () => {
    const down = buildInstances(
      [member('postgres-0', 'primary', false)],
      new Map([['postgres-0', new Error('not running')]]),
    );
    const report = base({
      instances: down,
      lastSnapshot: { name: 'snap', createdAt: 'x', ageSeconds: 1, readyToUse: true },
    });
    const dataLoss = { members: ['postgres-0'], dirs: ['/s/data/postgres-0'], intactMembers: [] };
    const w = statusWarnings(
      report,
      undefined,
      { ...hints, fresh: 'postgres-ops local up --fresh' },
      { dataLoss },
    );
    assert.deepEqual(w, [
      'CRITICAL: the data of postgres-0 is gone (/s/data/postgres-0 holds no database); `local up` alone would start an EMPTY cluster. Restore the newest backup: postgres-ops local up --fresh && postgres-ops restore b --yes, or the newest snapshot: postgres-ops restore --snapshot snap --yes',
    ]);
    assert.ok(!w.some((x) => /is not running: postgres-ops local up/.test(x)));
  });
});
