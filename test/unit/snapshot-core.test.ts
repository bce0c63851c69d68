import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { OpsError } from '../../src/core/errors.js';
import { buildVolumeSnapshot } from '../../src/core/snapshot/build.js';
import { classifyKubeError } from '../../src/core/snapshot/errors.js';
import { listSnapshots } from '../../src/core/snapshot/list.js';
import {
  isOurs,
  KubeApiFailure,
  ourSelector,
  pvcLabelValue,
  type SnapshotApi,
  type VolumeSnapshot,
} from '../../src/core/snapshot/model.js';
import {
  checkSessionOnLeader,
  leaderFromEndpoints,
  memberPvc,
  sameClusterPvc,
} from '../../src/core/snapshot/leader.js';
import { defaultSnapshotName, validateSnapshotName } from '../../src/core/snapshot/naming.js';
import { planSnapshotRetention } from '../../src/core/snapshot/retention.js';
import { waitForSnapshot, type Clock } from '../../src/core/snapshot/wait.js';
import { cleanupAll } from '../support/cleanup.js';

after(cleanupAll);

const release = 'pyairtable-stack';
const pvc = 'postgres-storage-pyairtable-stack-postgres-0';

function snap(
  name: string,
  day: number,
  status: VolumeSnapshot['status'] = { readyToUse: true },
  labels = true,
): VolumeSnapshot {
  const s = buildVolumeSnapshot({ name, namespace: 'ns', release, pvc });
  if (!labels) s.metadata.labels = {};
  s.status = { creationTime: new Date(Date.UTC(2026, 0, day)).toISOString(), ...status };
  return s;
}

function fakeClock(): Clock & { slept: number } {
  let t = 0;
  return {
    slept: 0,
    now: () => t,
    async sleep(ms) {
      t += ms;
      this.slept += ms;
    },
  };
}

function sequenceApi(states: (VolumeSnapshot | null | Error)[]): SnapshotApi {
  let i = 0;
  const next = () => states[Math.min(i++, states.length - 1)];
  return {
    namespace: 'ns',
    create: async (s) => s,
    async get() {
      const s = next();
      if (s instanceof Error) throw s;
      return s ?? null;
    },
    list: async () => [],
    delete: async () => undefined,
    annotate: async () => undefined,
  };
}

describe('snapshot naming', () => {
  it('names a snapshot after the release and the UTC time, as a valid DNS-1123 name', () => {
    const n = defaultSnapshotName(release, new Date(Date.UTC(2026, 10, 25, 3, 0, 7)));
    assert.equal(n, 'pyairtable-stack-postgres-20261125-030007');
    assert.equal(validateSnapshotName(n), n);
  });

  it('shortens a long release name so that the snapshot name stays within 63 characters', () => {
    const n = defaultSnapshotName('a'.repeat(60), new Date(0));
    assert.ok(n.length <= 63, n);
    assert.match(n, /^a+-postgres-19700101-000000$/);
  });

  it('rejects an invalid name with exit 2 and suggests a valid one', () => {
    assert.throws(
      () => validateSnapshotName('Emergency_Snapshot'),
      (e: OpsError) => e.exitCode === 2 && e.hint === 'A valid name: emergency-snapshot',
    );
    assert.equal(validateSnapshotName('emergency-snapshot'), 'emergency-snapshot');
  });
});

describe('snapshot labels', () => {
  it('keeps a long PVC name within the 63-character label limit and still recognises the snapshot as ours', () => {
    const long = `postgres-storage-${'r'.repeat(50)}-postgres-0`;
    const v = pvcLabelValue(long);
    assert.ok(v.length <= 63 && /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/.test(v), v);
    assert.notEqual(pvcLabelValue(`${long}x`), v);
    assert.equal(pvcLabelValue(pvc), pvc);
    const s = buildVolumeSnapshot({ name: 'x', namespace: 'ns', release, pvc: long });
    assert.equal(isOurs(s, release, long), true);
    assert.equal(isOurs(s, release, pvc), false);
  });
});

describe('snapshot retention', () => {
  it('keeps the newest N ready snapshots of ours and deletes the older ones', () => {
    const all = [snap('s1', 1), snap('s2', 2), snap('s3', 3), snap('s4', 4)];
    const plan = planSnapshotRetention(all, { release, pvc, keepCount: 2, justTaken: 's4' });
    assert.deepEqual(plan.keep, ['s4', 's3']);
    assert.deepEqual(
      plan.delete.map((d) => d.name),
      ['s2', 's1'],
    );
  });

  it('never deletes a snapshot without our labels, of another release, or of another PVC', () => {
    const foreign = snap('manual', 1, { readyToUse: true }, false);
    const otherRelease = snap('other', 1);
    otherRelease.metadata.labels!['app.kubernetes.io/instance'] = 'other-release';
    const otherPvc = buildVolumeSnapshot({ name: 'otherpvc', namespace: 'ns', release, pvc: 'data-x' });
    otherPvc.status = { readyToUse: true, creationTime: new Date(0).toISOString() };
    const plan = planSnapshotRetention([foreign, otherRelease, otherPvc, snap('new', 9)], {
      release,
      pvc,
      keepCount: 1,
      justTaken: 'new',
    });
    assert.deepEqual(plan.delete, []);
    assert.deepEqual(plan.keep, ['new']);
  });

  it('always keeps the snapshot just taken even if its clock says it is older', () => {
    const plan = planSnapshotRetention([snap('a', 5), snap('b', 6), snap('just', 1)], {
      release,
      pvc,
      keepCount: 1,
      justTaken: 'just',
    });
    assert.deepEqual(plan.keep, ['just']);
    assert.deepEqual(plan.delete.map((d) => d.name).sort(), ['a', 'b']);
  });

  it('leaves snapshots still being cut alone and removes our failed ones once a good one exists', () => {
    const plan = planSnapshotRetention(
      [
        snap('ok', 3),
        snap('pending', 2, { readyToUse: false }),
        snap('broken', 1, { readyToUse: false, error: { message: 'boom' } }),
      ],
      { release, pvc, keepCount: 5, justTaken: 'ok' },
    );
    assert.deepEqual(plan.skipped, ['pending']);
    assert.deepEqual(plan.delete, [
      { name: 'broken', createdAt: snap('broken', 1).status!.creationTime, reason: 'failed' },
    ]);
  });
});

describe('snapshots of a cluster whose leader moves', () => {
  const ofMember = (name: string, day: number, member: string) => {
    const s = buildVolumeSnapshot({ name, namespace: 'ns', release, pvc: memberPvc(member) });
    s.status = { readyToUse: true, creationTime: new Date(Date.UTC(2026, 0, day)).toISOString() };
    return s;
  };

  it("counts every member's volume of the same StatefulSet in retention, and no other PVC", () => {
    const group = sameClusterPvc('pyairtable-stack-postgres-1');
    const plan = planSnapshotRetention(
      [
        ofMember('p0-old', 1, 'pyairtable-stack-postgres-0'),
        ofMember('p0', 2, 'pyairtable-stack-postgres-0'),
        ofMember('p1-new', 3, 'pyairtable-stack-postgres-1'),
        // Another release's StatefulSet whose name starts alike, and a PVC that is not a member's.
        ofMember('other', 0, 'pyairtable-stack-postgres-replica-0'),
        ofMember('other2', 0, 'pyairtable-stack-postgres-x'),
      ],
      {
        release,
        pvc: memberPvc('pyairtable-stack-postgres-1'),
        keepCount: 2,
        justTaken: 'p1-new',
        samePvcGroup: group,
      },
    );
    assert.deepEqual(plan.keep, ['p1-new', 'p0']);
    assert.deepEqual(
      plan.delete.map((d) => d.name),
      ['p0-old'],
    );
  });

  it('reads the leader and its address from the Endpoints Patroni writes', () => {
    assert.deepEqual(
      leaderFromEndpoints({
        metadata: { annotations: { leader: 'pyairtable-stack-postgres-2', ttl: '30' } },
        subsets: [{ addresses: [{ ip: '10.8.0.14' }] }],
      }),
      { member: 'pyairtable-stack-postgres-2', ip: '10.8.0.14' },
    );
    assert.equal(leaderFromEndpoints({ metadata: { annotations: {} }, subsets: [] }), null);
    assert.equal(leaderFromEndpoints(null), null);
  });

  it('refuses a session that reached a replica or another address than the leader record', () => {
    const rec = { member: 'pyairtable-stack-postgres-1', ip: '10.8.0.13' };
    const ctx = { scope: 'pyairtable-stack-postgres', host: 'pyairtable-stack-postgres' };
    assert.doesNotThrow(() => checkSessionOnLeader(rec, { address: '10.8.0.13', inRecovery: false }, ctx));
    assert.throws(
      () => checkSessionOnLeader(rec, { address: '10.8.0.12', inRecovery: false }, ctx),
      /E_LEADER_MOVED|nothing was snapshotted/,
    );
    assert.throws(
      () => checkSessionOnLeader(rec, { address: '10.8.0.13', inRecovery: true }, ctx),
      /is a replica/,
    );
  });
});

describe('waiting for a snapshot', () => {
  it('returns once readyToUse turns true, polling with the injected clock', async () => {
    const clock = fakeClock();
    const pending = snap('x', 1, { readyToUse: false });
    const ready = snap('x', 1, { readyToUse: true, restoreSize: '5Gi' });
    const s = await waitForSnapshot(sequenceApi([pending, pending, ready]), 'x', {
      timeoutMs: 60_000,
      pollMs: 1000,
      clock,
    });
    assert.equal(s.status?.restoreSize, '5Gi');
    assert.equal(clock.slept, 2000);
  });

  it('fails at once with the driver message when status.error is set', async () => {
    const failed = snap('x', 1, { readyToUse: false, error: { message: 'quota exceeded' } });
    await assert.rejects(
      waitForSnapshot(sequenceApi([failed]), 'x', { timeoutMs: 60_000, clock: fakeClock() }),
      (e: OpsError) =>
        e.code === 'E_SNAPSHOT_FAILED' &&
        /quota exceeded/.test(e.message) &&
        /kubectl describe volumesnapshot x/.test(e.hint ?? ''),
    );
  });

  it('gives up after the timeout with exit 1 and a hint to raise it', async () => {
    const pending = snap('x', 1, { readyToUse: false });
    await assert.rejects(
      waitForSnapshot(sequenceApi([pending]), 'x', { timeoutMs: 10_000, pollMs: 3000, clock: fakeClock() }),
      (e: OpsError) =>
        e.code === 'E_SNAPSHOT_TIMEOUT' &&
        e.exitCode === 1 &&
        /PGOPS_SNAPSHOT_TIMEOUT_SECONDS/.test(e.hint ?? ''),
    );
  });

  it('keeps polling through a transient API error but stops on a forbidden one', async () => {
    const ready = snap('x', 1);
    const s = await waitForSnapshot(
      sequenceApi([new KubeApiFailure(503, 'ServiceUnavailable', 'busy'), ready]),
      'x',
      {
        timeoutMs: 60_000,
        clock: fakeClock(),
      },
    );
    assert.equal(s.status?.readyToUse, true);
    await assert.rejects(
      waitForSnapshot(sequenceApi([new KubeApiFailure(403, 'Forbidden', 'no')]), 'x', {
        timeoutMs: 60_000,
        clock: fakeClock(),
      }),
      (e: OpsError) => e.code === 'E_KUBE_FORBIDDEN',
    );
  });

  it('fails when the snapshot disappears while waiting', async () => {
    await assert.rejects(
      waitForSnapshot(sequenceApi([null]), 'x', { timeoutMs: 60_000, clock: fakeClock() }),
      /disappeared/,
    );
  });
});

describe('Kubernetes error classification', () => {
  it('points a forbidden call at the Role and the verbs it needs', () => {
    const e = classifyKubeError(
      new KubeApiFailure(403, 'Forbidden', 'cannot create'),
      'creating VolumeSnapshot s',
      { namespace: 'pyairtable' },
    );
    assert.equal(e.exitCode, 1);
    assert.match(e.hint ?? '', /Role in namespace pyairtable .*create.*volumesnapshots/);
  });

  it('points a missing resource type at the snapshot CRDs, and a name clash at another name (exit 2)', () => {
    assert.match(
      classifyKubeError(new KubeApiFailure(404, 'NotFound', 'x'), 'd', { namespace: 'n' }).hint ?? '',
      /crd volumesnapshots/,
    );
    const clash = classifyKubeError(new KubeApiFailure(409, 'AlreadyExists', 'x'), 'd', { namespace: 'n' });
    assert.equal(clash.exitCode, 2);
    assert.match(clash.hint ?? '', /^Pick another name, or list them: kubectl get volumesnapshots -n n$/);
  });
});

describe('listing snapshots', () => {
  it('lists our snapshots newest first with name, createdAt, readyToUse, source and restoreSize', async () => {
    let selector = '';
    const api: SnapshotApi = {
      ...sequenceApi([]),
      list: async (sel) => {
        selector = sel;
        return [
          snap('old', 1, { readyToUse: true, restoreSize: '1Gi' }),
          snap('new', 2, { readyToUse: false }),
        ];
      },
    };
    const entries = await listSnapshots(api, release);
    assert.equal(selector, ourSelector(release));
    assert.deepEqual(
      entries.map((e) => [e.name, e.readyToUse, e.source, e.restoreSize]),
      [
        ['new', false, pvc, null],
        ['old', true, pvc, '1Gi'],
      ],
    );
  });
});
