import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { parseAgentOutput, parseJson } from '../../src/core/agent-output.js';
import { backupListEntrySchema, parseManifest, toListEntry } from '../../src/core/backup/manifest.js';
import type { OpsError } from '../../src/core/errors.js';
import { patroniClusterSchema, patroniSelfSchema } from '../../src/core/ha/patroni-answers.js';
import { promoteResultSchema } from '../../src/core/ha/promote-result.js';
import { haViewSchema } from '../../src/core/ha/view.js';
import { listLocalSnapshots } from '../../src/local/snapshots.js';
import { readAnyState, readState } from '../../src/local/state.js';
import { cleanupAll } from '../support/cleanup.js';
import { backupListEntry } from '../support/manifests.js';
import { tempDir } from '../support/tmp.js';

after(cleanupAll);

const SHA = '3f'.repeat(32);
const GSHA = '9c'.repeat(32);

/** Manifests as postgres-agent wrote them, byte for byte in shape (the first release onwards). */
const ON_DISK = {
  // The first release: custom format only, no `jobs`.
  first: `{
  "kind": "pyairtable-stack/postgres-backup",
  "version": 1,
  "name": "backup_20260101_020000",
  "file": "backup_20260101_020000.dump",
  "globalsFile": "backup_20260101_020000.globals.sql",
  "database": "pyairtable",
  "format": "custom",
  "compression": 6,
  "sizeBytes": 48213,
  "sha256": "${SHA}",
  "globalsSha256": "${GSHA}",
  "globalsIncludePasswords": false,
  "startedAt": "2026-01-01T02:00:00.412Z",
  "finishedAt": "2026-01-01T02:00:03.087Z",
  "durationSeconds": 2.675,
  "serverVersion": "15.10",
  "pgDumpVersion": "pg_dump (PostgreSQL) 15.10",
  "verified": true,
  "verifiedAt": "2026-01-01T02:00:02.950Z",
  "deepVerifiedAt": null,
  "tableRowCounts": { "public.records": 1200, "public.tables": 12 },
  "snapshotTimestamp": "2026-01-01T02:00:00.530Z",
  "snapshotId": "00000003-0000001A-1",
  "databaseOwner": "pyairtable",
  "databaseEncoding": "UTF8"
}
`,
  // A parallel backup (--jobs 4): a packed directory-format dump.
  parallel: `{
  "kind": "pyairtable-stack/postgres-backup",
  "version": 1,
  "name": "nightly",
  "file": "nightly.dump",
  "globalsFile": "nightly.globals.sql",
  "database": "pyairtable",
  "format": "directory",
  "jobs": 4,
  "compression": 6,
  "sizeBytes": 1048576,
  "sha256": "${SHA}",
  "globalsSha256": "${GSHA}",
  "globalsIncludePasswords": false,
  "startedAt": "2026-11-20T02:00:00.000Z",
  "finishedAt": "2026-11-20T02:01:10.000Z",
  "durationSeconds": 70,
  "serverVersion": "15.10",
  "pgDumpVersion": "pg_dump (PostgreSQL) 15.10",
  "verified": true,
  "verifiedAt": "2026-11-20T02:01:09.000Z",
  "deepVerifiedAt": "2026-11-20T02:03:00.000Z",
  "tableRowCounts": {},
  "snapshotTimestamp": "2026-11-20T02:00:00.100Z",
  "snapshotId": "00000004-00000002-1",
  "databaseOwner": "pyairtable",
  "databaseEncoding": "UTF8"
}
`,
};

describe('backup manifests already on disk', () => {
  it('parses a manifest of the first release, with its start time as the listed creation time', () => {
    const r = parseManifest(ON_DISK.first);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.manifest.name, 'backup_20260101_020000');
    assert.equal(r.manifest.format, 'custom');
    assert.equal(toListEntry(r.manifest, '/backups/postgres/x.dump').createdAt, '2026-01-01T02:00:00.412Z');
    assert.deepEqual(r.manifest.tableRowCounts, { 'public.records': 1200, 'public.tables': 12 });
  });

  it("parses a parallel backup's manifest with its format and jobs", () => {
    const r = parseManifest(ON_DISK.parallel);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.manifest.format, 'directory');
    assert.equal(r.manifest.jobs, 4);
    assert.equal(r.manifest.deepVerifiedAt, '2026-11-20T02:03:00.000Z');
  });

  it('parses a manifest a later verification marked damaged, keeping why', () => {
    const m = JSON.parse(ON_DISK.first);
    const text = JSON.stringify({
      ...m,
      verified: false,
      verifyFailedAt: '2026-01-02T00:00:00.000Z',
      verifyError: 'sha256 mismatch',
    });
    const r = parseManifest(text);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.manifest.verified, false);
    assert.equal(r.manifest.verifyError, 'sha256 mismatch');
  });

  it("keeps a newer agent's unknown fields, so rewriting the manifest does not drop them", () => {
    const r = parseManifest(JSON.stringify({ ...JSON.parse(ON_DISK.first), checksumAlgorithm: 'sha256' }));
    assert.ok(r.ok);
    assert.equal(JSON.parse(JSON.stringify(r.manifest)).checksumAlgorithm, 'sha256');
  });

  it('refuses a manifest of ours without the fields a restore needs, naming them', () => {
    const { sha256: _s, finishedAt: _f, ...rest } = JSON.parse(ON_DISK.first);
    const r = parseManifest(JSON.stringify(rest));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /sha256: .*finishedAt: /);
  });
});

describe('list-backups rows', () => {
  const row = {
    name: 'b',
    file: '/backups/postgres/b.dump',
    sizeBytes: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    sha256: SHA,
    verified: true,
    verifiedAt: '2026-01-01T00:00:01.000Z',
    deepVerifiedAt: null,
    database: 'pyairtable',
  };

  it('reads a row of an agent older than damaged-backup flags as intact', () => {
    const r = backupListEntrySchema.parse(row);
    assert.equal(r.damaged, false);
    assert.equal(r.damagedReason, null);
  });

  it("accepts a newer agent's extra fields and leaves them out", () => {
    const r = backupListEntrySchema.parse({ ...row, damaged: false, damagedReason: null, tier: 'cold' });
    assert.equal('tier' in r, false);
  });
});

describe('results read back from postgres-agent', () => {
  it('names the agent command and the missing field, and says to use matching versions', () => {
    const row = backupListEntry('b');
    const { sizeBytes: _gone, ...older } = row;
    assert.throws(
      () => parseAgentOutput('list-backups', z.array(backupListEntrySchema), [row, older]),
      (e: OpsError) => {
        assert.equal(e.code, 'E_AGENT_OUTPUT');
        assert.equal(e.exitCode, 1);
        assert.match(
          e.message,
          /^postgres-agent list-backups succeeded, but its JSON result does not have what this postgres-ops reads: 1\.sizeBytes: /,
        );
        assert.deepEqual(e.meta.fields, ['1.sizeBytes']);
        assert.match(e.hint ?? '', /same version/);
        return true;
      },
    );
  });

  it('accepts fields it does not know from a newer agent', () => {
    const r = parseAgentOutput('promote', promoteResultSchema, {
      promoted: true,
      candidate: 'postgres-1',
      action: 'switchover',
      previousPrimary: 'postgres-0',
      missingBytes: 0,
      warnings: [],
      timeline: 3,
      lsn: '0/3000060',
      message: 'postgres-1 is the primary',
      durationSeconds: 4.2,
    });
    assert.equal(r.action, 'switchover');
  });

  it('reports a result that is not JSON at all as missing', () => {
    assert.throws(
      () => parseAgentOutput('ha', haViewSchema, parseJson('Traceback (most recent call last):')),
      /postgres-agent ha succeeded, but its JSON result does not have what this postgres-ops reads: \(result\): /,
    );
  });
});

describe("local mode's state.json", () => {
  const v2 = {
    version: 2,
    release: 'pyairtable-stack',
    createdAt: '2026-11-30T10:00:00.000Z',
    primary: 'postgres-0',
    instances: [
      { name: 'postgres-0', role: 'primary', port: 55432, healthPort: 55433, restApiPort: 55434 },
      { name: 'postgres-1', role: 'replica', port: 55435, healthPort: 55436, restApiPort: 55437 },
    ],
    exporterPort: 55438,
    etcd: { clientPort: 55439, peerPort: 55440 },
    failover: 'automatic',
    synchronous: false,
    pitr: { enabled: true },
  };
  // Written before the members ran under Patroni: no REST API ports, no etcd.
  const v1 = {
    version: 1,
    release: 'pyairtable-stack',
    createdAt: '2026-11-01T10:00:00.000Z',
    primary: 'postgres-0',
    instances: [{ name: 'postgres-0', role: 'primary', port: 55432, healthPort: 55433 }],
    exporterPort: 55438,
  };
  const write = (state: unknown) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), typeof state === 'string' ? state : JSON.stringify(state));
    return dir;
  };

  it('reads the current layout, keeping fields a newer postgres-ops added', () => {
    const s = readState(write({ ...v2, tracing: { enabled: false } }));
    assert.equal(s.instances[1]!.restApiPort, 55437);
    assert.deepEqual((s as Record<string, unknown>).tracing, { enabled: false });
  });

  it('reads a state file from before Patroni, and asks for local up to move it under Patroni', () => {
    const dir = write(v1);
    const s = readAnyState(dir);
    assert.equal(s.version, 1);
    assert.equal(s.instances[0]!.port, 55432);
    assert.throws(
      () => readState(dir),
      (e: OpsError) => e.code === 'E_STATE_UPGRADE' && /local up/.test(e.hint ?? ''),
    );
  });

  it('refuses a state file that lacks what it needs, naming the field (exit 2)', () => {
    const { etcd: _gone, ...broken } = v2;
    for (const [text, field] of [
      [JSON.stringify(broken), /etcd: /],
      [JSON.stringify({ ...v2, version: 3 }), /version: /],
      ['{"version": 2,', /JSON/],
    ] as const)
      assert.throws(
        () => readAnyState(write(text)),
        (e: OpsError) =>
          e.code === 'E_BAD_LOCAL_STATE' &&
          e.exitCode === 2 &&
          /is not a postgres-ops state file: /.test(e.message) &&
          field.test(e.message),
      );
  });
});

describe('local snapshot descriptors', () => {
  const descriptor = {
    kind: 'pyairtable-stack/local-snapshot',
    version: 1,
    name: 'before-upgrade',
    createdAt: '2026-11-30T10:00:00.000Z',
    source: '127.0.0.1:55432',
    lsn: '0/3000028',
    endLsn: '0/3000100',
    timeline: 1,
    dir: '/state/snapshots/before-upgrade',
  };

  it('lists a snapshot with its descriptor and its copy, and nothing without a valid descriptor', () => {
    const state = tempDir();
    const root = join(state, 'snapshots');
    for (const n of ['before-upgrade', 'half', 'foreign']) mkdirSync(join(root, n), { recursive: true });
    writeFileSync(join(root, 'before-upgrade.json'), JSON.stringify(descriptor));
    writeFileSync(join(root, 'half.json'), JSON.stringify({ ...descriptor, name: 'half', lsn: undefined }));
    writeFileSync(join(root, 'foreign.json'), JSON.stringify({ ...descriptor, kind: 'x', name: 'foreign' }));
    const list = listLocalSnapshots(state);
    assert.deepEqual(
      list.map((s) => [s.name, s.dir]),
      [['before-upgrade', join(root, 'before-upgrade')]],
    );
  });
});

describe("Patroni's answers", () => {
  it('reads a /patroni answer with fields of unexpected types as a sign of life, those fields absent', () => {
    const self = patroniSelfSchema.parse({
      state: 'starting',
      role: 'replica',
      timeline: null,
      xlog: { received_location: null, replayed_location: null },
      patroni: { version: '3.0.2', scope: 'pyairtable-stack-postgres' },
    });
    assert.equal(self.state, 'starting');
    assert.equal(self.timeline, undefined);
  });

  it('reads a /cluster member whose port comes as text without its port, and keeps its lag in words', () => {
    const c = patroniClusterSchema.parse({
      members: [{ name: 'postgres-1', role: 'replica', state: 'streaming', port: '5432', lag: 'unknown' }],
    });
    assert.equal(c.members[0]!.port, undefined);
    assert.equal(c.members[0]!.lag, 'unknown');
  });

  it('does not take an answer without a state for one', () => {
    assert.equal(patroniSelfSchema.safeParse({ role: 'replica' }).success, false);
  });
});
