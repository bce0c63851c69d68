/**
 * The snapshot command end to end: real PostgreSQL for backup mode, and an in-memory stand-in for
 * the Kubernetes VolumeSnapshot API (no API server can run here) that behaves like one: names are
 * unique, the snapshot is cut a poll later and becomes ready a poll after that.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadAgentConfig } from '../../src/core/config/load.js';
import type { OpsError } from '../../src/core/errors.js';
import type { Output } from '../../src/core/output.js';
import { buildVolumeSnapshot } from '../../src/core/snapshot/build.js';
import {
  ANNOTATION_CONSISTENCY,
  ANNOTATION_START_LSN,
  ANNOTATION_STOP_LSN,
  KubeApiFailure,
  type SnapshotApi,
  type VolumeSnapshot,
} from '../../src/core/snapshot/model.js';
import { pgBackupModeSession, runSnapshot, type SnapshotDeps } from '../../src/runtime/snapshot/run.js';
import { createLogger } from '../../src/runtime/log.js';
import { cleanupAll } from '../support/cleanup.js';
import { startPostgres, TEST_PASSWORD, type PgServer } from '../support/postgres.js';

after(cleanupAll);

const release = 'pyairtable-stack';
const pvc = 'postgres-storage-pyairtable-stack-postgres-0';

class FakeSnapshotApi implements SnapshotApi {
  readonly namespace = 'pyairtable';
  readonly objects = new Map<string, VolumeSnapshot>();
  private polls = new Map<string, number>();
  failWith: { message: string } | undefined;
  forbidCreate = false;
  onCreate: (s: VolumeSnapshot) => Promise<void> = async () => undefined;
  deleted: string[] = [];

  async create(s: VolumeSnapshot) {
    if (this.forbidCreate)
      throw new KubeApiFailure(
        403,
        'Forbidden',
        'volumesnapshots is forbidden: User "system:serviceaccount:pyairtable:snap" cannot create resource',
      );
    if (this.objects.has(s.metadata.name)) throw new KubeApiFailure(409, 'AlreadyExists', 'already exists');
    const obj: VolumeSnapshot = structuredClone(s);
    obj.metadata.creationTimestamp = new Date().toISOString();
    this.objects.set(obj.metadata.name, obj);
    await this.onCreate(obj);
    return structuredClone(obj);
  }
  async get(name: string) {
    const obj = this.objects.get(name);
    if (!obj) return null;
    const n = (this.polls.get(name) ?? 0) + 1;
    this.polls.set(name, n);
    if (!obj.status?.readyToUse && !obj.status?.error) {
      if (this.failWith)
        obj.status = { readyToUse: false, error: { ...this.failWith, time: new Date().toISOString() } };
      else if (n === 1) obj.status = { readyToUse: false, creationTime: new Date().toISOString() };
      else obj.status = { ...obj.status, readyToUse: true, restoreSize: '1Gi' };
    }
    return structuredClone(obj);
  }
  async list(selector: string) {
    const wanted = selector.split(',').map((kv) => kv.split('='));
    return [...this.objects.values()]
      .filter((o) => wanted.every(([k, v]) => o.metadata.labels?.[k!] === v))
      .map((o) => structuredClone(o));
  }
  async delete(name: string) {
    this.objects.delete(name);
    this.deleted.push(name);
  }
  async annotate(name: string, annotations: Record<string, string>) {
    const o = this.objects.get(name);
    if (!o) throw new KubeApiFailure(404, 'NotFound', name);
    o.metadata.annotations = { ...o.metadata.annotations, ...annotations };
  }
  seed(name: string, day: number, ours = true) {
    const s = buildVolumeSnapshot({ name, namespace: this.namespace, release, pvc });
    if (!ours) s.metadata.labels = {};
    s.metadata.creationTimestamp = new Date(Date.UTC(2026, 0, day)).toISOString();
    s.status = { readyToUse: true, creationTime: s.metadata.creationTimestamp, restoreSize: '1Gi' };
    this.objects.set(name, s);
  }
}

function recorder(): Output & { results: unknown[] } {
  const results: unknown[] = [];
  return { results, line: () => undefined, result: (d) => void results.push(d), raw: () => undefined };
}

let server: PgServer;
before(async () => {
  server = await startPostgres({ name: 'snap' });
});

function setup(extra: Record<string, string> = {}) {
  const env = loadAgentConfig({
    PGOPS_HOST: '127.0.0.1',
    PGOPS_PORT: String(server.port),
    PGOPS_SUPERUSER_PASSWORD: TEST_PASSWORD,
    PGOPS_NAMESPACE: 'pyairtable',
    PGOPS_SNAPSHOT_RETENTION_COUNT: '2',
    PGOPS_SNAPSHOT_CLASS: 'csi-pd-snapclass',
    ...extra,
  });
  const api = new FakeSnapshotApi();
  const out = recorder();
  let opened = 0;
  const deps: SnapshotDeps = {
    api,
    clock: { now: () => Date.now(), sleep: async () => undefined },
    now: () => new Date(),
    log: createLogger('json', {}, () => undefined),
    out,
    openSession: async () => {
      opened++;
      return pgBackupModeSession(env)();
    },
    pollMs: 1,
  };
  return { env, api, out, deps, opened: () => opened };
}

async function sessionsLeft(): Promise<number> {
  const [row] = await server.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'postgres-agent snapshot'",
  );
  return Number(row!.n);
}

describe('postgres-agent snapshot', () => {
  it('cuts the snapshot inside backup mode, records the LSNs, and keeps only the newest of ours', async () => {
    const { env, api, deps } = setup();
    api.seed('pyairtable-stack-postgres-20260101-030000', 1);
    api.seed('pyairtable-stack-postgres-20260102-030000', 2);
    api.seed('pyairtable-stack-postgres-20260103-030000', 3);
    api.seed('made-by-hand', 0, false);
    let redoAtCut = '';
    api.onCreate = async () => {
      const [row] = await server.query<{ redo: string }>(
        'SELECT redo_lsn::text AS redo FROM pg_control_checkpoint()',
      );
      redoAtCut = row!.redo;
    };
    const r = await runSnapshot({ name: 'emergency-snapshot' }, env, deps);

    const created = api.objects.get('emergency-snapshot')!;
    assert.equal(created.spec.volumeSnapshotClassName, 'csi-pd-snapclass');
    assert.equal(created.spec.source.persistentVolumeClaimName, pvc);
    assert.equal(created.metadata.labels!['app.kubernetes.io/managed-by'], 'postgres-agent');
    assert.equal(created.metadata.annotations![ANNOTATION_CONSISTENCY], 'backup-mode');
    // The checkpoint of pg_backup_start happened before the cut: its redo point is the start LSN.
    assert.equal(created.metadata.annotations![ANNOTATION_START_LSN], redoAtCut);
    const [cmp] = await server.query<{ ok: boolean }>('SELECT $2::pg_lsn >= $1::pg_lsn AS ok', [
      created.metadata.annotations![ANNOTATION_START_LSN],
      created.metadata.annotations![ANNOTATION_STOP_LSN],
    ]);
    assert.equal(cmp!.ok, true);
    assert.equal(r.readyToUse, true);
    assert.equal(r.restoreSize, '1Gi');
    assert.deepEqual(api.deleted.sort(), [
      'pyairtable-stack-postgres-20260101-030000',
      'pyairtable-stack-postgres-20260102-030000',
    ]);
    assert.ok(api.objects.has('made-by-hand'), 'a snapshot without our labels is never deleted');
    assert.ok(api.objects.has('pyairtable-stack-postgres-20260103-030000'));
    assert.equal(await sessionsLeft(), 0);
  });

  it('fails with the driver message and deletes nothing when the new snapshot fails', async () => {
    const { env, api, deps } = setup();
    api.seed('old-1', 1);
    api.seed('old-2', 2);
    api.seed('old-3', 3);
    api.failWith = { message: 'Failed to create snapshot: quota exceeded for SNAPSHOTS' };
    await assert.rejects(
      runSnapshot({}, env, deps),
      (e: OpsError) => e.exitCode === 1 && e.code === 'E_SNAPSHOT_FAILED' && /quota exceeded/.test(e.message),
    );
    assert.deepEqual(api.deleted, []);
    assert.equal(await sessionsLeft(), 0, 'backup mode session is closed after a failure');
  });

  it('explains a forbidden create with the Role to fix, and leaves no backup-mode session behind', async () => {
    const { env, api, deps } = setup();
    api.forbidCreate = true;
    await assert.rejects(
      runSnapshot({}, env, deps),
      (e: OpsError) =>
        e.exitCode === 1 &&
        e.code === 'E_KUBE_FORBIDDEN' &&
        /Role in namespace pyairtable/.test(e.hint ?? ''),
    );
    assert.equal(await sessionsLeft(), 0);
  });

  it('refuses a name that is already taken with exit 2', async () => {
    const { env, api, deps } = setup();
    api.seed('emergency-snapshot', 1);
    await assert.rejects(
      runSnapshot({ name: 'emergency-snapshot' }, env, deps),
      (e: OpsError) => e.exitCode === 2,
    );
    assert.equal(
      api.objects.get('emergency-snapshot')!.metadata.annotations?.[ANNOTATION_START_LSN],
      undefined,
    );
  });

  it('prints the plan with --dry-run without creating, deleting or connecting to PostgreSQL', async () => {
    const { env, api, deps, out, opened } = setup({ PGOPS_SNAPSHOT_RETENTION_COUNT: '1' });
    api.seed('old-1', 1);
    api.seed('old-2', 2);
    const r = await runSnapshot({ dryRun: true, output: 'json' }, env, deps);
    assert.deepEqual(r.retention.wouldDelete.sort(), ['old-1', 'old-2']);
    assert.equal(api.objects.size, 2);
    assert.deepEqual(api.deleted, []);
    assert.equal(opened(), 0);
    assert.equal(out.results.length, 1);
  });

  it('fails with a clear message when the primary cannot be reached, before touching Kubernetes', async () => {
    const { env, api, deps } = setup({ PGOPS_SUPERUSER_PASSWORD: 'wrong-password' });
    await assert.rejects(
      runSnapshot({}, env, deps),
      (e: OpsError) => e.exitCode === 1 && /connecting to the primary at 127\.0\.0\.1/.test(e.message),
    );
    assert.equal(api.objects.size, 0);
  });
});
