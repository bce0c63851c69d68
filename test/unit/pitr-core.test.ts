import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  archiveCommand,
  pgbackrestConf,
  repo2Env,
  repo2FromSync,
  restoreCommand,
} from '../../src/core/pitr/conf.js';
import {
  earliestRecoverable,
  parseInfo,
  physicalEntries,
  type PhysicalBackup,
} from '../../src/core/pitr/info.js';
import {
  firstTimestamp,
  parseHistoryFile,
  parseTarget,
  parseTime,
  planRestore,
  segmentOf,
} from '../../src/core/pitr/target.js';
import { OpsError } from '../../src/core/errors.js';
import { pitrStatus, pitrWarnings, timeoutSeconds } from '../../src/ops/pitr-status.js';
import { pgbackrestMessage } from '../../src/runtime/pitr/pgbackrest.js';

const INFO = JSON.stringify([
  {
    archive: [
      {
        database: { id: 1, 'repo-key': 1 },
        id: '15-1',
        max: '000000020000000000000009',
        min: '000000010000000000000001',
      },
    ],
    backup: [
      {
        annotation: { name: 'first' },
        archive: { start: '000000010000000000000002', stop: '000000010000000000000003' },
        database: { id: 1, 'repo-key': 1 },
        error: false,
        info: { size: 22992571, repository: { delta: 2821650, size: 2821650 } },
        label: '20261130-131833F',
        lsn: { start: '0/2000028', stop: '0/3000050' },
        prior: null,
        timestamp: { start: 1796044713, stop: 1796044715 },
        type: 'full',
      },
    ],
    name: 'db',
    repo: [{ cipher: 'none', key: 1, status: { code: 0, message: 'ok' } }],
    status: { code: 0, message: 'ok' },
  },
]);

const backup = (over: Partial<PhysicalBackup>): PhysicalBackup => ({
  label: 'b',
  type: 'full',
  repo: 'repo1',
  startedAt: '2026-01-01T00:00:00.000Z',
  stoppedAt: '2026-01-01T00:00:10.000Z',
  startLsn: '0/2000028',
  stopLsn: '0/3000050',
  timeline: 1,
  sizeBytes: 1,
  repoSizeBytes: 1,
  prior: null,
  name: null,
  error: false,
  walStart: '',
  walStop: '',
  ...over,
});

describe('pgBackRest configuration', () => {
  it('writes the archive settings, repo1 as a folder and process-max for the archive, backups and restores', () => {
    const text = pgbackrestConf({
      stanza: 'db',
      pg: [{ path: '/data/pg', port: 5432, socketPath: '/run/pg' }],
      repo1: { kind: 'posix', path: '/repo' },
      retentionFull: 2,
      processMax: 3,
      spoolPath: '/data/pg.pgbackrest-spool',
      lockPath: '/run/lock',
      pgUser: 'postgres',
    });
    assert.match(text, /^compress-type=zst$/m);
    assert.match(text, /^archive-async=y$/m);
    assert.match(text, /^spool-path=\/data\/pg\.pgbackrest-spool$/m);
    assert.match(text, /^repo1-retention-full=2$/m);
    assert.doesNotMatch(text, /retention-archive/, 'never a retention that cuts the window');
    for (const cmd of ['archive-push', 'archive-get', 'backup', 'restore'])
      assert.match(text, new RegExp(`\\[global:${cmd}\\]\\nprocess-max=3`));
    assert.equal(text.split('\n').filter((l) => l.startsWith('process-max')).length, 4);
    assert.match(
      text,
      /\[db\]\npg1-path=\/data\/pg\npg1-port=5432\npg1-user=postgres\npg1-socket-path=\/run\/pg/,
    );
  });

  it('reaches repo1 over TLS with client certificates and runs a TLS server that admits one client name', () => {
    const tls = { caFile: '/t/ca.crt', certFile: '/t/tls.crt', keyFile: '/t/tls.key' };
    const text = pgbackrestConf({
      stanza: 'db',
      pg: [{ path: '/data/pg', port: 5432 }],
      repo1: { kind: 'tls', host: 'repo.ns.svc', port: 8432 },
      retentionFull: 2,
      processMax: 2,
      lockPath: '/l',
      tlsClient: tls,
      tlsServer: { ...tls, port: 8432, allowedClientCn: 'pgbackrest-client' },
      pgUser: 'postgres',
    });
    assert.match(text, /^repo1-host-type=tls$/m);
    assert.match(text, /^repo1-host=repo\.ns\.svc$/m);
    assert.match(text, /^tls-server-auth=pgbackrest-client=db$/m);
  });

  it('takes repo2 from the cross-region settings: an https endpoint with a port, path-style, no secret in the file', () => {
    const r2 = repo2FromSync({
      provider: 's3',
      bucket: 'b',
      prefix: 'postgres/',
      endpoint: 'https://127.0.0.1:9443',
      verifyTls: false,
      hasKeys: true,
      webIdentity: false,
    });
    assert.deepEqual(
      [r2.endpoint, r2.port, r2.path, r2.pathStyle, r2.keyType],
      ['127.0.0.1', 9443, '/postgres/pgbackrest', true, 'shared'],
    );
    const text = pgbackrestConf({
      stanza: 'db',
      pg: [],
      repo2: r2,
      retentionFull: 2,
      processMax: 1,
      lockPath: '/l',
      pgUser: 'postgres',
    });
    assert.match(text, /^repo2-storage-verify-tls=n$/m);
    assert.match(text, /^repo2-s3-uri-style=path$/m);
    assert.doesNotMatch(text, /S3RVER|secret/i);
    assert.deepEqual(repo2Env('s3', { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'x' }), {
      PGBACKREST_REPO2_S3_KEY: 'S3RVER',
      PGBACKREST_REPO2_S3_KEY_SECRET: 'x',
    });
    assert.deepEqual(
      repo2Env('azure', { AZURE_STORAGE_CONNECTION_STRING: 'AccountName=a;AccountKey=k==;BlobEndpoint=x' }),
      {
        PGBACKREST_REPO2_AZURE_ACCOUNT: 'a',
        PGBACKREST_REPO2_AZURE_KEY: 'k==',
      },
    );
    assert.throws(
      () =>
        repo2FromSync({
          provider: 's3',
          bucket: 'b',
          prefix: '',
          endpoint: 'http://x:9000',
          verifyTls: true,
          hasKeys: true,
          webIdentity: false,
        }),
      /HTTPS only/,
    );
  });

  it('archives through pgBackRest with the config named explicitly, or runs `true` when point-in-time recovery is off', () => {
    assert.equal(
      archiveCommand('/run/pg/pgops/pgbackrest.conf', 'db'),
      'pgbackrest --config=/run/pg/pgops/pgbackrest.conf --stanza=db archive-push "%p"',
    );
    assert.equal(archiveCommand(undefined, 'db'), 'true');
    assert.equal(
      restoreCommand('/c.conf', 'db', '/new dir'),
      `pgbackrest --config=/c.conf --pg1-path='/new dir' --stanza=db archive-get %f "%p"`,
    );
  });
});

describe('pgBackRest info', () => {
  it('reads labels, LSNs, the timeline and sizes, and starts the window a second after the oldest stop', () => {
    const info = parseInfo(INFO, 'db');
    assert.equal(info.backups.length, 1);
    const b = info.backups[0]!;
    assert.deepEqual(
      [b.label, b.type, b.timeline, b.startLsn, b.stopLsn, b.name, b.repoSizeBytes],
      ['20261130-131833F', 'full', 1, '0/2000028', '0/3000050', 'first', 2821650],
    );
    assert.equal(b.stoppedAt, '2026-11-30T13:18:35.000Z');
    assert.deepEqual(earliestRecoverable(info), { repo1: '2026-11-30T13:18:36.000Z' });
    assert.equal(info.repos[0]!.archiveMax, '000000020000000000000009');
    const [e] = physicalEntries(info, { repo1: '/state/pgbackrest' });
    assert.deepEqual(
      [e!.kind, e!.name, e!.file, e!.sha256, e!.verified],
      ['physical', '20261130-131833F', '/state/pgbackrest/backup/db/20261130-131833F', null, true],
    );
  });
});

describe('point-in-time targets', () => {
  it('reads ISO 8601 times with and without an offset, and refuses what is not a real time', () => {
    assert.equal(parseTime('2026-11-30 14:03:00+01:00').toISOString(), '2026-11-30T13:03:00.000Z');
    assert.equal(parseTime('2026-11-30T14:03:00.250Z').toISOString(), '2026-11-30T14:03:00.250Z');
    assert.equal(parseTime('2026-11-30 14:03').getMinutes(), 3);
    for (const bad of ['yesterday', '2026-02-31 10:00:00Z', '2026-11-30 25:00Z', '2026-11-30'])
      assert.throws(
        () => parseTime(bad),
        (e: unknown) => e instanceof OpsError && e.exitCode === 2,
        bad,
      );
  });

  it('needs exactly one of --time, --lsn and --latest, and a well-formed LSN', () => {
    assert.throws(
      () => parseTarget({}),
      (e: unknown) => e instanceof OpsError && e.exitCode === 2,
    );
    assert.throws(
      () => parseTarget({ latest: true, lsn: '0/1' }),
      (e: unknown) => e instanceof OpsError && e.exitCode === 2,
    );
    assert.throws(() => parseTarget({ lsn: 'G/1' }), /not a WAL position/);
    assert.deepEqual(parseTarget({ lsn: '0/3a' }), { kind: 'lsn', lsn: '0/3A' });
  });

  it('names the WAL segment of an LSN and reads the first timestamp pg_waldump shows', () => {
    assert.equal(segmentOf(2, '0/40185D8'), '000000020000000000000004');
    assert.equal(segmentOf(1, '1/FF000000'), '0000000100000001000000FF');
    const dump = [
      'rmgr: XLOG len (rec/tot): 114/114, tx: 0, lsn: 0/040185D8, prev 0/04018590, desc: CHECKPOINT_SHUTDOWN redo 0/40185D8; tli 2',
      'rmgr: XLOG len (rec/tot): 34/34, tx: 0, lsn: 0/05000028, prev 0/04018590, desc: END_OF_RECOVERY tli 3; prev tli 2; time 2026-11-30 13:18:51.834186 UTC',
    ].join('\n');
    assert.equal(firstTimestamp(dump)?.toISOString(), '2026-11-30T13:18:51.834Z');
    assert.equal(
      firstTimestamp('desc: COMMIT 2026-11-30 13:18:42.326090 UTC; inval msgs')?.toISOString(),
      '2026-11-30T13:18:42.326Z',
    );
  });

  const history3 = parseHistoryFile(
    3,
    '1\t0/5000000\tbefore 2026-01-01 00:01:00+00\n2\t0/6000000\tno recovery target specified\n',
  );

  it('reads a history file as the switches of each timeline', () => {
    assert.deepEqual(history3, [
      { timeline: 2, parent: 1, switchLsn: '0/5000000' },
      { timeline: 3, parent: 2, switchLsn: '0/6000000' },
    ]);
  });

  it('keeps a time before a later timeline began on the old timeline, pinning it as current', () => {
    const backups = [
      backup({ label: 'old', timeline: 1 }),
      backup({
        label: 'new',
        timeline: 3,
        stoppedAt: '2026-01-01T01:00:10.000Z',
        startLsn: '0/7000028',
        stopLsn: '0/7000100',
      }),
    ];
    const starts = new Map<number, Date | null | undefined>([
      [2, null], // a restored copy that never archived
      [3, new Date('2026-01-01T00:30:00Z')],
    ]);
    const at = (iso: string) =>
      planRestore({ kind: 'time', at: new Date(iso), iso }, backups, 3, history3, starts);
    const early = at('2026-01-01T00:10:00Z');
    assert.deepEqual([early.backup.label, early.timeline, early.targetTimeline], ['old', 1, 'current']);
    const mid = at('2026-01-01T00:40:00Z');
    assert.deepEqual([mid.timeline, mid.targetTimeline], [3, '3']);
    assert.equal(mid.backup.label, 'old', 'the new full backup stopped after the target');
    const late = at('2026-01-01T02:00:00Z');
    assert.deepEqual([late.backup.label, late.targetTimeline], ['new', 'current']);
  });

  it("follows the running primary's timeline, not a newer one an interrupted restore left in the archive", () => {
    // Timeline 2 forked from 1 at 0/5000000 (a restore's copy, archived, then abandoned): the primary
    // still writes timeline 1, so a position after the fork is on timeline 1.
    const orphan = parseHistoryFile(2, '1\t0/5000000\tno recovery target specified\n');
    const backups = [backup({ label: 'old', timeline: 1 })];
    const starts = new Map<number, Date | null | undefined>([[2, new Date('2026-01-01T00:30:00Z')]]);
    const target = { kind: 'lsn', lsn: '0/8013C80' } as const;
    assert.equal(planRestore(target, backups, 2, orphan, starts).timeline, 2, 'without the live timeline');
    const live = planRestore(target, backups, 2, orphan, starts, 1);
    assert.deepEqual([live.timeline, live.targetTimeline], [1, 'current']);
  });

  it('refuses a target before the oldest backup with exit 3, naming where the window starts', () => {
    assert.throws(
      () =>
        planRestore(
          { kind: 'time', at: new Date('2025-12-31T00:00:00Z'), iso: '2025-12-31T00:00:00.000Z' },
          [backup({})],
          1,
          [],
          new Map(),
        ),
      (e: unknown) =>
        e instanceof OpsError &&
        e.exitCode === 3 &&
        /window, which starts at 2026-01-01T00:00:11.000Z/.test(e.message),
    );
  });
});

describe('archive health in status', () => {
  const row = {
    last_archived_time: '2026-01-01T00:00:00Z',
    last_failed_time: null,
    failed_count: 0,
    last_archived_wal: '000000010000000000000003',
    last_failed_wal: null,
    ready: 0,
    mode: 'on',
    command: 'pgbackrest --config=x archive-push "%p"',
    timeout: '1min',
    earliest: '2025-12-31T00:00:00Z',
  };

  it('reports the window and the archive, and nothing without an archive', () => {
    assert.deepEqual(pitrStatus(row).recoverability, {
      earliest: '2025-12-31T00:00:00.000Z',
      latest: '2026-01-01T00:00:00.000Z',
    });
    assert.deepEqual(pitrStatus({ ...row, command: 'true' }), { recoverability: null, archive: null });
    assert.equal(timeoutSeconds('1min'), 60);
  });

  it('warns when archiving fails, when segments pile up, and when no physical backup exists', () => {
    const failing = pitrStatus({
      ...row,
      last_failed_time: '2026-01-01T00:05:00Z',
      failed_count: 7,
      last_failed_wal: '000000010000000000000004',
      ready: 9,
    });
    const w = pitrWarnings(failing, new Date('2026-01-01T00:06:00Z'));
    assert.match(w[0]!, /^CRITICAL: WAL archiving fails .*7 failures/);
    assert.match(w[1]!, /9 WAL segments wait to be archived/);
    assert.deepEqual(pitrWarnings(pitrStatus(row), new Date('2026-01-01T00:01:00Z')), []);
    assert.match(
      pitrWarnings(pitrStatus({ ...row, earliest: null }), new Date())[0]!,
      /no physical backup yet/,
    );
  });
});

describe("pgBackRest's messages", () => {
  it('keeps an error with its continuation lines, so the cause (a missing file, a refused connection) is in the message', () => {
    const stderr = [
      "P00  ERROR: [055]: unable to load info file '/r/backup/db/backup.info' or '/r/backup/db/backup.info.copy':",
      "       FileMissingError: unable to open missing file '/r/backup/db/backup.info' for read",
      'P00   INFO: backup command end: aborted with exception [055]',
    ].join('\n');
    assert.match(pgbackrestMessage(stderr), /\[055\].*FileMissingError: unable to open missing file/);
    assert.doesNotMatch(pgbackrestMessage(stderr), /command end/);
    assert.equal(pgbackrestMessage('', 'a\nb\nc\nd'), 'b c d');
  });
});
